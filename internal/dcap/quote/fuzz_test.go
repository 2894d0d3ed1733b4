package quote

import (
	"bytes"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, b := range realQuotes(f) {
		f.Add(b)
	}
	f.Add(syntheticQuote(nil, nil, CertDataPCKChain))
	f.Add(syntheticQuote(make([]byte, 32), []byte("-----BEGIN CERTIFICATE-----\n"), CertDataPCKChain))
	f.Add(syntheticQuote(nil, nil, 6))
	f.Add(make([]byte, MinSize))

	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := Parse(b)
		if err != nil {
			return
		}
		out, err := q.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed quote: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("Marshal(Parse(b)) differs from b")
		}
	})
}
