package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/enclave/token/softhsmtest"
	"github.com/tcs-project/tcs/internal/keywrap"
)

var (
	wrapEnclaveOnce sync.Once
	wrapEnclaveKey  *rsa.PrivateKey
)

func wrapEnclave(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	wrapEnclaveOnce.Do(func() {
		var err error
		if wrapEnclaveKey, err = rsa.GenerateKey(rand.Reader, 3072); err != nil {
			panic(err)
		}
	})
	return wrapEnclaveKey
}

func writePEM(t *testing.T, dir, name string, blocks ...*pem.Block) string {
	t.Helper()
	var data []byte
	for _, b := range blocks {
		data = append(data, pem.EncodeToMemory(b)...)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runWrapCommand runs the wrap command as the command line would and
// returns its standard output.
func runWrapCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newWrapCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestWrapKeyFormats(t *testing.T) {
	enclave := wrapEnclave(t)
	dir := t.TempDir()
	spki, err := x509.MarshalPKIXPublicKey(&enclave.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPKIX := writePEM(t, dir, "enclave.pem", &pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	pubPKCS1 := writePEM(t, dir, "enclave-rsa.pem", &pem.Block{Type: "RSA PUBLIC KEY",
		Bytes: x509.MarshalPKCS1PublicKey(&enclave.PublicKey)})

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	// openssl ecparam -genkey writes the curve OID before the key.
	curveOID, err := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 132, 0, 34})
	if err != nil {
		t.Fatal(err)
	}

	tests := map[string]struct {
		pub, key string
		want     crypto.PrivateKey
	}{
		"pkcs1": {pubPKIX, writePEM(t, dir, "pkcs1.pem", &pem.Block{Type: "RSA PRIVATE KEY",
			Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), rsaKey},
		"sec1": {pubPKIX, writePEM(t, dir, "sec1.pem", &pem.Block{Type: "EC PRIVATE KEY",
			Bytes: sec1}), ecKey},
		"sec1 after parameters": {pubPKIX, writePEM(t, dir, "params.pem",
			&pem.Block{Type: "EC PARAMETERS", Bytes: curveOID},
			&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), ecKey},
		"pkcs8": {pubPKIX, writePEM(t, dir, "pkcs8.pem", &pem.Block{Type: "PRIVATE KEY",
			Bytes: pkcs8}), ecKey},
		"rsa public key": {pubPKCS1, writePEM(t, dir, "pkcs8-2.pem", &pem.Block{Type: "PRIVATE KEY",
			Bytes: pkcs8}), ecKey},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := runWrapCommand(t, "--public-key", tc.pub, "--key", tc.key)
			if err != nil {
				t.Fatalf("wrap: %v", err)
			}
			if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
				t.Errorf("output is not one line: %q", out)
			}
			blob, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
			if err != nil {
				t.Fatalf("output is not base64: %v", err)
			}
			der, err := keywrap.UnwrapPKCS8(enclave, blob)
			if err != nil {
				t.Fatalf("UnwrapPKCS8: %v", err)
			}
			want, err := x509.MarshalPKCS8PrivateKey(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(der, want) {
				t.Error("the blob does not carry the key as pkcs#8")
			}
		})
	}
}

func TestWrapRejects(t *testing.T) {
	enclave := wrapEnclave(t)
	dir := t.TempDir()
	spki, err := x509.MarshalPKIXPublicKey(&enclave.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := writePEM(t, dir, "enclave.pem", &pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	key := writePEM(t, dir, "ca.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	ecSPKI, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPub := writePEM(t, dir, "ec-pub.pem", &pem.Block{Type: "PUBLIC KEY", Bytes: ecSPKI})
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p224DER, err := x509.MarshalECPrivateKey(p224)
	if err != nil {
		t.Fatal(err)
	}
	p224Key := writePEM(t, dir, "p224.pem", &pem.Block{Type: "EC PRIVATE KEY", Bytes: p224DER})
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallPub := writePEM(t, dir, "small.pem", &pem.Block{Type: "RSA PUBLIC KEY",
		Bytes: x509.MarshalPKCS1PublicKey(&small.PublicKey)})
	encrypted := writePEM(t, dir, "encrypted.pem", &pem.Block{Type: "ENCRYPTED PRIVATE KEY",
		Bytes: []byte{0x30, 0x00}})
	certificate := writePEM(t, dir, "cert.pem", &pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30}})
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")

	tests := map[string]struct {
		args []string
		want string
	}{
		"missing public key file": {[]string{"--public-key", missing, "--key", key}, missing},
		"missing key file":        {[]string{"--public-key", pub, "--key", missing}, missing},
		"public key not pem":      {[]string{"--public-key", notPEM, "--key", key}, notPEM},
		"key not pem":             {[]string{"--public-key", pub, "--key", notPEM}, notPEM},
		"ec public key":           {[]string{"--public-key", ecPub, "--key", key}, "rsa public key"},
		"small public key":        {[]string{"--public-key", smallPub, "--key", key}, "1024-bit"},
		"p-224 key":               {[]string{"--public-key", pub, "--key", p224Key}, "P-224"},
		"encrypted key":           {[]string{"--public-key", pub, "--key", encrypted}, "encrypted"},
		"certificate as key":      {[]string{"--public-key", pub, "--key", certificate}, "CERTIFICATE"},
		"key as public key":       {[]string{"--public-key", key, "--key", key}, "not a public key"},
		"no flags":                {nil, "required flag"},
		"no key flag":             {[]string{"--public-key", pub}, `"key"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := runWrapCommand(t, tc.args...)
			if err == nil {
				t.Fatalf("wrap succeeded with output %q", out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("wrap error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestWrapRegistered(t *testing.T) {
	cmd, _, err := rootCmd.Find([]string{"wrap"})
	if err != nil || cmd.Name() != "wrap" {
		t.Fatalf("rootCmd.Find(wrap) = %v, %v, want the wrap command", cmd, err)
	}
	for _, flag := range []string{"public-key", "key"} {
		if cmd.Flags().Lookup(flag) == nil {
			t.Errorf("wrap has no --%s flag", flag)
		}
	}
}

// TestWrapIntoToken is the whole delivery: the enclave's token makes a
// quote key, wrap wraps a CA key for it, the token unwraps the blob and
// signs a certificate that verifies against the CA certificate.
func TestWrapIntoToken(t *testing.T) {
	hsm := softhsmtest.New(t)
	tok, err := token.Open(token.Config{ModulePath: hsm.Module, TokenLabel: "tcs-wrap-test",
		UserPIN: softhsmtest.UserPIN, SOPIN: softhsmtest.SOPIN})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	quoteKey, err := tok.GenerateQuoteKey("attestation-1")
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	spki, err := x509.MarshalPKIXPublicKey(quoteKey.Public)
	if err != nil {
		t.Fatal(err)
	}
	pubFile := writePEM(t, dir, "enclave.pem", &pem.Block{Type: "PUBLIC KEY", Bytes: spki})

	for name, alg := range map[string]string{"rsa": "rsa", "p-256": "p-256", "p-384": "p-384"} {
		t.Run(name, func(t *testing.T) {
			caCert, keyBlock := wrapTestCA(t, alg)
			keyFile := writePEM(t, dir, name+".pem", keyBlock)
			out, err := runWrapCommand(t, "--public-key", pubFile, "--key", keyFile)
			if err != nil {
				t.Fatalf("wrap: %v", err)
			}
			blob, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
			if err != nil {
				t.Fatal(err)
			}

			signerName := "tcsissuer.tcs.intel.com/sandbox." + name
			signer, err := tok.ImportKMRA(quoteKey, signerName, blob, caCert)
			if err != nil {
				t.Fatalf("ImportKMRA: %v", err)
			}
			protection, err := signer.KeyProtection()
			if err != nil {
				t.Fatal(err)
			}
			if !protection.Sensitive || protection.Extractable {
				t.Errorf("imported key CKA_SENSITIVE %v, CKA_EXTRACTABLE %v, want true and false",
					protection.Sensitive, protection.Extractable)
			}
			leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			template := &x509.Certificate{
				SerialNumber: big.NewInt(7),
				Subject:      pkix.Name{CommonName: "svc.sandbox.example.test"},
				DNSNames:     []string{"svc.sandbox.example.test"},
				NotBefore:    time.Now().Add(-time.Minute),
				NotAfter:     time.Now().Add(time.Hour),
				KeyUsage:     x509.KeyUsageDigitalSignature,
				ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			}
			der, err := x509.CreateCertificate(rand.Reader, template, caCert, &leafKey.PublicKey, signer)
			if err != nil {
				t.Fatalf("sign through the token: %v", err)
			}
			leaf, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(caCert)
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots,
				DNSName: "svc.sandbox.example.test"}); err != nil {
				t.Errorf("certificate signed in the token does not verify against the ca: %v", err)
			}
		})
	}
}

// wrapTestCA makes a CA key and returns its self-signed certificate and
// the key's PEM block in the traditional format for that key type.
func wrapTestCA(t *testing.T, alg string) (*x509.Certificate, *pem.Block) {
	t.Helper()
	var key crypto.Signer
	var block *pem.Block
	switch alg {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		key, block = k, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case "p-256", "p-384":
		curve := elliptic.P256()
		if alg == "p-384" {
			curve = elliptic.P384()
		}
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		key, block = k, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wrap test ca " + alg},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, block
}

// TestWrapOpenSSLKeys wraps keys as the openssl command writes them.
func TestWrapOpenSSLKeys(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not on PATH")
	}
	enclave := wrapEnclave(t)
	dir := t.TempDir()
	spki, err := x509.MarshalPKIXPublicKey(&enclave.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := writePEM(t, dir, "enclave.pem", &pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	tests := map[string][]string{
		"ecparam genkey":     {"ecparam", "-name", "prime256v1", "-genkey"},
		"genpkey ec pkcs8":   {"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"},
		"genrsa":             {"genrsa", "2048"},
		"genrsa traditional": {"genrsa", "-traditional", "2048"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			keyFile := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".pem")
			// genrsa takes the key size last, so -out goes right after the
			// subcommand.
			full := append([]string{args[0], "-out", keyFile}, args[1:]...)
			if out, err := exec.Command(openssl, full...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %v: %v: %s", full, err, out)
			}
			out, err := runWrapCommand(t, "--public-key", pub, "--key", keyFile)
			if err != nil {
				t.Fatalf("wrap: %v", err)
			}
			blob, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := keywrap.Unwrap(enclave, blob); err != nil {
				t.Errorf("Unwrap: %v", err)
			}
		})
	}
}
