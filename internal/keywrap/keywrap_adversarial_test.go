package keywrap

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// Every cut and every flipped byte of a KMRA blob must fail to open: the
// RSA-OAEP part and the AES-KWP integrity check leave no byte unchecked.
func TestUnwrapDamagedBlob(t *testing.T) {
	enclave, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	blob, err := Wrap(&enclave.PublicKey, ca)
	if err != nil {
		t.Fatal(err)
	}

	// A cut at a semiblock boundary past the minimum length has a valid
	// shape, so only the integrity check can catch it.
	for n := range len(blob) {
		_, err := Unwrap(enclave, blob[:n])
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrIntegrity) {
			t.Errorf("cut to %d bytes: error %v, want ErrMalformed or ErrIntegrity", n, err)
		}
	}
	for off := range blob {
		damaged := append([]byte(nil), blob...)
		damaged[off] ^= 0x80
		if key, err := Unwrap(enclave, damaged); err == nil {
			t.Errorf("byte %d flipped: the blob still opens to a %T", off, key)
		}
	}
	for _, extra := range []int{1, 8, 16} {
		long := append(append([]byte(nil), blob...), make([]byte, extra)...)
		if key, err := Unwrap(enclave, long); err == nil {
			t.Errorf("%d bytes appended: the blob still opens to a %T", extra, key)
		}
	}

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unwrap(other, blob); !errors.Is(err, ErrWrongKey) {
		t.Errorf("opened with another key: error %v, want ErrWrongKey", err)
	}
}

// Wrap rejects enclave keys that RSA-OAEP cannot use safely. The checks
// are those of crypto/rsa, which the PKCS#11 key store does not run.
func TestWrapRejectsUnusableKeys(t *testing.T) {
	enclave, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cases := map[string]*rsa.PublicKey{
		"nil":          nil,
		"no modulus":   {E: 65537},
		"exponent 1":   {N: enclave.N, E: 1},
		"even":         {N: enclave.N, E: 65536},
		"even modulus": {N: new(big.Int).Add(enclave.N, big.NewInt(1)), E: 65537},
		"tiny modulus": {N: big.NewInt(3233), E: 17},
	}
	for name, pub := range cases {
		if blob, err := Wrap(pub, ca); err == nil {
			t.Errorf("%s: Wrap made a %d-byte blob, want an error", name, len(blob))
		}
	}
}

// Every cut and every flipped byte of a signed receipt must be rejected,
// as malformed, as badly signed, or as a receipt for another delivery.
func TestVerifyDamagedReceipt(t *testing.T) {
	enclave, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer := "tcsclusterissuer.tcs.intel.com/" + strings.Repeat("a", 310)
	r, err := NewReceipt([]byte("quote"), &enclave.PublicKey, signer, "uid-1", []byte("key"), []byte("crt"))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := r.Sign(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyReceipt(signed, pub, r); err != nil {
		t.Fatalf("the undamaged receipt: %v", err)
	}

	rejected := func(err error) bool {
		return errors.Is(err, ErrReceiptMalformed) || errors.Is(err, ErrReceiptSignature) ||
			errors.Is(err, ErrReceiptMismatch)
	}
	for n := range len(signed) {
		if err := VerifyReceipt(signed[:n], pub, r); !rejected(err) {
			t.Errorf("cut to %d bytes: error %v, want a rejection", n, err)
		}
	}
	for off := range signed {
		damaged := append([]byte(nil), signed...)
		damaged[off] ^= 0x01
		if err := VerifyReceipt(damaged, pub, r); !rejected(err) {
			t.Errorf("byte %d flipped: error %v, want a rejection", off, err)
		}
	}
	if err := VerifyReceipt(append(signed, 0), pub, r); !errors.Is(err, ErrReceiptMalformed) {
		t.Errorf("one byte appended: error %v, want ErrReceiptMalformed", err)
	}
	if err := VerifyReceipt(signed, pub[:31], r); err == nil {
		t.Error("a 31-byte pinned key verified the receipt")
	}
}
