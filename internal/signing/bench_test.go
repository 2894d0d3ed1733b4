package signing

import "testing"

// BenchmarkSign measures template building plus signing with an in-memory
// CA key, the baseline the PKCS#11 token is compared against.
func BenchmarkSign(b *testing.B) {
	for _, caKeyName := range []string{"rsa-3072", "p256"} {
		b.Run(caKeyName, func(b *testing.B) {
			ca, caKey := testCA(b, caKeyName, CAOptions{})
			req := Request{
				CSR:    testCSR(b, "p256", nil),
				Usages: []string{"digital signature", "server auth"},
			}
			for b.Loop() {
				if _, err := Sign(ca, caKey, req, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
