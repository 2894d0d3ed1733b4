package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"
)

// testNow is the signing time of every test.
var testNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// testKeys caches generated keys by name, because RSA key generation
// dominates the run time otherwise. Every key is made at test time.
var testKeys sync.Map

func testKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	if key, ok := testKeys.Load(name); ok {
		return key.(crypto.Signer)
	}
	var key crypto.Signer
	var err error
	// A "ca-" prefix names a separate key of the same type.
	switch strings.TrimPrefix(name, "ca-") {
	case "rsa-1024":
		key, err = rsa.GenerateKey(rand.Reader, 1024)
	case "rsa-2048":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa-3072":
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	case "p224":
		key, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case "p256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p521":
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unknown test key %q", name)
	}
	if err != nil {
		t.Fatalf("generate %s key: %v", name, err)
	}
	actual, _ := testKeys.LoadOrStore(name, key)
	return actual.(crypto.Signer)
}

// testCA returns a self-signed CA certificate valid for ten years from
// testNow and its key. The key name is prefixed so CA keys differ from
// the request keys of the same type.
func testCA(t testing.TB, keyName string, opts CAOptions) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := testKey(t, "ca-"+keyName)
	if opts.CommonName == "" {
		opts.CommonName = "Test CA " + keyName
	}
	der, err := SelfSignedCA(key, opts, testNow)
	if err != nil {
		t.Fatalf("SelfSignedCA: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse CA certificate: %v", err)
	}
	return cert, key
}

// testCSR returns a PEM CSR signed by the named key.
func testCSR(t testing.TB, keyName string, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{
			Subject:  pkix.Name{CommonName: "app.example.com"},
			DNSNames: []string{"app.example.com"},
		}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, testKey(t, keyName))
	if err != nil {
		t.Fatalf("create CSR: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// signParsed signs req and parses the result.
func signParsed(t testing.TB, cfg Config, ca *x509.Certificate, key crypto.Signer, req Request) *x509.Certificate {
	t.Helper()
	der, err := cfg.Sign(ca, key, req, testNow)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse signed certificate: %v", err)
	}
	return cert
}
