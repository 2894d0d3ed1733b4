package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/tcs-project/tcs/internal/enclave/token/softhsmtest"
)

const testLabel = "tcs-test"

// testConfig sets up a fresh SoftHSM2 token directory and returns a
// configuration whose PINs are read from files, as production reads them.
func testConfig(t testing.TB) Config {
	t.Helper()
	hsm := softhsmtest.New(t)
	userPIN, err := PINFromFile(hsm.UserPINFile)
	if err != nil {
		t.Fatal(err)
	}
	soPIN, err := PINFromFile(hsm.SOPINFile)
	if err != nil {
		t.Fatal(err)
	}
	return Config{ModulePath: hsm.Module, TokenLabel: testLabel, UserPIN: userPIN, SOPIN: soPIN}
}

func openToken(t testing.TB, cfg Config) *Token {
	t.Helper()
	tok, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := tok.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tok
}

// countObjects returns the number of objects, token and session, that the
// logged-in user can see.
func countObjects(t *testing.T, tok *Token) int {
	t.Helper()
	var n int
	err := tok.withSession(func(s pkcs11.SessionHandle) error {
		handles, err := tok.findObjects(s, nil)
		n = len(handles)
		return err
	})
	if err != nil {
		t.Fatalf("count objects: %v", err)
	}
	return n
}

// testCA makes a CA key and self-signed certificate in memory.
func testCA(t testing.TB, alg KeyAlgorithm) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	var key crypto.Signer
	var err error
	switch alg {
	case RSA3072:
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	case ECDSAP256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		t.Fatalf("no test key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test ca " + string(alg)},
		NotBefore:             time.Now().Add(-time.Minute),
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
	return key, cert
}

// issueLeaf signs a leaf certificate with signer under ca and checks that
// it verifies against ca.
func issueLeaf(t testing.TB, signer crypto.Signer, ca *x509.Certificate) *x509.Certificate {
	t.Helper()
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "leaf.example.test"},
		DNSNames:     []string{"leaf.example.test"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca, &leafKey.PublicKey, signer)
	if err != nil {
		t.Fatalf("sign a leaf certificate through the token: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		t.Fatalf("leaf certificate does not verify against the ca certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "leaf.example.test"}); err != nil {
		t.Fatalf("leaf certificate chain does not verify: %v", err)
	}
	return leaf
}

func TestOpenInitialisesToken(t *testing.T) {
	cfg := testConfig(t)
	tok := openToken(t, cfg)
	if got := countObjects(t, tok); got != 0 {
		t.Errorf("new token holds %d objects, want 0", got)
	}
	if err := tok.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// A second Open finds the token by label and needs no SO PIN.
	cfg.SOPIN = ""
	again := openToken(t, cfg)
	if got := again.Label(); got != testLabel {
		t.Errorf("reopened token label = %q, want %q", got, testLabel)
	}
	if got := countObjects(t, again); got != 0 {
		t.Errorf("reopened token holds %d objects, want 0", got)
	}
}

func TestOpenRejects(t *testing.T) {
	cfg := testConfig(t)
	tok := openToken(t, cfg)
	if _, err := tok.GenerateSelfSignedCA("existing", CAOptions{}); err != nil {
		t.Fatal(err)
	}
	before := countObjects(t, tok)

	missingModule := cfg
	missingModule.ModulePath = filepath.Join(t.TempDir(), "libmissing.so")
	notModule := cfg
	notModule.ModulePath = filepath.Join(t.TempDir(), "not-a-module.so")
	if err := os.WriteFile(notModule.ModulePath, []byte("not a shared library"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyModule := cfg
	emptyModule.ModulePath = ""
	wrongPIN := cfg
	wrongPIN.UserPIN = "wrong-pin"
	otherLabel := cfg
	otherLabel.TokenLabel = "tcs-other"
	otherLabel.SOPIN = ""
	longLabel := cfg
	longLabel.TokenLabel = "a-token-label-longer-than-32-bytes"
	noPIN := cfg
	noPIN.UserPIN = ""

	tests := map[string]struct {
		cfg  Config
		want error
	}{
		"missing module":      {missingModule, ErrModuleNotFound},
		"not a module":        {notModule, ErrModuleNotFound},
		"empty module":        {emptyModule, ErrModuleNotFound},
		"wrong pin":           {wrongPIN, ErrPINIncorrect},
		"unknown label no so": {otherLabel, ErrTokenNotFound},
		"label too long":      {longLabel, nil},
		"empty user pin":      {noPIN, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			bad, err := Open(tc.cfg)
			if err == nil {
				_ = bad.Close()
				t.Fatal("Open succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Open error = %v, want %v", err, tc.want)
			}
			if after := countObjects(t, tok); after != before {
				t.Errorf("token holds %d objects after the failed Open, want %d", after, before)
			}
		})
	}
}

func TestPINFromFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := map[string]struct {
		path    string
		want    string
		wantErr bool
	}{
		"plain":         {write("plain", "1234"), "1234", false},
		"newline":       {write("newline", "1234\n"), "1234", false},
		"crlf":          {write("crlf", "1234\r\n"), "1234", false},
		"inner space":   {write("space", "12 34\n"), "12 34", false},
		"empty":         {write("empty", ""), "", true},
		"only newline":  {write("nl", "\n"), "", true},
		"missing file":  {filepath.Join(dir, "missing"), "", true},
		"directory":     {dir, "", true},
		"leading space": {write("lead", " 1234"), " 1234", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := PINFromFile(tc.path)
			if (err != nil) != tc.wantErr {
				t.Fatalf("PINFromFile error = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("PINFromFile = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPINFromEnv(t *testing.T) {
	t.Setenv("TCS_TEST_PIN", "9876")
	t.Setenv("TCS_TEST_EMPTY_PIN", "")
	if got, err := PINFromEnv("TCS_TEST_PIN"); err != nil || got != "9876" {
		t.Errorf("PINFromEnv = %q, %v, want 9876", got, err)
	}
	if _, err := PINFromEnv("TCS_TEST_EMPTY_PIN"); err == nil {
		t.Error("PINFromEnv accepted an empty variable")
	}
	if _, err := PINFromEnv("TCS_TEST_UNSET_PIN_VARIABLE"); err == nil {
		t.Error("PINFromEnv accepted an unset variable")
	}
}

// TestOpenWrongPINReachesToken checks a wrong PIN when no other Token of
// the process is logged in, so that the module itself rejects it.
func TestOpenWrongPINReachesToken(t *testing.T) {
	cfg := testConfig(t)
	tok := openToken(t, cfg)
	if _, err := tok.GenerateSelfSignedCA("existing", CAOptions{}); err != nil {
		t.Fatal(err)
	}
	before := countObjects(t, tok)
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}

	wrong := cfg
	wrong.UserPIN = "wrong-pin"
	if bad, err := Open(wrong); !errors.Is(err, ErrPINIncorrect) {
		if err == nil {
			_ = bad.Close()
		}
		t.Fatalf("Open with a wrong pin error = %v, want ErrPINIncorrect", err)
	}

	again := openToken(t, cfg)
	if after := countObjects(t, again); after != before {
		t.Errorf("token holds %d objects after the wrong pin, want %d", after, before)
	}
}
