package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// BenchmarkVerifyCold verifies a real quote with a new Verifier each time,
// so the PCK chain and collateral are verified from scratch.
func BenchmarkVerifyCold(b *testing.B) {
	s := realSamples(b)[0]
	for b.Loop() {
		if _, err := New(Config{}).Verify(s.quote, s.collateral, s.at); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyWarm verifies a real quote with one Verifier, so only the
// first iteration verifies the PCK chain and collateral.
func BenchmarkVerifyWarm(b *testing.B) {
	s := realSamples(b)[0]
	v := New(Config{})
	if _, err := v.Verify(s.quote, s.collateral, s.at); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := v.Verify(s.quote, s.collateral, s.at); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThreeECDSAP256 is the cost of three ECDSA P-256 verifications,
// the yardstick for the warm path.
func BenchmarkThreeECDSAP256(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("quote"))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for range 3 {
			if !ecdsa.Verify(&key.PublicKey, digest[:], r, s) {
				b.Fatal("signature does not verify")
			}
		}
	}
}
