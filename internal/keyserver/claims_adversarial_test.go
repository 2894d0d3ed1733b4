package keyserver

import (
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"testing"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/dcap/quote"
	"github.com/tcs-project/tcs/internal/devpki"
)

// A quote can be changed without its keys: ECDSA accepts s and n-s, and
// the certification data is signed by nobody. Every such copy of a quote,
// and its double-encoded form, must be claimed under the same hash, or a
// changed copy of an answered quote would pass the one-time check.
func TestQuoteClaimSurvivesMalleation(t *testing.T) {
	a, err := devpki.New(devpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good, err := a.Quote(devpki.ReportDataForRSAKey(&key.PublicKey, DefaultNonce))
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	claimHash := func(q []byte) [32]byte {
		t.Helper()
		r, rej := decodeRequest(&sgxv1alpha1.QuoteAttestationSpec{
			Quote:        q,
			QuoteVersion: sgxv1alpha1.ECDSAQuoteVersion3,
			PublicKey:    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
			SignerNames:  []string{"tcsclusterissuer.tcs.intel.com/ca"},
		})
		if rej != nil {
			t.Fatalf("decodeRequest: %v", rej)
		}
		return r.quoteHash
	}

	// The quote signature is the first field of the signature data.
	const sigOffset = quote.SignedSize + 4
	highS := append([]byte(nil), good...)
	s := new(big.Int).SetBytes(highS[sigOffset+32 : sigOffset+64])
	s.Sub(elliptic.P256().Params().N, s).FillBytes(highS[sigOffset+32 : sigOffset+64])

	parsed, err := quote.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	certHeader := len(good) - len(parsed.Signature.CertData) - 6
	var chain []byte
	for _, c := range []*x509.Certificate{a.Root(), a.Intermediate(), a.PCK()} {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	reordered := append([]byte(nil), good[:certHeader]...)
	reordered = binary.LittleEndian.AppendUint16(reordered, quote.CertDataPCKChain)
	reordered = binary.LittleEndian.AppendUint32(reordered, uint32(len(chain)+1))
	reordered = append(append(reordered, chain...), 0)
	binary.LittleEndian.PutUint32(reordered[quote.SignedSize:], uint32(len(reordered)-quote.SignedSize-4))

	want := claimHash(good)
	cases := map[string][]byte{
		"negated s":       highS,
		"reordered chain": reordered,
		"double-encoded":  []byte(base64.StdEncoding.EncodeToString(good)),
	}
	for name, q := range cases {
		if got := claimHash(q); got != want {
			t.Errorf("%s: claimed under %x, the original under %x", name, got[:8], want[:8])
		}
	}
}
