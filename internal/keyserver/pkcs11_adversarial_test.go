package keyserver_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/tcs-project/tcs/internal/keyserver"
	"github.com/tcs-project/tcs/internal/keywrap"
)

// mgf1 is MGF1 with SHA-1 (RFC 8017 appendix B.2.1).
func mgf1(seed []byte, n int) []byte {
	var out []byte
	for c := uint32(0); len(out) < n; c++ {
		h := sha1.New()
		h.Write(seed)
		var counter [4]byte
		binary.BigEndian.PutUint32(counter[:], c)
		h.Write(counter[:])
		out = h.Sum(out)
	}
	return out[:n]
}

// A PKCS#11 token wraps for whatever RSA key it is given. With public
// exponent 1 "encryption" is the identity, so the OAEP block, the AES key
// and the CA private key would be readable by anyone who reads the
// Secret. The key store must refuse such a key; if it ever wraps, the test
// recovers the CA key from the blob alone to show the leak.
func TestPKCS11StoreRefusesExponentOne(t *testing.T) {
	f := newPKCS11Fixture(t)
	e := newEnclave(t)
	signer := pkcs11Signer + "-e1"
	key, cert := newCA(t, "P-256", signer)
	if err := f.store.ImportCA(signer, key, []*x509.Certificate{cert}); err != nil {
		t.Fatal(err)
	}
	weak := &rsa.PublicKey{N: e.key.N, E: 1}
	blob, _, err := f.store.WrapKey(context.Background(), signer, weak)
	if err != nil {
		if !errors.Is(err, keyserver.ErrKeyStore) {
			t.Errorf("error %v, want one that wraps ErrKeyStore", err)
		}
		return
	}
	k := weak.Size()
	em := blob[:k]
	maskedSeed, maskedDB := em[1:1+sha1.Size], em[1+sha1.Size:]
	seed := make([]byte, sha1.Size)
	for i, m := range mgf1(maskedDB, sha1.Size) {
		seed[i] = maskedSeed[i] ^ m
	}
	db := make([]byte, len(maskedDB))
	for i, m := range mgf1(seed, len(maskedDB)) {
		db[i] = maskedDB[i] ^ m
	}
	aesKey := db[len(db)-keywrap.AESKeySize:]
	pkcs8, err := keywrap.UnwrapPad(aesKey, blob[k:])
	if err != nil {
		t.Fatalf("WrapKey accepted exponent 1, but recovering failed: %v", err)
	}
	got, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		t.Fatal(err)
	}
	if !key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(got) {
		t.Fatal("recovered a key, but not the CA key")
	}
	t.Error("WrapKey wrapped for exponent 1: the CA private key was recovered from the blob alone")
}
