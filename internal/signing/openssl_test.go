package signing

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSignOpenSSLRequest signs a CSR made by the openssl command line tool
// and checks the result both with x509.Verify and with openssl verify.
func TestSignOpenSSLRequest(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not on PATH, so no OpenSSL-made CSR can be tested")
	}
	dir := t.TempDir()
	csrPath := filepath.Join(dir, "req.csr")
	cmd := exec.Command(openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes",
		"-keyout", filepath.Join(dir, "req.key"), "-out", csrPath,
		"-subj", "/CN=openssl.example.com/O=TCS Test",
		"-addext", "subjectAltName=DNS:openssl.example.com,IP:127.0.0.1,email:ops@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	csrPEM, err := os.ReadFile(csrPath)
	if err != nil {
		t.Fatal(err)
	}

	// openssl verify uses the real clock, so this CA and certificate are
	// valid now rather than at testNow.
	now := time.Now()
	caKey := testKey(t, "ca-rsa-3072")
	caDER, err := SelfSignedCA(caKey, CAOptions{CommonName: "OpenSSL Test CA"}, now)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	der, err := Sign(ca, caKey, Request{
		CSR:    csrPEM,
		Usages: []string{"digital signature", "key encipherment", "server auth"},
	}, now)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}

	if cert.Subject.CommonName != "openssl.example.com" || len(cert.Subject.Organization) != 1 {
		t.Errorf("subject = %s", cert.Subject)
	}
	if len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal([]byte{127, 0, 0, 1}) {
		t.Errorf("IP addresses = %v, want [127.0.0.1]", cert.IPAddresses)
	}
	if len(cert.EmailAddresses) != 1 || cert.EmailAddresses[0] != "ops@example.com" {
		t.Errorf("email addresses = %v", cert.EmailAddresses)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "openssl.example.com", Roots: roots, CurrentTime: now}); err != nil {
		t.Errorf("Verify: %v", err)
	}

	caPath := filepath.Join(dir, "ca.pem")
	certPath := filepath.Join(dir, "cert.pem")
	writePEM(t, caPath, caDER)
	writePEM(t, certPath, der)
	out, err := exec.Command(openssl, "verify", "-CAfile", caPath, "-purpose", "sslserver", certPath).CombinedOutput()
	if err != nil {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
}

func writePEM(t *testing.T, path string, der []byte) {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
