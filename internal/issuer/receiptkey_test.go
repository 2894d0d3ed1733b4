package issuer_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcs-project/tcs/internal/issuer"
)

func TestReadKeyServerPublicKey(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, err := x509.MarshalPKIXPublicKey(ec.Public())
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		data    []byte
		errText string
	}{
		"ed25519":     {data: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edDER})},
		"ecdsa":       {data: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER}), errText: "not an Ed25519 key"},
		"private key": {data: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER}), errText: "is not a PEM"},
		"not PEM":     {data: []byte("hello"), errText: "openssl pkey"},
		"bad DER":     {data: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2}}), errText: "key-server public key"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keyserver.pub")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := issuer.ReadKeyServerPublicKey(path)
			if tc.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v, want one containing %q", err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(pub) {
				t.Error("key differs from the one written")
			}
		})
	}
	if _, err := issuer.ReadKeyServerPublicKey(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file: no error")
	}
}
