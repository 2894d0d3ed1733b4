package keyserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/dcap/quote"
	"github.com/tcs-project/tcs/internal/dcap/verify"
	"github.com/tcs-project/tcs/internal/keyserver"
)

// Offsets in a v3 quote with a PCK chain, from Intel's "ECDSA Quote
// Format": header and report body, the signature data length, then the
// fixed part of the signature data before the QE authentication data.
const (
	advSigLenOffset  = quote.HeaderSize + quote.ReportBodySize
	advSigDataOffset = advSigLenOffset + 4
	advAuthLenOffset = advSigDataOffset + 2*quote.SignatureSize + quote.AttestationKeySize + quote.ReportBodySize
)

// staticSource serves one bundle for every platform.
type staticSource struct{ bundle *collateral.Bundle }

func (s staticSource) Collateral(context.Context, [6]byte, string) (*collateral.Bundle, error) {
	return s.bundle, nil
}

// offlineDecider is a Decider over the main platform of w that needs no
// API server and no network.
func offlineDecider(t testing.TB, w *world) *keyserver.Decider {
	t.Helper()
	bundle, err := w.platforms["main"].authority.Collateral(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &keyserver.Decider{
		Verifier:   verify.New(verify.Config{ExtraRoots: w.pol.DevelopmentRoots}),
		Collateral: staticSource{bundle},
		Policy:     w.pol,
		Keys:       keyserver.DirStore{Dir: w.keyDir},
		ReceiptKey: w.receiptKey,
	}
}

func spec(e *enclave, t testing.TB, q []byte) *sgxv1alpha1.QuoteAttestationSpec {
	return &sgxv1alpha1.QuoteAttestationSpec{
		Quote:        q,
		QuoteVersion: sgxv1alpha1.ECDSAQuoteVersion3,
		PublicKey:    e.publicPEM(t),
		SignerNames:  []string{signerEC},
		Nonce:        e.nonce[:],
	}
}

// decide runs d on one spec and fails the test on a panic or a retryable
// error, which a static collateral source never causes.
func decide(t testing.TB, d *keyserver.Decider, s *sgxv1alpha1.QuoteAttestationSpec, what string) *keyserver.Answer {
	t.Helper()
	var answer *keyserver.Answer
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("%s: Decide panicked: %v", what, p)
			}
		}()
		var err error
		answer, err = d.Decide(context.Background(), keyserver.Request{Spec: s, UID: types.UID("adv-" + what)})
		if err != nil {
			t.Fatalf("%s: Decide returned a retryable error for bad input: %v", what, err)
		}
	}()
	return answer
}

func expectRefused(t *testing.T, a *keyserver.Answer, what string) {
	t.Helper()
	if !a.Failed || len(a.Secrets) != 0 {
		t.Errorf("%s: answered %s with %d Secrets, want a refusal", what, a.State, len(a.Secrets))
		return
	}
	if a.State == "" || a.Message == "" {
		t.Errorf("%s: refusal without state or message: %q %q", what, a.State, a.Message)
	}
}

func TestAdversarialQuoteCutAndExtended(t *testing.T) {
	w := newWorld(t)
	d := offlineDecider(t, w)
	e := newEnclave(t)
	good := e.quote(t, w.platforms["main"])
	if a := decide(t, d, spec(e, t, good), "unchanged"); a.Failed {
		t.Fatalf("the unchanged quote is refused: %s: %s", a.State, a.Message)
	}

	for n := range len(good) {
		cut := append([]byte(nil), good[:n]...)
		what := fmt.Sprintf("cut to %d bytes", n)
		expectRefused(t, decide(t, d, spec(e, t, cut), what), what)
		if n%97 == 0 {
			double := []byte(base64.StdEncoding.EncodeToString(cut))
			what += ", double-encoded"
			expectRefused(t, decide(t, d, spec(e, t, double), what), what)
		}
	}
	for _, extra := range []int{1, 2, 4, 64, 4096} {
		long := append(append([]byte(nil), good...), make([]byte, extra)...)
		what := fmt.Sprintf("%d bytes appended", extra)
		expectRefused(t, decide(t, d, spec(e, t, long), what), what)
	}
}

func TestAdversarialQuoteLengthFields(t *testing.T) {
	w := newWorld(t)
	d := offlineDecider(t, w)
	e := newEnclave(t)
	good := e.quote(t, w.platforms["main"])
	authLen := int(binary.LittleEndian.Uint16(good[advAuthLenOffset:]))
	certHeader := advAuthLenOffset + 2 + authLen
	certLenOffset := certHeader + 2

	type field struct {
		offset, size int
	}
	fields := map[string]field{
		"signature data length": {advSigLenOffset, 4},
		"QE auth data length":   {advAuthLenOffset, 2},
		"cert data type":        {certHeader, 2},
		"cert data length":      {certLenOffset, 4},
	}
	for name, f := range fields {
		orig := readLE(good[f.offset:], f.size)
		for _, v := range []uint64{0, 1, orig - 1, orig + 1, 1<<(8*f.size) - 1, 1 << (8*f.size - 1)} {
			if v == orig {
				continue
			}
			q := append([]byte(nil), good...)
			writeLE(q[f.offset:], f.size, v)
			what := fmt.Sprintf("%s %d instead of %d", name, v, orig)
			expectRefused(t, decide(t, d, spec(e, t, q), what), what)
		}
	}
}

func readLE(b []byte, size int) uint64 {
	if size == 2 {
		return uint64(binary.LittleEndian.Uint16(b))
	}
	return uint64(binary.LittleEndian.Uint32(b))
}

func writeLE(b []byte, size int, v uint64) {
	if size == 2 {
		binary.LittleEndian.PutUint16(b, uint16(v))
		return
	}
	binary.LittleEndian.PutUint32(b, uint32(v))
}

// A signature or a binding covers every byte of the header, the report
// body, the quote signature, the attestation key, the QE report and its
// signature, and the QE authentication data, so a flipped bit in any of
// them must be rejected.
func TestAdversarialQuoteSignedBytesFlipped(t *testing.T) {
	w := newWorld(t)
	d := offlineDecider(t, w)
	e := newEnclave(t)
	good := e.quote(t, w.platforms["main"])
	authLen := int(binary.LittleEndian.Uint16(good[advAuthLenOffset:]))
	end := advAuthLenOffset + 2 + authLen

	for off := range end {
		if off >= advSigLenOffset && off < advSigDataOffset {
			continue // the length field, covered by TestAdversarialQuoteLengthFields
		}
		q := append([]byte(nil), good...)
		q[off] ^= 0x01
		what := fmt.Sprintf("bit 0 of byte %d flipped", off)
		expectRefused(t, decide(t, d, spec(e, t, q), what), what)
	}
}

// A PCK chain with extra, missing, foreign or garbage certificates is
// rejected and no key is released.
func TestAdversarialCertificationData(t *testing.T) {
	w := newWorld(t)
	d := offlineDecider(t, w)
	e := newEnclave(t)
	main := w.platforms["main"].authority
	good := e.quote(t, w.platforms["main"])
	authLen := int(binary.LittleEndian.Uint16(good[advAuthLenOffset:]))
	certHeader := advAuthLenOffset + 2 + authLen
	certData := good[certHeader+6:]

	pemOf := func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	other := w.platforms["untrusted"].authority
	chain := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return append(out, 0)
	}
	pck, inter, root := pemOf(main.PCK()), pemOf(main.Intermediate()), pemOf(main.Root())
	cases := map[string][]byte{
		"empty":                   {},
		"only a NUL":              {0},
		"leaf only":               chain(pck),
		"no root":                 chain(pck, inter),
		"root twice":              chain(pck, inter, root, root),
		"extra leaf":              chain(pck, pemOf(other.PCK()), inter, root),
		"foreign root":            chain(pck, inter, pemOf(other.Root())),
		"foreign leaf":            chain(pemOf(other.PCK()), inter, root),
		"garbage after the chain": append(chain(pck, inter, root)[:len(pck)+len(inter)+len(root)], []byte("garbage\x00")...),
		"garbage before":          append([]byte("garbage\n"), certData...),
		"PEM of a key":            chain(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}), inter, root),
		"PEM headers":             chain(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"A": "b"}, Bytes: main.PCK().Raw}), inter, root),
		"many blocks":             chain(repeat(inter, 200), pck, root),
		"not base64 inside":       chain([]byte("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"), inter, root),
	}
	for name, data := range cases {
		q := withCertData(good[:certHeader], data)
		expectRefused(t, decide(t, d, spec(e, t, q), name), name)
	}
}

func repeat(b []byte, n int) []byte {
	var out []byte
	for range n {
		out = append(out, b...)
	}
	return out
}

// withCertData returns a quote with prefix up to the certification data
// header and certData after it, with both lengths set to match.
func withCertData(prefix, certData []byte) []byte {
	q := append([]byte(nil), prefix...)
	q = binary.LittleEndian.AppendUint16(q, quote.CertDataPCKChain)
	q = binary.LittleEndian.AppendUint32(q, uint32(len(certData)))
	q = append(q, certData...)
	binary.LittleEndian.PutUint32(q[advSigLenOffset:], uint32(len(q)-advSigDataOffset))
	return q
}

// Requests with a hostile public key, nonce, signer list, quote version or
// quote field are rejected with a state and a message before any
// collateral is fetched.
func TestAdversarialRequestFields(t *testing.T) {
	w := newWorld(t)
	d := offlineDecider(t, w)
	d.Collateral = failingSource{t}
	e := newEnclave(t)
	good := e.quote(t, w.platforms["main"])
	pub := e.publicPEM(t)
	der, _ := x509.MarshalPKIXPublicKey(&e.key.PublicKey)

	cases := map[string]func(s *sgxv1alpha1.QuoteAttestationSpec){
		"no public key":          func(s *sgxv1alpha1.QuoteAttestationSpec) { s.PublicKey = nil },
		"two PEM blocks":         func(s *sgxv1alpha1.QuoteAttestationSpec) { s.PublicKey = append(append([]byte(nil), pub...), pub...) },
		"trailing garbage":       func(s *sgxv1alpha1.QuoteAttestationSpec) { s.PublicKey = append(append([]byte(nil), pub...), "x"...) },
		"DER without PEM":        func(s *sgxv1alpha1.QuoteAttestationSpec) { s.PublicKey = der },
		"base64 of garbage":      func(s *sgxv1alpha1.QuoteAttestationSpec) { s.PublicKey = []byte("Z2FyYmFnZQ==") },
		"triple-encoded key":     func(s *sgxv1alpha1.QuoteAttestationSpec) { s.PublicKey = b64(b64(pub)) },
		"truncated PEM":          func(s *sgxv1alpha1.QuoteAttestationSpec) { s.PublicKey = pub[:len(pub)/2] },
		"certificate PEM":        func(s *sgxv1alpha1.QuoteAttestationSpec) { s.PublicKey = pemCert(t, w) },
		"EC key":                 func(s *sgxv1alpha1.QuoteAttestationSpec) { s.PublicKey = ecPublicPEM(t) },
		"1024-bit RSA":           func(s *sgxv1alpha1.QuoteAttestationSpec) { s.PublicKey = rsaPublicPEM(t, 1024) },
		"nonce of 15 bytes":      func(s *sgxv1alpha1.QuoteAttestationSpec) { s.Nonce = s.Nonce[:15] },
		"nonce of 17 bytes":      func(s *sgxv1alpha1.QuoteAttestationSpec) { s.Nonce = append(s.Nonce, 0) },
		"no signers":             func(s *sgxv1alpha1.QuoteAttestationSpec) { s.SignerNames = nil },
		"quote version 4":        func(s *sgxv1alpha1.QuoteAttestationSpec) { s.QuoteVersion = "ECDSA Quote 4" },
		"double-encoded garbage": func(s *sgxv1alpha1.QuoteAttestationSpec) { s.Quote = b64([]byte("garbage")) },
	}
	for name, edit := range cases {
		s := spec(e, t, good)
		edit(s)
		a := decide(t, d, s, name)
		expectRefused(t, a, name)
	}
}

// failingSource fails the test when the key server fetches collateral for
// a request it could have refused on its fields alone.
type failingSource struct{ t *testing.T }

func (s failingSource) Collateral(context.Context, [6]byte, string) (*collateral.Bundle, error) {
	s.t.Error("collateral was fetched for a request with invalid fields")
	return nil, fmt.Errorf("no collateral in this test")
}

func b64(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }

func pemCert(t *testing.T, w *world) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.platforms["main"].authority.Root().Raw})
}

func ecPublicPEM(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func rsaPublicPEM(t *testing.T, bits int) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
