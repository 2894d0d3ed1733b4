package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"testing"
)

// benchSample returns the sample named by $TCS_BENCH_SAMPLE, or the first.
func benchSample(b *testing.B) realSample {
	samples := realSamples(b)
	name := os.Getenv("TCS_BENCH_SAMPLE")
	if name == "" {
		return samples[0]
	}
	for _, s := range samples {
		if s.name == name {
			return s
		}
	}
	b.Fatalf("TCS_BENCH_SAMPLE=%s is not a folder of TCS_REAL_QUOTES", name)
	return realSample{}
}

// BenchmarkVerifyCold verifies a real quote with a new Verifier each time,
// so the PCK chain and collateral are verified from scratch.
func BenchmarkVerifyCold(b *testing.B) {
	s := benchSample(b)
	for b.Loop() {
		if _, err := New(Config{}).Verify(s.quote, s.collateral, s.at); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyWarm verifies a real quote with one Verifier, so only the
// first iteration verifies the PCK chain and collateral.
func BenchmarkVerifyWarm(b *testing.B) {
	s := benchSample(b)
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
