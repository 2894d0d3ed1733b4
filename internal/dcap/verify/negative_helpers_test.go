package verify_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/dcap/verify"
	"github.com/tcs-project/tcs/internal/devpki"
)

// Times of the development PKI tests. Every certificate starts at
// certStart; the verification time lies 30 days later, and Collateral
// issues its documents and CRLs one hour before it.
var (
	certStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	verifyAt  = certStart.Add(30 * 24 * time.Hour)
	issuedAt  = verifyAt.Add(-devpki.DefaultCollateralAge)
	nextAt    = issuedAt.Add(devpki.DefaultCollateralLifetime)
)

// authorities are made once per test binary: key generation is cheap, but
// most cases need only the shared platform and processor authorities.
var (
	authoritiesOnce sync.Once
	authoritiesErr  error
	platformPKI     *devpki.Authority
	processorPKI    *devpki.Authority
	foreignPKI      *devpki.Authority
)

// fixture returns the shared Platform CA authority, the Processor CA
// authority and a foreign authority under another root.
func fixture(t *testing.T) (platform, processor, foreign *devpki.Authority) {
	t.Helper()
	authoritiesOnce.Do(func() {
		if platformPKI, authoritiesErr = devpki.New(devpki.Options{NotBefore: certStart}); authoritiesErr != nil {
			return
		}
		processorPKI, authoritiesErr = devpki.New(devpki.Options{CAType: devpki.ProcessorCA, NotBefore: certStart})
		if authoritiesErr != nil {
			return
		}
		foreignPKI, authoritiesErr = devpki.New(devpki.Options{NotBefore: certStart})
	})
	if authoritiesErr != nil {
		t.Fatalf("devpki.New: %v", authoritiesErr)
	}
	return platformPKI, processorPKI, foreignPKI
}

// newAuthority makes an authority for cases that need other certificate
// validity or platform values than the shared ones.
func newAuthority(t *testing.T, opts devpki.Options) *devpki.Authority {
	t.Helper()
	if opts.NotBefore.IsZero() {
		opts.NotBefore = certStart
	}
	a, err := devpki.New(opts)
	if err != nil {
		t.Fatalf("devpki.New: %v", err)
	}
	return a
}

// input is one verification: a quote, its collateral, the time and the
// extra roots of the verifier.
type input struct {
	quote  []byte
	bundle *collateral.Bundle
	at     time.Time
	roots  []*x509.Certificate
}

// build makes a quote and collateral of a with the options, to verify at
// verifyAt with a's root trusted.
func build(t *testing.T, a *devpki.Authority, q []devpki.QuoteOption, c ...devpki.CollateralOption) input {
	t.Helper()
	quote, err := a.Quote(devpki.ReportDataForRSAKey(nil, devpki.DefaultNonce), q...)
	if err != nil {
		t.Fatalf("Quote: %v", err)
	}
	bundle, err := a.Collateral(verifyAt, c...)
	if err != nil {
		t.Fatalf("Collateral: %v", err)
	}
	return input{quote: quote, bundle: bundle, at: verifyAt, roots: []*x509.Certificate{a.Root()}}
}

// quoteOpts collects quote options for the case tables.
func quoteOpts(opts ...devpki.QuoteOption) []devpki.QuoteOption { return opts }

func run(in input) (*verify.Result, error) {
	return verify.New(verify.Config{ExtraRoots: in.roots}).Verify(in.quote, in.bundle, in.at)
}

// checkRejected asserts that Verify failed with kind at step, through both
// the error and the Result.
func checkRejected(t *testing.T, r *verify.Result, err error, kind error, step verify.Step) {
	t.Helper()
	if r == nil {
		t.Fatal("Verify returned a nil Result")
	}
	if err == nil {
		t.Fatalf("Verify succeeded with status %s, want %v at step %s", r.TCBStatus, kind, step)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q is not %v", err, kind)
	}
	var verr *verify.Error
	if !errors.As(err, &verr) {
		t.Fatalf("error %q is a %T, not a *verify.Error", err, err)
	}
	if verr.Step != step {
		t.Errorf("error step = %s, want %s (error %q)", verr.Step, step, err)
	}
	if r.Verified {
		t.Error("Result.Verified is true on failure")
	}
	if r.Step != step {
		t.Errorf("Result.Step = %s, want %s", r.Step, step)
	}
}

// checkVerified asserts that Verify succeeded with the TCB status.
func checkVerified(t *testing.T, r *verify.Result, err error, status string) {
	t.Helper()
	if r == nil {
		t.Fatal("Verify returned a nil Result")
	}
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !r.Verified {
		t.Error("Result.Verified is false without an error")
	}
	if r.TCBStatus != status {
		t.Errorf("TCB status = %s, want %s", r.TCBStatus, status)
	}
}

// withSignatureDataLength sets the signature data length field to the
// bytes that follow it, so that a truncated quote fails on the inner
// lengths rather than on the outer one.
func withSignatureDataLength(q []byte) []byte {
	if len(q) >= devpki.QuoteSignatureDataOffset {
		binary.LittleEndian.PutUint32(q[devpki.QuoteSignatureDataLenOffset:],
			uint32(len(q)-devpki.QuoteSignatureDataOffset))
	}
	return q
}

// flip returns a copy of b with one bit of the byte at offset inverted.
func flip(b []byte, offset int) []byte {
	out := bytes.Clone(b)
	out[offset] ^= 0x01
	return out
}

// certDataOffset is the offset of the certification data type field in
// quotes with the default QE auth data.
var certDataOffset = devpki.QuoteCertDataOffset(len(devpki.DefaultQEAuthData))

// tamperedCert returns a copy of cert whose signature no longer verifies.
func tamperedCert(t *testing.T, cert *x509.Certificate) *x509.Certificate {
	t.Helper()
	parsed, err := x509.ParseCertificate(flip(cert.Raw, len(cert.Raw)-1))
	if err != nil {
		t.Fatalf("parse tampered certificate: %v", err)
	}
	return parsed
}

// p384PCK issues a PCK certificate with a P-384 key under a's
// intermediate; SGX PCK keys are P-256 only.
func p384PCK(t *testing.T, a *devpki.Authority) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ext := a.Extension()
	value, err := ext.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:    big.NewInt(384),
		Subject:         pkix.Name{CommonName: devpki.PCKCommonName},
		NotBefore:       certStart,
		NotAfter:        nextAt,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: devpki.OIDSGXExtension, Value: value}},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, a.Intermediate(), &key.PublicKey, a.IntermediateKey())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// platformLevel returns a TCB Info level at the platform's TCB, changed by
// edit when edit is not nil.
func platformLevel(a *devpki.Authority, status string, edit func(*devpki.TCBLevel), advisories ...string) devpki.TCBLevel {
	ext := a.Extension()
	l := devpki.TCBLevel{
		Components:  ext.Components,
		PCESVN:      ext.PCESVN,
		Date:        issuedAt.Truncate(24 * time.Hour),
		Status:      status,
		AdvisoryIDs: advisories,
	}
	if edit != nil {
		edit(&l)
	}
	return l
}

func raiseComponent(i int) func(*devpki.TCBLevel) {
	return func(l *devpki.TCBLevel) { l.Components[i]++ }
}

func lowerComponent(i int) func(*devpki.TCBLevel) {
	return func(l *devpki.TCBLevel) { l.Components[i]-- }
}

func qeLevel(svn uint16, status string, advisories ...string) devpki.QELevel {
	return devpki.QELevel{ISVSVN: svn, Date: issuedAt.Truncate(24 * time.Hour), Status: status, AdvisoryIDs: advisories}
}

// qeISVSVN sets the QE report's ISVSVN.
func qeISVSVN(svn uint16) devpki.QuoteOption {
	return devpki.WithQEReport(func(r *devpki.ReportBody) { r.ISVSVN = svn })
}

// replaceJSON edits collateral JSON text before it is signed.
func replaceJSON(old, replacement string) func([]byte) []byte {
	return func(b []byte) []byte { return bytes.Replace(b, []byte(old), []byte(replacement), 1) }
}
