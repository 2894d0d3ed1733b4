package issuer

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// ReadKeyServerPublicKey reads the key server's Ed25519 receipt public key
// from a PEM "PUBLIC KEY" file, as `openssl pkey -pubout` writes it from
// the key server's receipt key.
func ReadKeyServerPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key-server public key: %w", err)
	}
	return ParseKeyServerPublicKey(data, path)
}

// ParseKeyServerPublicKey parses a PEM "PUBLIC KEY" holding an Ed25519 key;
// name says where the data came from in errors.
func ParseKeyServerPublicKey(data []byte, name string) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("key-server public key %s is not a PEM \"PUBLIC KEY\": "+
			"make it with `openssl pkey -in RECEIPT_KEY -pubout`", name)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key-server public key %s: %w", name, err)
	}
	ed, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key-server public key %s is a %T, not an Ed25519 key", name, key)
	}
	return ed, nil
}
