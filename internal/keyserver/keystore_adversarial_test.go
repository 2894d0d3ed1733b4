package keyserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcs-project/tcs/internal/keyserver"
)

// Broken key store files are a permanent KeyStoreFailure that names the
// signer, never a panic and never a blob.
func TestDirStoreBrokenFiles(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	otherDER, err := x509.MarshalPKCS8PrivateKey(other)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: otherDER})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: selfSignedCA(t, "tcsclusterissuer.tcs.intel.com/x", key)})

	cases := map[string]struct{ key, crt []byte }{
		"empty key file":                 {nil, certPEM},
		"empty certificate file":         {keyPEM, nil},
		"certificate in the key file":    {certPEM, certPEM},
		"key in the certificate file":    {keyPEM, keyPEM},
		"key of another certificate":     {otherPEM, certPEM},
		"matching key second":            {append(append([]byte(nil), otherPEM...), keyPEM...), certPEM},
		"truncated key":                  {keyPEM[:len(keyPEM)/2], certPEM},
		"garbage key":                    {[]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), certPEM},
		"encrypted key":                  {pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: keyDER}), certPEM},
		"garbage certificate":            {keyPEM, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")},
		"RSA header on an EC key":        {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: keyDER}), certPEM},
		"EC header on a PKCS#8 document": {pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), certPEM},
	}
	e := newEnclave(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			const signer = "tcsclusterissuer.tcs.intel.com/broken"
			base := filepath.Join(dir, keyserver.FileBase(signer))
			if err := os.WriteFile(base+".key", tc.key, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(base+".crt", tc.crt, 0o600); err != nil {
				t.Fatal(err)
			}
			blob, _, err := keyserver.DirStore{Dir: dir}.WrapKey(context.Background(), signer, &e.key.PublicKey)
			if !errors.Is(err, keyserver.ErrKeyStore) {
				t.Errorf("error %v, want one that wraps ErrKeyStore", err)
			}
			if err != nil && !strings.Contains(err.Error(), signer) {
				t.Errorf("error %q does not name the signer", err)
			}
			if blob != nil {
				t.Errorf("a %d-byte blob for a broken key store entry", len(blob))
			}
		})
	}
}
