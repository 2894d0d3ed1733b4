package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tcs-project/tcs/internal/keywrap"
)

// Environment of the child process that TestRestartFindsSigner starts.
const (
	restartChildEnv   = "TCS_TOKEN_RESTART_CHILD"
	restartModuleEnv  = "TCS_TOKEN_RESTART_MODULE"
	restartPINFileEnv = "TCS_TOKEN_RESTART_PIN_FILE"
	restartMarker     = "restart-child:"
)

// restartMessage is the text that the child signs.
var restartMessage = sha256.Sum256([]byte("signed after a restart"))

// TestRestartFindsSigner stores a quote key and an imported signer, closes
// the token, and has a new process of this test binary find both.
func TestRestartFindsSigner(t *testing.T) {
	cfg := testConfig(t)
	tok, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	qk, err := tok.GenerateQuoteKey("attestation-1")
	if err != nil {
		t.Fatal(err)
	}
	caKey, caCert := testCA(t, ECDSAP256)
	blob, err := keywrap.Wrap(qk.Public, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.ImportKMRA(qk, testSigner, blob, caCert); err != nil {
		t.Fatal(err)
	}
	quoteSPKI, err := x509.MarshalPKIXPublicKey(qk.Public)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}

	// The user PIN travels in a file, as in production; SOFTHSM2_CONF is
	// inherited from this process.
	pinFile := t.TempDir() + "/user.pin"
	if err := os.WriteFile(pinFile, []byte(cfg.UserPIN), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRestartChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), restartChildEnv+"=1", restartModuleEnv+"="+cfg.ModulePath,
		restartPINFileEnv+"="+pinFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process failed: %v\n%s", err, out)
	}

	fields := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, restartMarker); ok {
			key, value, _ := strings.Cut(rest, "=")
			fields[key] = value
		}
	}
	if got := fields["quote-key-spki-sha256"]; got != fmt.Sprintf("%x", sha256.Sum256(quoteSPKI)) {
		t.Errorf("child found quote key with SPKI hash %q, want the stored key's", got)
	}
	if got := fields["signers"]; got != testSigner {
		t.Errorf("child listed signers %q, want %q", got, testSigner)
	}
	sig, err := hex.DecodeString(fields["signature"])
	if err != nil {
		t.Fatalf("child output has no signature: %v\n%s", err, out)
	}
	if !ecdsa.VerifyASN1(caCert.PublicKey.(*ecdsa.PublicKey), restartMessage[:], sig) {
		t.Error("signature from the child does not verify with the ca certificate")
	}
}

// TestRestartChild runs only as the child of TestRestartFindsSigner.
func TestRestartChild(t *testing.T) {
	if os.Getenv(restartChildEnv) != "1" {
		t.Skip("runs only as the child process of TestRestartFindsSigner")
	}
	pin, err := PINFromFile(os.Getenv(restartPINFileEnv))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Open(Config{ModulePath: os.Getenv(restartModuleEnv), TokenLabel: testLabel,
		UserPIN: pin})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()

	qk, err := tok.FindQuoteKey("attestation-1")
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(qk.Public)
	if err != nil {
		t.Fatal(err)
	}
	names, err := tok.ListSigners()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tok.FindSigner(testSigner)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(rand.Reader, restartMessage[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%squote-key-spki-sha256=%x\n", restartMarker, sha256.Sum256(spki))
	fmt.Printf("%ssigners=%s\n", restartMarker, strings.Join(names, ","))
	fmt.Printf("%ssignature=%x\n", restartMarker, sig)
}
