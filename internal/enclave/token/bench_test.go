package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// BenchmarkCASign signs leaf certificates through the token and, with the
// same count and a key of the same type, in memory. ns/op is the token's
// time; memory-ns/op and the token/memory ratio are reported beside it.
func BenchmarkCASign(b *testing.B) {
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "leaf.example.test"},
		DNSNames:     []string{"leaf.example.test"},
		NotBefore:    time.Now(),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	for _, alg := range []KeyAlgorithm{RSA3072, ECDSAP256} {
		b.Run(string(alg), func(b *testing.B) {
			tok := openToken(b, testConfig(b))
			tokenSigner, err := tok.GenerateSelfSignedCA("bench", CAOptions{Algorithm: alg})
			if err != nil {
				b.Fatal(err)
			}
			memoryKey, memoryCA := testCA(b, alg)
			sign := func(signer crypto.Signer, ca *x509.Certificate) {
				if _, err := x509.CreateCertificate(rand.Reader, template, ca, &leafKey.PublicKey,
					signer); err != nil {
					b.Fatal(err)
				}
			}

			b.ResetTimer()
			start := time.Now()
			for range b.N {
				sign(tokenSigner, tokenSigner.Certificate())
			}
			tokenTime := time.Since(start)
			b.StopTimer()

			start = time.Now()
			for range b.N {
				sign(memoryKey, memoryCA)
			}
			memoryTime := time.Since(start)

			b.ReportMetric(float64(memoryTime.Nanoseconds())/float64(b.N), "memory-ns/op")
			b.ReportMetric(float64(tokenTime)/float64(memoryTime), "token/memory")
		})
	}
}
