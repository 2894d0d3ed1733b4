package keywrap

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	enclaveKeyOnce sync.Once
	enclaveKey     *rsa.PrivateKey
	otherKey       *rsa.PrivateKey
)

// testEnclaveKeys returns two RSA-3072 keys made once per test binary,
// because RSA-3072 generation takes a noticeable fraction of a second.
func testEnclaveKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	enclaveKeyOnce.Do(func() {
		var err error
		if enclaveKey, err = rsa.GenerateKey(rand.Reader, 3072); err != nil {
			panic(err)
		}
		if otherKey, err = rsa.GenerateKey(rand.Reader, 3072); err != nil {
			panic(err)
		}
	})
	return enclaveKey, otherKey
}

func testCAKeys(t testing.TB) map[string]crypto.PrivateKey {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]crypto.PrivateKey{"rsa-2048": rsaKey, "p-256": p256, "p-384": p384,
		"ed25519": edKey}
}

func TestWrapRoundTrip(t *testing.T) {
	enclave, _ := testEnclaveKeys(t)
	for name, key := range testCAKeys(t) {
		t.Run(name, func(t *testing.T) {
			blob, err := Wrap(&enclave.PublicKey, key)
			if err != nil {
				t.Fatalf("Wrap: %v", err)
			}
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			if want := enclave.Size() + 8 + (len(der)+7)/8*8; len(blob) != want {
				t.Errorf("blob length = %d, want %d", len(blob), want)
			}
			got, err := UnwrapPKCS8(enclave, blob)
			if err != nil {
				t.Fatalf("UnwrapPKCS8: %v", err)
			}
			if !bytes.Equal(got, der) {
				t.Error("UnwrapPKCS8 returned other bytes than the pkcs#8 encoding")
			}
			parsed, err := Unwrap(enclave, blob)
			if err != nil {
				t.Fatalf("Unwrap: %v", err)
			}
			if !parsed.(interface{ Equal(crypto.PrivateKey) bool }).Equal(key) {
				t.Error("Unwrap returned another key")
			}
		})
	}
}

func TestWrapFreshAESKey(t *testing.T) {
	enclave, _ := testEnclaveKeys(t)
	key := testCAKeys(t)["p-256"]
	a, err := Wrap(&enclave.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Wrap(&enclave.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a[enclave.Size():], b[enclave.Size():]) {
		t.Error("two wraps of one key share the aes key wrap part, so the aes key was reused")
	}
}

func TestUnwrapRejects(t *testing.T) {
	enclave, other := testEnclaveKeys(t)
	blob, err := Wrap(&enclave.PublicKey, testCAKeys(t)["p-384"])
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(blob)
		c[i] ^= 0x80
		return c
	}
	k := enclave.Size()
	tests := map[string]struct {
		priv *rsa.PrivateKey
		blob []byte
		want error
	}{
		"other key":         {other, blob, ErrWrongKey},
		"empty":             {enclave, nil, ErrMalformed},
		"rsa part only":     {enclave, blob[:k], ErrMalformed},
		"cut in rsa part":   {enclave, blob[:k-1], ErrMalformed},
		"cut off one byte":  {enclave, blob[:len(blob)-1], ErrMalformed},
		"cut off semiblock": {enclave, blob[:len(blob)-8], ErrIntegrity},
		"rsa part flipped":  {enclave, flip(10), ErrWrongKey},
		"wrap part flipped": {enclave, flip(k + 3), ErrIntegrity},
		"last byte flipped": {enclave, flip(len(blob) - 1), ErrIntegrity},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Unwrap(tc.priv, tc.blob)
			if !errors.Is(err, tc.want) {
				t.Errorf("Unwrap error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestWrapRejectsInput(t *testing.T) {
	enclave, _ := testEnclaveKeys(t)
	if _, err := Wrap(nil, testCAKeys(t)["p-256"]); err == nil {
		t.Error("Wrap accepted a nil public key")
	}
	if _, err := Wrap(&enclave.PublicKey, "not a key"); err == nil {
		t.Error("Wrap accepted a string as private key")
	}
}

// TestWrapOpensWithOpenSSL opens a blob with the openssl command alone:
// pkeyutl for the RSA-OAEP part, enc -id-aes256-wrap-pad for the rest.
func TestWrapOpensWithOpenSSL(t *testing.T) {
	opensslPath, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not on PATH")
	}
	enclave, _ := testEnclaveKeys(t)
	for name, key := range testCAKeys(t) {
		t.Run(name, func(t *testing.T) {
			blob, err := Wrap(&enclave.PublicKey, key)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			privDER, err := x509.MarshalPKCS8PrivateKey(enclave)
			if err != nil {
				t.Fatal(err)
			}
			privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})
			write := func(name string, data []byte) string {
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			}
			keyFile := write("enclave.pem", privPEM)
			rsaPart := write("rsa.bin", blob[:enclave.Size()])
			wrapPart := write("wrap.bin", blob[enclave.Size():])

			aesKey, err := exec.Command(opensslPath, "pkeyutl", "-decrypt", "-inkey", keyFile,
				"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1",
				"-pkeyopt", "rsa_mgf1_md:sha1", "-in", rsaPart).Output()
			if err != nil {
				t.Fatalf("openssl pkeyutl: %v: %s", err, stderrOf(err))
			}
			if len(aesKey) != AESKeySize {
				t.Fatalf("openssl pkeyutl returned %d bytes, want %d", len(aesKey), AESKeySize)
			}
			der, err := exec.Command(opensslPath, "enc", "-d", "-id-aes256-wrap-pad",
				"-K", hex.EncodeToString(aesKey), "-iv", "A65959A6", "-in", wrapPart).Output()
			if err != nil {
				t.Fatalf("openssl enc: %v: %s", err, stderrOf(err))
			}
			want, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(der, want) {
				t.Error("openssl returned other bytes than the pkcs#8 encoding of the key")
			}
		})
	}
}

func stderrOf(err error) string {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return strings.TrimSpace(string(exitErr.Stderr))
	}
	return ""
}

func FuzzUnwrap(f *testing.F) {
	enclave, _ := testEnclaveKeys(f)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	blob, err := Wrap(&enclave.PublicKey, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add(blob[:enclave.Size()+16])
	f.Fuzz(func(t *testing.T, b []byte) {
		// Unwrap must return an error, not panic, on any input.
		_, _ = Unwrap(enclave, b)
	})
}
