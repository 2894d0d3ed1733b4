package pck

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/tcs-project/tcs/internal/dcap/quote"
)

// addRealExtensions adds the SGX extension of every real quote's PCK
// certificate as a seed.
func addRealExtensions(f *testing.F) {
	dir := os.Getenv("TCS_REAL_QUOTES")
	if dir == "" {
		return
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "quote.bin"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		q, err := quote.Parse(b)
		if err != nil {
			f.Fatal(err)
		}
		block, _ := pem.Decode(q.Signature.CertData)
		if block == nil {
			f.Fatalf("%s: no PEM certificate", p)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range cert.Extensions {
			if e.Id.Equal(OIDSGXExtension) {
				f.Add(e.Value)
			}
		}
	}
}

func FuzzParseExtension(f *testing.F) {
	addRealExtensions(f)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		ext, err := Parse(der)
		if err != nil {
			return
		}
		if ext.SGXType < 0 || ext.SGXType > maxSGXType {
			t.Fatalf("accepted SGX type %d", ext.SGXType)
		}
	})
}
