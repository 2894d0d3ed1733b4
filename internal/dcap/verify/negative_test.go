package verify_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/verify"
	"github.com/tcs-project/tcs/internal/devpki"
)

// rejectCase builds one defective input and names the sentinel and step at
// which Verify must reject it.
type rejectCase struct {
	build func(t *testing.T) input
	kind  error
	step  verify.Step
}

// TestVerifyRejects runs the negative cases built with the development
// PKI. Each changes one thing in an otherwise valid quote or collateral.
func TestVerifyRejects(t *testing.T) {
	cases := map[string]rejectCase{}
	for _, group := range []map[string]rejectCase{
		decodingCases(), signatureCases(), chainCases(), crlCases(),
		tcbInfoCases(), qeIdentityCases(), evaluationCases(),
	} {
		for name, c := range group {
			if _, dup := cases[name]; dup {
				t.Fatalf("duplicate case name %q", name)
			}
			cases[name] = c
		}
	}
	if len(cases) < 50 {
		t.Errorf("only %d negative cases", len(cases))
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := tc.build(t)
			r, err := run(in)
			checkRejected(t, r, err, tc.kind, tc.step)
		})
	}
}

// truncated builds a default quote cut to n bytes. With consistent set, the
// signature data length field is set to the bytes left, so that an inner
// length field must catch the cut.
func truncated(n int, consistent bool) func(t *testing.T) input {
	return func(t *testing.T) input {
		a, _, _ := fixture(t)
		in := build(t, a, quoteOpts(devpki.Truncate(n)))
		if consistent {
			in.quote = withSignatureDataLength(in.quote)
		}
		return in
	}
}

func decodingCases() map[string]rejectCase {
	malformed := func(build func(t *testing.T) input) rejectCase {
		return rejectCase{build, verify.ErrMalformedQuote, verify.StepParse}
	}
	unsupported := func(opts ...devpki.QuoteOption) rejectCase {
		return rejectCase{func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, opts)
		}, verify.ErrUnsupportedQuote, verify.StepParse}
	}
	withQuote := func(opts ...devpki.QuoteOption) func(t *testing.T) input {
		return func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, opts)
		}
	}
	auth := len(devpki.DefaultQEAuthData)
	return map[string]rejectCase{
		"parse/empty quote":                   malformed(truncated(0, false)),
		"parse/truncated header":              malformed(truncated(devpki.HeaderSize-1, false)),
		"parse/truncated report body":         malformed(truncated(devpki.QuoteReportBodyOffset+100, false)),
		"parse/truncated signature data size": malformed(truncated(devpki.QuoteSignatureDataLenOffset+2, false)),
		"parse/truncated by one byte": malformed(func(t *testing.T) input {
			a, _, _ := fixture(t)
			in := build(t, a, nil)
			in.quote = in.quote[:len(in.quote)-1]
			return in
		}),
		"parse/truncated quote signature":      malformed(truncated(devpki.QuoteISVSignatureOffset+10, true)),
		"parse/truncated attestation key":      malformed(truncated(devpki.QuoteAttestationKeyOffset+10, true)),
		"parse/truncated QE report":            malformed(truncated(devpki.QuoteQEReportOffset+100, true)),
		"parse/truncated QE report signature":  malformed(truncated(devpki.QuoteQEReportSigOffset+10, true)),
		"parse/truncated QE auth data size":    malformed(truncated(devpki.QuoteQEAuthDataSizeOffset+1, true)),
		"parse/truncated QE auth data":         malformed(truncated(devpki.QuoteQEAuthDataOffset+auth/2, true)),
		"parse/truncated cert data type":       malformed(truncated(certDataOffset+1, true)),
		"parse/truncated cert data size":       malformed(truncated(certDataOffset+4, true)),
		"parse/truncated cert data":            malformed(truncated(certDataOffset+devpki.CertDataHeaderSize+100, true)),
		"parse/trailing bytes":                 malformed(withQuote(devpki.WithTrailingBytes([]byte{0}))),
		"parse/trailing signature data":        malformed(withQuote(devpki.WithTrailingSignatureData([]byte{0, 0}))),
		"parse/signature data size plus one":   malformed(withQuote(devpki.WithSignatureDataSizeDelta(1))),
		"parse/signature data size minus one":  malformed(withQuote(devpki.WithSignatureDataSizeDelta(-1))),
		"parse/QE auth data size too large":    malformed(withQuote(devpki.WithQEAuthDataSizeDelta(5000))),
		"parse/cert data size too large":       malformed(withQuote(devpki.WithCertDataSizeDelta(1))),
		"parse/cert data size too small":       malformed(withQuote(devpki.WithCertDataSizeDelta(-1))),
		"parse/version 2":                      unsupported(devpki.WithVersion(2)),
		"parse/version 4":                      unsupported(devpki.WithVersion(4)),
		"parse/attestation key type ECDSA-384": unsupported(devpki.WithAttestationKeyType(3)),
		"parse/TEE type TDX": unsupported(devpki.WithHeader(func(h *devpki.Header) {
			h.Reserved = 0x81
		})),
		"parse/foreign QE vendor ID": unsupported(devpki.WithHeader(func(h *devpki.Header) {
			h.QEVendorID[0] ^= 0xFF
		})),
		"parse/cert data type 1 (PPID clear)":    unsupported(devpki.WithCertDataType(1)),
		"parse/cert data type 3 (PPID RSA-3072)": unsupported(devpki.WithCertDataType(3)),
		"parse/cert data type 6 (QE report)":     unsupported(devpki.WithCertDataType(6)),
	}
}

func signatureCases() map[string]rejectCase {
	invalid := func(step verify.Step, build func(t *testing.T) input) rejectCase {
		return rejectCase{build, verify.ErrInvalidQuoteSignature, step}
	}
	withQuote := func(opts ...devpki.QuoteOption) func(t *testing.T) input {
		return func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, opts)
		}
	}
	flipped := func(offset int) func(t *testing.T) input {
		return func(t *testing.T) input {
			a, _, _ := fixture(t)
			in := build(t, a, nil)
			in.quote = flip(in.quote, offset)
			return in
		}
	}
	return map[string]rejectCase{
		"signature/quote signature corrupted": invalid(verify.StepQuoteSignature,
			withQuote(devpki.CorruptQuoteSignature())),
		"signature/report body altered": invalid(verify.StepQuoteSignature,
			flipped(devpki.QuoteReportBodyOffset+64)),
		"signature/report data altered": invalid(verify.StepQuoteSignature,
			flipped(devpki.QuoteReportBodyOffset+320)),
		"signature/header altered": invalid(verify.StepQuoteSignature,
			flipped(devpki.HeaderSize-1)),
		"signature/QE report signature corrupted": invalid(verify.StepQEReportSignature,
			withQuote(devpki.CorruptQEReportSignature())),
		"signature/QE report altered": invalid(verify.StepQEReportSignature,
			flipped(devpki.QuoteQEReportOffset+64)),
		"signature/QE report signed by another key": invalid(verify.StepQEReportSignature,
			func(t *testing.T) input {
				a, _, foreign := fixture(t)
				return build(t, a, quoteOpts(devpki.WithLeaf(a.PCK(), foreign.PCKKey())))
			}),
		"binding/QE report data corrupted": invalid(verify.StepQEReportBinding,
			withQuote(devpki.CorruptQEReportBinding())),
		"binding/attestation key substituted": invalid(verify.StepQEReportBinding,
			func(t *testing.T) input {
				a, _, foreign := fixture(t)
				return build(t, a, quoteOpts(devpki.WithAttestationKey(foreign.AttestationKey())))
			}),
		"binding/attestation key altered": invalid(verify.StepQEReportBinding,
			flipped(devpki.QuoteAttestationKeyOffset+5)),
		"binding/QE auth data tampered": invalid(verify.StepQEReportBinding,
			withQuote(devpki.TamperQEAuthData())),
		"binding/second half of QE report data not zero": invalid(verify.StepQEReportBinding,
			withQuote(devpki.WithQEReport(func(r *devpki.ReportBody) { r.ReportData[63] = 1 }))),
	}
}

func chainCases() map[string]rejectCase {
	untrusted := func(build func(t *testing.T) input) rejectCase {
		return rejectCase{build, verify.ErrUntrustedPCKChain, verify.StepPCKChain}
	}
	expired := func(build func(t *testing.T) input) rejectCase {
		return rejectCase{build, verify.ErrCollateralExpired, verify.StepPCKChain}
	}
	withQuote := func(opts func(a, foreign *devpki.Authority) []devpki.QuoteOption) func(t *testing.T) input {
		return func(t *testing.T) input {
			a, _, foreign := fixture(t)
			return build(t, a, opts(a, foreign))
		}
	}
	withPCK := func(pck devpki.PCKOptions) func(t *testing.T) input {
		return func(t *testing.T) input {
			a, _, _ := fixture(t)
			cert, key, err := a.IssuePCK(pck)
			if err != nil {
				t.Fatal(err)
			}
			return build(t, a, quoteOpts(devpki.WithLeaf(cert, key)))
		}
	}
	return map[string]rejectCase{
		"chain/intel root only": untrusted(func(t *testing.T) input {
			a, _, _ := fixture(t)
			in := build(t, a, nil)
			in.roots = nil
			return in
		}),
		"chain/another development root": untrusted(func(t *testing.T) input {
			a, _, foreign := fixture(t)
			in := build(t, a, nil)
			in.roots = []*x509.Certificate{foreign.Root()}
			return in
		}),
		"chain/PCK of another intermediate": untrusted(withQuote(func(a, foreign *devpki.Authority) []devpki.QuoteOption {
			return quoteOpts(devpki.WithLeaf(foreign.PCK(), foreign.PCKKey()))
		})),
		"chain/intermediate of another root": untrusted(withQuote(func(a, foreign *devpki.Authority) []devpki.QuoteOption {
			return quoteOpts(devpki.WithChain(a.PCK(), foreign.Intermediate(), a.Root()))
		})),
		"chain/processor PCK under platform CA": untrusted(withPCKOf(devpki.ProcessorCA)),
		"chain/platform PCK under processor CA": untrusted(func(t *testing.T) input {
			_, p, _ := fixture(t)
			cert, key, err := p.IssuePCK(devpki.PCKOptions{CAType: devpki.PlatformCA})
			if err != nil {
				t.Fatal(err)
			}
			return build(t, p, quoteOpts(devpki.WithLeaf(cert, key)))
		}),
		"chain/CA certificate as leaf": untrusted(withQuote(func(a, _ *devpki.Authority) []devpki.QuoteOption {
			return quoteOpts(devpki.WithLeaf(a.Intermediate(), a.IntermediateKey()))
		})),
		"chain/other CA certificate as leaf": untrusted(withQuote(func(a, _ *devpki.Authority) []devpki.QuoteOption {
			processor, key := a.CA(devpki.ProcessorCA)
			return quoteOpts(devpki.WithLeaf(processor, key))
		})),
		"chain/TCB signing certificate as leaf": untrusted(withQuote(func(a, _ *devpki.Authority) []devpki.QuoteOption {
			return quoteOpts(devpki.WithLeaf(a.TCBSigning(), a.TCBSigningKey()))
		})),
		"chain/leaf and root only": untrusted(withQuote(func(a, _ *devpki.Authority) []devpki.QuoteOption {
			return quoteOpts(devpki.WithChain(a.PCK(), a.Root()))
		})),
		"chain/leaf only": untrusted(withQuote(func(a, _ *devpki.Authority) []devpki.QuoteOption {
			return quoteOpts(devpki.WithChain(a.PCK()))
		})),
		"chain/without root": untrusted(withQuote(func(a, _ *devpki.Authority) []devpki.QuoteOption {
			return quoteOpts(devpki.WithChain(a.PCK(), a.Intermediate()))
		})),
		"chain/extra certificate": untrusted(withQuote(func(a, _ *devpki.Authority) []devpki.QuoteOption {
			return quoteOpts(devpki.WithChain(a.PCK(), a.Intermediate(), a.Root(), a.TCBSigning()))
		})),
		"chain/leaf twice": untrusted(withQuote(func(a, _ *devpki.Authority) []devpki.QuoteOption {
			return quoteOpts(devpki.WithChain(a.PCK(), a.PCK(), a.Root()))
		})),
		"chain/two roots": untrusted(withQuote(func(a, foreign *devpki.Authority) []devpki.QuoteOption {
			return quoteOpts(devpki.WithChain(a.PCK(), a.Intermediate(), a.Root(), foreign.Root()))
		})),
		"chain/empty cert data": untrusted(withQuote(func(_, _ *devpki.Authority) []devpki.QuoteOption {
			return quoteOpts(devpki.WithCertData([]byte{}))
		})),
		"chain/cert data not PEM": untrusted(withQuote(func(_, _ *devpki.Authority) []devpki.QuoteOption {
			return quoteOpts(devpki.WithCertData([]byte("not a certificate\n")))
		})),
		"chain/PCK signature tampered": untrusted(func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, quoteOpts(devpki.WithLeaf(tamperedCert(t, a.PCK()), a.PCKKey())))
		}),
		"chain/intermediate signature tampered": untrusted(func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, quoteOpts(devpki.WithChain(a.PCK(), tamperedCert(t, a.Intermediate()), a.Root())))
		}),
		"chain/PCK expired": expired(withPCK(devpki.PCKOptions{
			NotBefore: certStart, NotAfter: verifyAt.Add(-time.Second),
		})),
		"chain/PCK not yet valid": expired(withPCK(devpki.PCKOptions{
			NotBefore: verifyAt.Add(time.Second), NotAfter: verifyAt.Add(365 * 24 * time.Hour),
		})),
		"chain/intermediate expired": expired(func(t *testing.T) input {
			a := newAuthority(t, devpki.Options{CAValidity: 10 * 24 * time.Hour})
			return build(t, a, nil)
		}),
		"chain/root expired": expired(func(t *testing.T) input {
			a := newAuthority(t, devpki.Options{RootValidity: 10 * 24 * time.Hour})
			return build(t, a, nil)
		}),
		"chain/PCK with a P-384 key": untrusted(func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, quoteOpts(devpki.WithLeaf(p384PCK(t, a), a.PCKKey())))
		}),
		"chain/certificates not yet valid": expired(func(t *testing.T) input {
			a := newAuthority(t, devpki.Options{NotBefore: verifyAt.Add(time.Minute)})
			return build(t, a, nil)
		}),
		"chain/unknown critical extension in PCK": untrusted(withPCK(devpki.PCKOptions{
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Critical: true,
				Value: []byte{0x05, 0x00}}},
		})),
		"extension/missing": {withPCK(devpki.PCKOptions{OmitExtension: true}),
			verify.ErrUntrustedPCKChain, verify.StepPCKExtension},
		"extension/malformed": {withPCK(devpki.PCKOptions{RawExtension: []byte{0x30, 0x03, 0x02, 0x01}}),
			verify.ErrUntrustedPCKChain, verify.StepPCKExtension},
		"extension/without FMSPC": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			ext := a.Extension()
			der, err := ext.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			fmspc := []byte{0x04, 0x06}
			fmspc = append(fmspc, ext.FMSPC[:]...)
			// Renaming the FMSPC entry's OID arc 4 to 9 leaves an
			// unknown entry and no FMSPC.
			i := bytes.Index(der, fmspc)
			if i < 2 || der[i-1] != 4 {
				t.Fatalf("FMSPC entry not found in %x", der)
			}
			der[i-1] = 9
			cert, key, err := a.IssuePCK(devpki.PCKOptions{RawExtension: der})
			if err != nil {
				t.Fatal(err)
			}
			return build(t, a, quoteOpts(devpki.WithLeaf(cert, key)))
		}, verify.ErrUntrustedPCKChain, verify.StepPCKExtension},
	}
}

// withPCKOf presents a PCK certificate issued by the intermediate of
// caType with the platform authority's default chain.
func withPCKOf(caType devpki.CAType) func(t *testing.T) input {
	return func(t *testing.T) input {
		a, _, _ := fixture(t)
		cert, key, err := a.IssuePCK(devpki.PCKOptions{CAType: caType})
		if err != nil {
			t.Fatal(err)
		}
		return build(t, a, quoteOpts(devpki.WithLeaf(cert, key)))
	}
}

func crlCases() map[string]rejectCase {
	withCollateral := func(opts func(a, foreign *devpki.Authority) []devpki.CollateralOption) func(t *testing.T) input {
		return func(t *testing.T) input {
			a, _, foreign := fixture(t)
			return build(t, a, nil, opts(a, foreign)...)
		}
	}
	invalid := func(opts func(a, foreign *devpki.Authority) []devpki.CollateralOption) rejectCase {
		return rejectCase{withCollateral(opts), verify.ErrInvalidCollateral, verify.StepCRL}
	}
	expired := func(opts ...devpki.CollateralOption) rejectCase {
		return rejectCase{withCollateral(func(_, _ *devpki.Authority) []devpki.CollateralOption { return opts }),
			verify.ErrCollateralExpired, verify.StepCRL}
	}
	return map[string]rejectCase{
		"crl/PCK revoked": {withCollateral(func(_, _ *devpki.Authority) []devpki.CollateralOption {
			return []devpki.CollateralOption{devpki.RevokePCK()}
		}), verify.ErrRevokedPCKChain, verify.StepCRL},
		"crl/PCK revoked among others": {withCollateral(func(a, foreign *devpki.Authority) []devpki.CollateralOption {
			return []devpki.CollateralOption{devpki.RevokeSerials(foreign.PCK().SerialNumber, a.PCK().SerialNumber)}
		}), verify.ErrRevokedPCKChain, verify.StepCRL},
		"crl/intermediate revoked": {withCollateral(func(a, _ *devpki.Authority) []devpki.CollateralOption {
			return []devpki.CollateralOption{devpki.RevokeInRootCRL(a.Intermediate().SerialNumber)}
		}), verify.ErrRevokedPCKChain, verify.StepCRL},
		"crl/PCK CRL expired":        expired(devpki.WithPCKCRLWindow(issuedAt, verifyAt.Add(-time.Second))),
		"crl/PCK CRL not yet valid":  expired(devpki.WithPCKCRLWindow(verifyAt.Add(time.Second), nextAt)),
		"crl/root CRL expired":       expired(devpki.WithRootCRLWindow(issuedAt, verifyAt.Add(-time.Second))),
		"crl/root CRL not yet valid": expired(devpki.WithRootCRLWindow(verifyAt.Add(time.Second), nextAt)),
		"crl/PCK CRL signature corrupted": invalid(func(_, _ *devpki.Authority) []devpki.CollateralOption {
			return []devpki.CollateralOption{devpki.CorruptPCKCRLSignature()}
		}),
		"crl/root CRL signature corrupted": invalid(func(_, _ *devpki.Authority) []devpki.CollateralOption {
			return []devpki.CollateralOption{devpki.CorruptRootCRLSignature()}
		}),
		"crl/PCK CRL issued by the root": invalid(func(a, _ *devpki.Authority) []devpki.CollateralOption {
			return []devpki.CollateralOption{devpki.WithPCKCRLSigner(a.Root(), a.RootKey(), a.Intermediate(), a.Root())}
		}),
		"crl/PCK CRL of the other CA": invalid(func(a, _ *devpki.Authority) []devpki.CollateralOption {
			processor, key := a.CA(devpki.ProcessorCA)
			return []devpki.CollateralOption{devpki.WithPCKCRLSigner(processor, key, processor, a.Root())}
		}),
		"crl/PCK CRL of another root": invalid(func(_, foreign *devpki.Authority) []devpki.CollateralOption {
			return []devpki.CollateralOption{devpki.WithPCKCRLSigner(foreign.Intermediate(), foreign.IntermediateKey(),
				foreign.Intermediate(), foreign.Root())}
		}),
		"crl/root CRL issued by the intermediate": invalid(func(a, _ *devpki.Authority) []devpki.CollateralOption {
			return []devpki.CollateralOption{devpki.WithRootCRLSigner(a.Intermediate(), a.IntermediateKey())}
		}),
		"crl/processor PCK revoked": {func(t *testing.T) input {
			_, p, _ := fixture(t)
			return build(t, p, nil, devpki.RevokePCK())
		}, verify.ErrRevokedPCKChain, verify.StepCRL},
		"crl/platform CRL for a processor PCK": {func(t *testing.T) input {
			_, p, _ := fixture(t)
			platform, key := p.CA(devpki.PlatformCA)
			return build(t, p, nil, devpki.WithPCKCRLSigner(platform, key, platform, p.Root()))
		}, verify.ErrInvalidCollateral, verify.StepCRL},
		"crl/PCK CRL issuer chain without root": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			in := build(t, a, nil)
			in.bundle.PCKCRLIssuerChain = devpki.EncodePEMChain(a.Intermediate())
			return in
		}, verify.ErrInvalidCollateral, verify.StepCRL},
		"crl/PCK CRL not a CRL": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			in := build(t, a, nil)
			in.bundle.PCKCRL = []byte("not a CRL")
			return in
		}, verify.ErrInvalidCollateral, verify.StepCRL},
		"crl/root CRL truncated": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			in := build(t, a, nil)
			in.bundle.RootCACRL = in.bundle.RootCACRL[:len(in.bundle.RootCACRL)/2]
			return in
		}, verify.ErrInvalidCollateral, verify.StepCRL},
	}
}

func tcbInfoCases() map[string]rejectCase {
	withCollateral := func(kind error, opts ...devpki.CollateralOption) rejectCase {
		return rejectCase{func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, nil, opts...)
		}, kind, verify.StepTCBInfo}
	}
	invalid := func(opts ...devpki.CollateralOption) rejectCase {
		return withCollateral(verify.ErrInvalidCollateral, opts...)
	}
	edited := func(edit func(a *devpki.Authority, in *input)) rejectCase {
		return rejectCase{func(t *testing.T) input {
			a, _, _ := fixture(t)
			in := build(t, a, nil)
			edit(a, &in)
			return in
		}, verify.ErrInvalidCollateral, verify.StepTCBInfo}
	}
	return map[string]rejectCase{
		"tcbinfo/signature corrupted": invalid(devpki.CorruptTCBInfoSignature()),
		"tcbinfo/text altered after signing": edited(func(_ *devpki.Authority, in *input) {
			in.bundle.TCBInfo = bytes.Replace(in.bundle.TCBInfo, []byte(`"tcbEvaluationDataNumber":17`),
				[]byte(`"tcbEvaluationDataNumber":18`), 1)
		}),
		"tcbinfo/signature truncated": edited(func(_ *devpki.Authority, in *input) {
			in.bundle.TCBInfoSignature = in.bundle.TCBInfoSignature[:63]
		}),
		"tcbinfo/signed by another key": {func(t *testing.T) input {
			a, _, foreign := fixture(t)
			return build(t, a, nil, devpki.WithCollateralSigner(foreign.TCBSigningKey(), a.TCBSigning(), a.Root()))
		}, verify.ErrInvalidCollateral, verify.StepTCBInfo},
		"tcbinfo/signed under another root": {func(t *testing.T) input {
			a, _, foreign := fixture(t)
			return build(t, a, nil, devpki.WithCollateralSigner(foreign.TCBSigningKey(), foreign.TCBSigning(), foreign.Root()))
		}, verify.ErrInvalidCollateral, verify.StepTCBInfo},
		"tcbinfo/issuer chain without root": edited(func(a *devpki.Authority, in *input) {
			in.bundle.TCBInfoIssuerChain = devpki.EncodePEMChain(a.TCBSigning())
		}),
		"tcbinfo/signed by the intermediate": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, nil, devpki.WithCollateralSigner(a.IntermediateKey(), a.Intermediate(), a.Root()))
		}, verify.ErrInvalidCollateral, verify.StepTCBInfo},
		"tcbinfo/id TDX":            invalid(devpki.WithTCBInfoID("TDX")),
		"tcbinfo/id missing in v3":  invalid(devpki.EditTCBInfo(replaceJSON(`"id":"SGX",`, ""))),
		"tcbinfo/version 1":         invalid(devpki.WithTCBInfoVersionField(1)),
		"tcbinfo/version 4":         invalid(devpki.WithTCBInfoVersionField(4)),
		"tcbinfo/v2 with v3 levels": invalid(devpki.WithTCBInfoVersionField(2)),
		"tcbinfo/v3 with v2 levels": invalid(devpki.WithTCBInfoVersion(2), devpki.WithTCBInfoVersionField(3),
			devpki.EditTCBInfo(replaceJSON(`{"version":3`, `{"id":"SGX","version":3`))),
		"tcbinfo/wrong FMSPC":       invalid(devpki.WithTCBInfoFMSPC([6]byte{0x00, 0x90, 0x6E, 0xA1, 0x00, 0x00})),
		"tcbinfo/wrong PCE ID":      invalid(devpki.WithTCBInfoPCEID([2]byte{0x00, 0x01})),
		"tcbinfo/FMSPC not hex":     invalid(devpki.EditTCBInfo(replaceJSON(`"fmspc":"00c0de000000"`, `"fmspc":"00c0de00000g"`))),
		"tcbinfo/tcbType 1":         invalid(devpki.WithTCBType(1)),
		"tcbinfo/tcbType missing":   invalid(devpki.EditTCBInfo(replaceJSON(`"tcbType":0,`, ""))),
		"tcbinfo/no levels":         invalid(devpki.WithTCBLevels()),
		"tcbinfo/unknown status":    invalid(devpki.EditTCBInfo(replaceJSON(`"tcbStatus":"UpToDate"`, `"tcbStatus":"Fine"`))),
		"tcbinfo/malformed JSON":    invalid(devpki.EditTCBInfo(func(b []byte) []byte { return b[:len(b)-1] })),
		"tcbinfo/not JSON":          invalid(devpki.EditTCBInfo(func([]byte) []byte { return []byte("tcbInfo") })),
		"tcbinfo/15 components v3":  invalid(devpki.EditTCBInfo(replaceJSON(`{"svn":0},`, ""))),
		"tcbinfo/component SVN 256": invalid(devpki.EditTCBInfo(replaceJSON(`{"svn":0}`, `{"svn":256}`))),
		"tcbinfo/missing component in v2": invalid(devpki.WithTCBInfoVersion(2),
			devpki.EditTCBInfo(replaceJSON(`"sgxtcbcomp16svn":0,`, ""))),
		"tcbinfo/issue date not a date": invalid(devpki.EditTCBInfo(replaceJSON(`"issueDate":"`, `"issueDate":"x`))),
		"tcbinfo/expired": withCollateral(verify.ErrCollateralExpired,
			devpki.WithTCBInfoWindow(issuedAt, verifyAt.Add(-time.Second))),
		"tcbinfo/not yet valid": withCollateral(verify.ErrCollateralExpired,
			devpki.WithTCBInfoWindow(verifyAt.Add(time.Second), nextAt)),
		"tcbinfo/signing certificate expired": {func(t *testing.T) input {
			a := newAuthority(t, devpki.Options{TCBSigningValidity: 10 * 24 * time.Hour})
			return build(t, a, nil)
		}, verify.ErrCollateralExpired, verify.StepTCBInfo},
		"tcbinfo/signing certificate revoked": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, nil, devpki.RevokeInRootCRL(a.TCBSigning().SerialNumber))
		}, verify.ErrInvalidCollateral, verify.StepTCBInfo},
		"extension/FMSPC differs from TCB Info": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			ext := a.Extension()
			ext.FMSPC = [6]byte{0x00, 0x60, 0x6A, 0x00, 0x00, 0x00}
			cert, key, err := a.IssuePCK(devpki.PCKOptions{Extension: &ext})
			if err != nil {
				t.Fatal(err)
			}
			return build(t, a, quoteOpts(devpki.WithLeaf(cert, key)))
		}, verify.ErrInvalidCollateral, verify.StepTCBInfo},
	}
}

func qeIdentityCases() map[string]rejectCase {
	withCollateral := func(kind error, opts ...devpki.CollateralOption) rejectCase {
		return rejectCase{func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, nil, opts...)
		}, kind, verify.StepQEIdentity}
	}
	invalid := func(opts ...devpki.CollateralOption) rejectCase {
		return withCollateral(verify.ErrInvalidCollateral, opts...)
	}
	mismatch := func(opts ...devpki.CollateralOption) rejectCase {
		return withCollateral(verify.ErrQEIdentityMismatch, opts...)
	}
	quoteMismatch := func(edit func(r *devpki.ReportBody)) rejectCase {
		return rejectCase{func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, quoteOpts(devpki.WithQEReport(edit)))
		}, verify.ErrQEIdentityMismatch, verify.StepQEIdentity}
	}
	return map[string]rejectCase{
		"qeidentity/signature corrupted": invalid(devpki.CorruptQEIdentitySignature()),
		"qeidentity/text altered after signing": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			in := build(t, a, nil)
			in.bundle.QEIdentity = bytes.Replace(in.bundle.QEIdentity, []byte(`"isvprodid":1`), []byte(`"isvprodid":2`), 1)
			return in
		}, verify.ErrInvalidCollateral, verify.StepQEIdentity},
		"qeidentity/id QVE":                 invalid(devpki.WithQEIdentityID("QVE")),
		"qeidentity/id TD_QE":               invalid(devpki.WithQEIdentityID("TD_QE")),
		"qeidentity/version 1":              invalid(devpki.WithQEIdentityVersion(1)),
		"qeidentity/version 3":              invalid(devpki.WithQEIdentityVersion(3)),
		"qeidentity/malformed JSON":         invalid(devpki.EditQEIdentity(func(b []byte) []byte { return b[1:] })),
		"qeidentity/mrsigner of odd length": invalid(devpki.EditQEIdentity(replaceJSON(`","isvprodid"`, `0","isvprodid"`))),
		"qeidentity/no levels":              invalid(devpki.WithQELevels()),
		"qeidentity/expired": withCollateral(verify.ErrCollateralExpired,
			devpki.WithQEIdentityWindow(issuedAt, verifyAt.Add(-time.Second))),
		"qeidentity/not yet valid": withCollateral(verify.ErrCollateralExpired,
			devpki.WithQEIdentityWindow(verifyAt.Add(time.Second), nextAt)),
		"qeidentity/MRSIGNER of another QE":  mismatch(devpki.WithQEIdentityMRSigner(devpki.DevMRSigner)),
		"qeidentity/ISVPRODID of another QE": mismatch(devpki.WithQEIdentityISVProdID(2)),
		"qeidentity/QE MRSIGNER differs": quoteMismatch(func(r *devpki.ReportBody) {
			r.MRSigner[0] ^= 0xFF
		}),
		"qeidentity/QE ISVPRODID differs": quoteMismatch(func(r *devpki.ReportBody) { r.ISVProdID = 3 }),
		// 0x01000001 reads the same in either byte order, so the case does
		// not depend on how the hex text maps to the little-endian field.
		"qeidentity/QE MISCSELECT differs": quoteMismatch(func(r *devpki.ReportBody) { r.MiscSelect = 0x01000001 }),
		"qeidentity/MISCSELECT required":   mismatch(devpki.WithQEIdentityMiscSelect(0x01000001, 0xFFFFFFFF)),
		"qeidentity/QE in debug mode": quoteMismatch(func(r *devpki.ReportBody) {
			r.Attributes[0] |= devpki.AttributeDebug
		}),
		"qeidentity/QE without PROVISIONKEY": quoteMismatch(func(r *devpki.ReportBody) {
			r.Attributes[0] &^= devpki.AttributeProvisionKey
		}),
		"qeidentity/attribute required under mask": mismatch(devpki.WithQEIdentityAttributes(
			[16]byte{devpki.AttributeInit | devpki.AttributeProvisionKey | devpki.AttributeEInitToken},
			devpki.DefaultQEAttributesMask)),
		"qeidentity/XFRM required under mask": mismatch(devpki.WithQEIdentityAttributes(
			[16]byte{devpki.AttributeInit | devpki.AttributeProvisionKey, 8: 0x03},
			[16]byte{0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})),
	}
}

func evaluationCases() map[string]rejectCase {
	levels := func(kind error, options func(a *devpki.Authority) ([]devpki.QuoteOption, []devpki.CollateralOption)) rejectCase {
		return rejectCase{func(t *testing.T) input {
			a, _, _ := fixture(t)
			q, c := options(a)
			return build(t, a, q, c...)
		}, kind, verify.StepTCBEvaluation}
	}
	return map[string]rejectCase{
		"tcb/platform revoked": levels(verify.ErrTCBRevoked, func(a *devpki.Authority) ([]devpki.QuoteOption, []devpki.CollateralOption) {
			return nil, []devpki.CollateralOption{devpki.WithTCBLevels(platformLevel(a, devpki.StatusRevoked, nil, "TCS-DEV-SA-00009"))}
		}),
		"tcb/platform revoked in v2": levels(verify.ErrTCBRevoked, func(a *devpki.Authority) ([]devpki.QuoteOption, []devpki.CollateralOption) {
			return nil, []devpki.CollateralOption{devpki.WithTCBInfoVersion(2),
				devpki.WithTCBLevels(platformLevel(a, devpki.StatusRevoked, nil))}
		}),
		"tcb/QE revoked": levels(verify.ErrTCBRevoked, func(a *devpki.Authority) ([]devpki.QuoteOption, []devpki.CollateralOption) {
			return quoteOpts(qeISVSVN(devpki.DevQEISVSVN - 1)), []devpki.CollateralOption{devpki.WithQELevels(
				qeLevel(devpki.DevQEISVSVN, devpki.StatusUpToDate),
				qeLevel(devpki.DevQEISVSVN-1, devpki.StatusRevoked, "TCS-DEV-SA-00010"))}
		}),
		// Intel's current QVL reports a QE below every QE Identity level as
		// not supported (STATUS_SGX_ENCLAVE_REPORT_ISVSVN_NOT_SUPPORTED), as for
		// a platform below every TCB level; older releases said Revoked.
		"tcb/QE below every level": levels(verify.ErrNoMatchingTCBLevel, func(a *devpki.Authority) ([]devpki.QuoteOption, []devpki.CollateralOption) {
			return quoteOpts(qeISVSVN(1)), nil
		}),
		"tcb/no level reached": levels(verify.ErrNoMatchingTCBLevel, func(a *devpki.Authority) ([]devpki.QuoteOption, []devpki.CollateralOption) {
			return nil, []devpki.CollateralOption{devpki.WithTCBLevels(
				platformLevel(a, devpki.StatusUpToDate, raiseComponent(0)),
				platformLevel(a, devpki.StatusOutOfDate, func(l *devpki.TCBLevel) { l.PCESVN++ }))}
		}),
		"tcb/no level reached in v2": levels(verify.ErrNoMatchingTCBLevel, func(a *devpki.Authority) ([]devpki.QuoteOption, []devpki.CollateralOption) {
			return nil, []devpki.CollateralOption{devpki.WithTCBInfoVersion(2),
				devpki.WithTCBLevels(platformLevel(a, devpki.StatusUpToDate, raiseComponent(15)))}
		}),
		"tcb/PCESVN below the only level": levels(verify.ErrNoMatchingTCBLevel, func(a *devpki.Authority) ([]devpki.QuoteOption, []devpki.CollateralOption) {
			return nil, []devpki.CollateralOption{devpki.WithTCBLevels(
				platformLevel(a, devpki.StatusUpToDate, func(l *devpki.TCBLevel) { l.PCESVN++ }))}
		}),
	}
}

// acceptCase builds a valid input and names the TCB status and advisory
// IDs that Verify must return.
type acceptCase struct {
	build      func(t *testing.T) input
	status     string
	advisories []string
}

// TestVerifyAccepts covers the statuses, level selection and merge rules,
// both TCB Info versions and both CA types, and the edges of every window.
func TestVerifyAccepts(t *testing.T) {
	withLevels := func(a func(t *testing.T) *devpki.Authority, version int, q []devpki.QuoteOption,
		platform func(a *devpki.Authority) []devpki.TCBLevel, qe ...devpki.QELevel) func(t *testing.T) input {
		return func(t *testing.T) input {
			auth := a(t)
			c := []devpki.CollateralOption{devpki.WithTCBInfoVersion(version)}
			if platform != nil {
				c = append(c, devpki.WithTCBLevels(platform(auth)...))
			}
			if qe != nil {
				c = append(c, devpki.WithQELevels(qe...))
			}
			return build(t, auth, q, c...)
		}
	}
	platformAuthority := func(t *testing.T) *devpki.Authority { a, _, _ := fixture(t); return a }
	processorAuthority := func(t *testing.T) *devpki.Authority { _, p, _ := fixture(t); return p }
	only := func(status string, advisories ...string) func(a *devpki.Authority) []devpki.TCBLevel {
		return func(a *devpki.Authority) []devpki.TCBLevel {
			return []devpki.TCBLevel{platformLevel(a, status, nil, advisories...)}
		}
	}
	qeOutOfDate := []devpki.QELevel{
		qeLevel(devpki.DevQEISVSVN+1, devpki.StatusUpToDate),
		qeLevel(devpki.DevQEISVSVN, devpki.StatusOutOfDate, "TCS-DEV-SA-00020"),
	}
	defaultInput := func(edit func(t *testing.T, in *input)) func(t *testing.T) input {
		return func(t *testing.T) input {
			a, _, _ := fixture(t)
			in := build(t, a, nil)
			edit(t, &in)
			return in
		}
	}
	withCollateral := func(opts ...devpki.CollateralOption) func(t *testing.T) input {
		return func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, nil, opts...)
		}
	}
	withQuote := func(opts ...devpki.QuoteOption) func(t *testing.T) input {
		return func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, opts)
		}
	}

	cases := map[string]acceptCase{}
	for _, version := range []int{2, 3} {
		for _, ca := range []struct {
			name      string
			authority func(t *testing.T) *devpki.Authority
		}{{"platform", platformAuthority}, {"processor", processorAuthority}} {
			prefix := fmt.Sprintf("v%d/%s/", version, ca.name)
			for _, status := range []string{
				devpki.StatusUpToDate, devpki.StatusSWHardeningNeeded, devpki.StatusConfigurationNeeded,
				devpki.StatusConfigurationAndSWHardeningNeeded, devpki.StatusOutOfDate,
				devpki.StatusOutOfDateConfigurationNeeded,
			} {
				var advisories []string
				if status != devpki.StatusUpToDate {
					advisories = []string{"TCS-DEV-SA-00100"}
				}
				cases[prefix+status] = acceptCase{
					withLevels(ca.authority, version, nil, only(status, advisories...)), status, advisories,
				}
			}
			cases[prefix+"default collateral"] = acceptCase{
				withLevels(ca.authority, version, nil, nil), devpki.StatusUpToDate, nil,
			}
		}
	}

	platformFirst := func(status string, edit func(*devpki.TCBLevel)) func(a *devpki.Authority) []devpki.TCBLevel {
		return func(a *devpki.Authority) []devpki.TCBLevel {
			return []devpki.TCBLevel{
				platformLevel(a, devpki.StatusUpToDate, edit),
				platformLevel(a, status, func(l *devpki.TCBLevel) {
					for i := range l.Components {
						l.Components[i] = 0
					}
					l.PCESVN = 0
				}, "TCS-DEV-SA-00030"),
			}
		}
	}
	merge := func(platform string, want string, advisories ...string) acceptCase {
		return acceptCase{
			withLevels(platformAuthority, 3, nil, only(platform, platformAdvisory(platform)...), qeOutOfDate...),
			want, advisories,
		}
	}
	more := map[string]acceptCase{
		"levels/component above the level": {withLevels(platformAuthority, 3, nil,
			platformFirst(devpki.StatusOutOfDate, lowerComponent(0))), devpki.StatusUpToDate, nil},
		"levels/component below the first level": {withLevels(platformAuthority, 3, nil,
			platformFirst(devpki.StatusOutOfDate, raiseComponent(3))), devpki.StatusOutOfDate,
			[]string{"TCS-DEV-SA-00030"}},
		"levels/last component below the first level": {withLevels(platformAuthority, 3, nil,
			platformFirst(devpki.StatusSWHardeningNeeded, raiseComponent(15))), devpki.StatusSWHardeningNeeded,
			[]string{"TCS-DEV-SA-00030"}},
		"levels/component below in v2": {withLevels(platformAuthority, 2, nil,
			platformFirst(devpki.StatusOutOfDate, raiseComponent(7))), devpki.StatusOutOfDate,
			[]string{"TCS-DEV-SA-00030"}},
		"levels/PCESVN above the level": {withLevels(platformAuthority, 3, nil,
			platformFirst(devpki.StatusOutOfDate, func(l *devpki.TCBLevel) { l.PCESVN-- })), devpki.StatusUpToDate, nil},
		"levels/PCESVN below the first level": {withLevels(platformAuthority, 3, nil,
			platformFirst(devpki.StatusOutOfDate, func(l *devpki.TCBLevel) { l.PCESVN++ })), devpki.StatusOutOfDate,
			[]string{"TCS-DEV-SA-00030"}},
		"levels/first reached level wins": {withLevels(platformAuthority, 3, nil,
			func(a *devpki.Authority) []devpki.TCBLevel {
				return []devpki.TCBLevel{
					platformLevel(a, devpki.StatusSWHardeningNeeded, lowerComponent(1), "TCS-DEV-SA-00040"),
					platformLevel(a, devpki.StatusUpToDate, lowerComponent(0)),
				}
			}), devpki.StatusSWHardeningNeeded, []string{"TCS-DEV-SA-00040"}},
		"levels/revoked level skipped when a higher one matches": {withLevels(platformAuthority, 3, nil,
			func(a *devpki.Authority) []devpki.TCBLevel {
				return []devpki.TCBLevel{
					platformLevel(a, devpki.StatusUpToDate, nil),
					platformLevel(a, devpki.StatusRevoked, lowerComponent(0)),
				}
			}), devpki.StatusUpToDate, nil},

		"merge/QE out of date, platform up to date": merge(devpki.StatusUpToDate, devpki.StatusOutOfDate,
			"TCS-DEV-SA-00020"),
		"merge/QE out of date, platform SW hardening": merge(devpki.StatusSWHardeningNeeded, devpki.StatusOutOfDate,
			"TCS-DEV-SA-00101", "TCS-DEV-SA-00020"),
		"merge/QE out of date, platform configuration": merge(devpki.StatusConfigurationNeeded,
			devpki.StatusOutOfDateConfigurationNeeded, "TCS-DEV-SA-00101", "TCS-DEV-SA-00020"),
		"merge/QE out of date, platform configuration and SW hardening": merge(
			devpki.StatusConfigurationAndSWHardeningNeeded, devpki.StatusOutOfDateConfigurationNeeded,
			"TCS-DEV-SA-00101", "TCS-DEV-SA-00020"),
		"merge/QE out of date, platform out of date": merge(devpki.StatusOutOfDate, devpki.StatusOutOfDate,
			"TCS-DEV-SA-00101", "TCS-DEV-SA-00020"),
		"merge/QE out of date, platform out of date configuration": merge(devpki.StatusOutOfDateConfigurationNeeded,
			devpki.StatusOutOfDateConfigurationNeeded, "TCS-DEV-SA-00101", "TCS-DEV-SA-00020"),
		"merge/QE above every level": {withLevels(platformAuthority, 3, nil, nil,
			qeLevel(devpki.DevQEISVSVN-1, devpki.StatusUpToDate)), devpki.StatusUpToDate, nil},
		"merge/advisory listed once": {withLevels(platformAuthority, 3, nil,
			only(devpki.StatusSWHardeningNeeded, "TCS-DEV-SA-00050", "TCS-DEV-SA-00051"),
			qeLevel(devpki.DevQEISVSVN+1, devpki.StatusUpToDate),
			qeLevel(devpki.DevQEISVSVN, devpki.StatusOutOfDate, "TCS-DEV-SA-00051", "TCS-DEV-SA-00052")),
			devpki.StatusOutOfDate, []string{"TCS-DEV-SA-00050", "TCS-DEV-SA-00051", "TCS-DEV-SA-00052"}},

		"qeidentity/MISCSELECT bits outside the mask": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, quoteOpts(devpki.WithQEReport(func(r *devpki.ReportBody) { r.MiscSelect = 0x01000001 })),
				devpki.WithQEIdentityMiscSelect(0, 0xFEFFFFFE))
		}, devpki.StatusUpToDate, nil},
		"qeidentity/MODE64BIT and XFRM outside the mask": {withLevels(platformAuthority, 3,
			quoteOpts(devpki.WithQEReport(func(r *devpki.ReportBody) {
				r.Attributes[0] &^= devpki.AttributeMode64Bit
				r.Attributes[8] = 0x1F
			})), nil), devpki.StatusUpToDate, nil},

		"window/TCB Info at issueDate": {withCollateral(devpki.WithTCBInfoWindow(verifyAt, nextAt)),
			devpki.StatusUpToDate, nil},
		"window/TCB Info at nextUpdate": {withCollateral(devpki.WithTCBInfoWindow(issuedAt, verifyAt)),
			devpki.StatusUpToDate, nil},
		"window/QE Identity at issueDate": {withCollateral(devpki.WithQEIdentityWindow(verifyAt, nextAt)),
			devpki.StatusUpToDate, nil},
		"window/QE Identity at nextUpdate": {withCollateral(devpki.WithQEIdentityWindow(issuedAt, verifyAt)),
			devpki.StatusUpToDate, nil},
		"window/PCK CRL at thisUpdate": {withCollateral(devpki.WithPCKCRLWindow(verifyAt, nextAt)),
			devpki.StatusUpToDate, nil},
		"window/PCK CRL at nextUpdate": {withCollateral(devpki.WithPCKCRLWindow(issuedAt, verifyAt)),
			devpki.StatusUpToDate, nil},
		"window/root CRL at thisUpdate": {withCollateral(devpki.WithRootCRLWindow(verifyAt, nextAt)),
			devpki.StatusUpToDate, nil},
		"window/root CRL at nextUpdate": {withCollateral(devpki.WithRootCRLWindow(issuedAt, verifyAt)),
			devpki.StatusUpToDate, nil},
		"window/PCK at notBefore": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			cert, key, err := a.IssuePCK(devpki.PCKOptions{NotBefore: verifyAt, NotAfter: nextAt})
			if err != nil {
				t.Fatal(err)
			}
			return build(t, a, quoteOpts(devpki.WithLeaf(cert, key)))
		}, devpki.StatusUpToDate, nil},
		"window/PCK at notAfter": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			cert, key, err := a.IssuePCK(devpki.PCKOptions{NotBefore: certStart, NotAfter: verifyAt})
			if err != nil {
				t.Fatal(err)
			}
			return build(t, a, quoteOpts(devpki.WithLeaf(cert, key)))
		}, devpki.StatusUpToDate, nil},

		"crl/other serial revoked": {func(t *testing.T) input {
			a, _, foreign := fixture(t)
			return build(t, a, nil, devpki.RevokeSerials(foreign.PCK().SerialNumber))
		}, devpki.StatusUpToDate, nil},
		"crl/other intermediate revoked": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			processor, _ := a.CA(devpki.ProcessorCA)
			return build(t, a, nil, devpki.RevokeInRootCRL(processor.SerialNumber))
		}, devpki.StatusUpToDate, nil},
		"crl/PEM encoding": {withCollateral(devpki.WithCRLFormat(devpki.CRLPEM)), devpki.StatusUpToDate, nil},
		"crl/hex encoding": {withCollateral(devpki.WithCRLFormat(devpki.CRLHex)), devpki.StatusUpToDate, nil},

		"chain/root first": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, quoteOpts(devpki.WithChain(a.Root(), a.Intermediate(), a.PCK())))
		}, devpki.StatusUpToDate, nil},
		"chain/intermediate first": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			return build(t, a, quoteOpts(devpki.WithChain(a.Intermediate(), a.PCK(), a.Root())))
		}, devpki.StatusUpToDate, nil},
		"chain/without trailing NUL": {withQuote(devpki.WithoutChainNUL()), devpki.StatusUpToDate, nil},
		"chain/CRLF line endings": {func(t *testing.T) input {
			a, _, _ := fixture(t)
			pemChain := devpki.EncodePEMChain(a.PCK(), a.Intermediate(), a.Root())
			crlf := append(bytes.ReplaceAll(pemChain, []byte("\n"), []byte("\r\n")), 0)
			return build(t, a, quoteOpts(devpki.WithCertData(crlf)))
		}, devpki.StatusUpToDate, nil},
		"chain/extra development root trusted": {defaultInput(func(t *testing.T, in *input) {
			_, _, foreign := fixture(t)
			in.roots = append(in.roots, foreign.Root())
		}), devpki.StatusUpToDate, nil},

		"quote/larger QE auth data": {withQuote(devpki.WithQEAuthData(bytes.Repeat([]byte{0xA5}, 600))),
			devpki.StatusUpToDate, nil},
		"quote/empty QE auth data": {withQuote(devpki.WithQEAuthData(nil)), devpki.StatusUpToDate, nil},
		"quote/debug enclave":      {withQuote(devpki.WithDebug()), devpki.StatusUpToDate, nil},
		"collateral/lower-case QE mrsigner": {withCollateral(devpki.EditQEIdentity(func(b []byte) []byte {
			upper := strings.ToUpper(hex.EncodeToString(devpki.DevQEMRSigner[:]))
			return bytes.Replace(b, []byte(upper), []byte(strings.ToLower(upper)), 1)
		})), devpki.StatusUpToDate, nil},
		"collateral/upper-case FMSPC": {withCollateral(devpki.EditTCBInfo(
			replaceJSON(`"fmspc":"00c0de000000"`, `"fmspc":"00C0DE000000"`))), devpki.StatusUpToDate, nil},
	}
	for name, c := range more {
		cases[name] = c
	}

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := run(tc.build(t))
			checkVerified(t, r, err, tc.status)
			if r == nil {
				return
			}
			if !sameSet(r.AdvisoryIDs, tc.advisories) {
				t.Errorf("advisory IDs = %q, want %q", r.AdvisoryIDs, tc.advisories)
			}
		})
	}
}

// platformAdvisory is the advisory of a single-level TCB Info in the merge
// cases: none for UpToDate.
func platformAdvisory(status string) []string {
	if status == devpki.StatusUpToDate {
		return nil
	}
	return []string{"TCS-DEV-SA-00101"}
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	a, b := slices.Clone(got), slices.Clone(want)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestVerifyResultFields checks what a verified development quote reports
// about its root, platform and enclave.
func TestVerifyResultFields(t *testing.T) {
	for _, caType := range []devpki.CAType{devpki.PlatformCA, devpki.ProcessorCA} {
		t.Run(string(caType), func(t *testing.T) {
			a := newAuthority(t, devpki.Options{
				CAType: caType, FMSPC: [6]byte{0x00, 0x90, 0x6E, 0xD5, 0x00, 0x00}, PCEID: [2]byte{0x00, 0x00},
			})
			var reportData [64]byte
			copy(reportData[:], "result fields")
			q, err := a.Quote(reportData, devpki.WithISVSVN(7))
			if err != nil {
				t.Fatal(err)
			}
			b, err := a.Collateral(verifyAt, devpki.WithPCKCRLWindow(issuedAt.Add(-time.Hour), nextAt.Add(time.Hour)))
			if err != nil {
				t.Fatal(err)
			}
			r, err := verify.New(verify.Config{ExtraRoots: []*x509.Certificate{a.Root()}}).Verify(q, b, verifyAt)
			checkVerified(t, r, err, devpki.StatusUpToDate)
			if r == nil {
				return
			}

			if !r.DevelopmentRoot {
				t.Error("DevelopmentRoot is false for a chain under the development root")
			}
			if r.TrustedRoot != devpki.RootCommonName {
				t.Errorf("TrustedRoot = %q, want %q", r.TrustedRoot, devpki.RootCommonName)
			}
			if r.CAType != string(caType) {
				t.Errorf("CAType = %q, want %q", r.CAType, caType)
			}
			if r.FMSPC != a.FMSPC() {
				t.Errorf("FMSPC = %x, want %x", r.FMSPC, a.FMSPC())
			}
			if r.PCEID != a.PCEID() {
				t.Errorf("PCEID = %x, want %x", r.PCEID, a.PCEID())
			}
			if r.Enclave.MREnclave != devpki.DevMREnclave || r.Enclave.MRSigner != devpki.DevMRSigner {
				t.Errorf("enclave measurements %x / %x are not the development enclave's",
					r.Enclave.MREnclave, r.Enclave.MRSigner)
			}
			if r.Enclave.ISVProdID != devpki.DevISVProdID || r.Enclave.ISVSVN != 7 {
				t.Errorf("ISVPRODID %d ISVSVN %d, want %d and 7", r.Enclave.ISVProdID, r.Enclave.ISVSVN, devpki.DevISVProdID)
			}
			if r.Enclave.ReportData != reportData {
				t.Errorf("report data = %x", r.Enclave.ReportData)
			}
			if r.Enclave.Attributes != devpki.DevAttributes || r.Enclave.Debug {
				t.Errorf("attributes %x debug %v, want %x and false", r.Enclave.Attributes, r.Enclave.Debug, devpki.DevAttributes)
			}
			// The PCK CRL window is wider than the others, so the issue
			// date and next update come from TCB Info, QE Identity and the
			// root CA CRL, which share one window.
			if !r.CollateralIssueDate.Equal(issuedAt) {
				t.Errorf("CollateralIssueDate = %s, want %s", r.CollateralIssueDate, issuedAt)
			}
			if !r.CollateralNextUpdate.Equal(nextAt) {
				t.Errorf("CollateralNextUpdate = %s, want %s", r.CollateralNextUpdate, nextAt)
			}
		})
	}
}

// TestVerifyCollateralDates checks that the reported dates are the latest
// issueDate and the earliest nextUpdate over all collateral.
func TestVerifyCollateralDates(t *testing.T) {
	a, _, _ := fixture(t)
	latestIssue := verifyAt.Add(-time.Minute)
	earliestNext := verifyAt.Add(time.Minute)
	cases := map[string][]devpki.CollateralOption{
		"tcb info":    {devpki.WithTCBInfoWindow(latestIssue, earliestNext)},
		"qe identity": {devpki.WithQEIdentityWindow(latestIssue, earliestNext)},
		"pck crl":     {devpki.WithPCKCRLWindow(latestIssue, earliestNext)},
		"root crl":    {devpki.WithRootCRLWindow(latestIssue, earliestNext)},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := run(build(t, a, nil, opts...))
			checkVerified(t, r, err, devpki.StatusUpToDate)
			if r == nil {
				return
			}
			if !r.CollateralIssueDate.Equal(latestIssue) {
				t.Errorf("CollateralIssueDate = %s, want %s", r.CollateralIssueDate, latestIssue)
			}
			if !r.CollateralNextUpdate.Equal(earliestNext) {
				t.Errorf("CollateralNextUpdate = %s, want %s", r.CollateralNextUpdate, earliestNext)
			}
		})
	}
}

// TestVerifyRevokedResult checks that a Revoked TCB still reports its
// status and advisories.
func TestVerifyRevokedResult(t *testing.T) {
	a, _, _ := fixture(t)
	in := build(t, a, nil, devpki.WithTCBLevels(platformLevel(a, devpki.StatusRevoked, nil, "TCS-DEV-SA-00009")))
	r, err := run(in)
	checkRejected(t, r, err, verify.ErrTCBRevoked, verify.StepTCBEvaluation)
	if r.TCBStatus != devpki.StatusRevoked {
		t.Errorf("TCB status = %q, want Revoked", r.TCBStatus)
	}
	if !sameSet(r.AdvisoryIDs, []string{"TCS-DEV-SA-00009"}) {
		t.Errorf("advisory IDs = %q", r.AdvisoryIDs)
	}
}

// TestVerifyWarmCacheChecksTime verifies the same quote and collateral
// twice with one Verifier: the second call, served from the cache, must
// still check every window at its own time.
func TestVerifyWarmCacheChecksTime(t *testing.T) {
	a, _, _ := fixture(t)
	in := build(t, a, nil)
	v := verify.New(verify.Config{ExtraRoots: in.roots})
	r, err := v.Verify(in.quote, in.bundle, in.at)
	checkVerified(t, r, err, devpki.StatusUpToDate)

	cases := map[string]struct {
		at   time.Time
		step verify.Step
	}{
		"after next update":  {nextAt.Add(time.Second), verify.StepCRL},
		"before issue date":  {issuedAt.Add(-time.Second), verify.StepCRL},
		"after PCK validity": {a.PCK().NotAfter.Add(time.Second), verify.StepPCKChain},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := v.Verify(in.quote, in.bundle, tc.at)
			checkRejected(t, r, err, verify.ErrCollateralExpired, tc.step)
		})
	}

	r, err = v.Verify(in.quote, in.bundle, in.at)
	checkVerified(t, r, err, devpki.StatusUpToDate)
}

// TestVerifyDevelopmentQuoteRoots checks the one rule a key server relies
// on for the development backend: its quotes pass only when the
// development root is configured.
func TestVerifyDevelopmentQuoteRoots(t *testing.T) {
	a, _, _ := fixture(t)
	q, err := a.Quote(devpki.ReportDataForRSAKey(nil, devpki.DefaultNonce))
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.Collateral(verifyAt)
	if err != nil {
		t.Fatal(err)
	}

	r, err := verify.New(verify.Config{}).Verify(q, b, verifyAt)
	checkRejected(t, r, err, verify.ErrUntrustedPCKChain, verify.StepPCKChain)

	r, err = verify.New(verify.Config{ExtraRoots: []*x509.Certificate{a.Root()}}).Verify(q, b, verifyAt)
	checkVerified(t, r, err, devpki.StatusUpToDate)
	if r != nil && (!r.DevelopmentRoot || r.TrustedRoot != devpki.RootCommonName) {
		t.Errorf("DevelopmentRoot %v TrustedRoot %q, want true and %q", r.DevelopmentRoot, r.TrustedRoot, devpki.RootCommonName)
	}
}

// TestVerifyLoadedAuthority verifies a quote from an authority saved and
// loaded again, the way the demo's processes share one.
func TestVerifyLoadedAuthority(t *testing.T) {
	a, _, _ := fixture(t)
	dir := t.TempDir()
	if err := a.Save(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := devpki.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	q, err := loaded.Quote([64]byte{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.Collateral(verifyAt)
	if err != nil {
		t.Fatal(err)
	}
	r, err := verify.New(verify.Config{ExtraRoots: []*x509.Certificate{a.Root()}}).Verify(q, b, verifyAt)
	checkVerified(t, r, err, devpki.StatusUpToDate)
}

// TestVerifyRSAKeyBinding checks that the report data of a quote built for
// an RSA key reaches the result unchanged, for the key server to compare.
func TestVerifyRSAKeyBinding(t *testing.T) {
	a, _, _ := fixture(t)
	// Only the bytes of the key enter the binding, so a constructed
	// 3072-bit modulus serves.
	modulus := append([]byte{0xC3}, bytes.Repeat([]byte{0x5A}, 383)...)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(modulus), E: 65537}
	nonce := [16]byte{0xFE, 0xED}
	want := devpki.ReportDataForRSAKey(pub, nonce)
	q, err := a.Quote(want)
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.Collateral(verifyAt)
	if err != nil {
		t.Fatal(err)
	}
	r, err := verify.New(verify.Config{ExtraRoots: []*x509.Certificate{a.Root()}}).Verify(q, b, verifyAt)
	checkVerified(t, r, err, devpki.StatusUpToDate)
	if r.Enclave.ReportData != want {
		t.Errorf("report data = %x, want %x", r.Enclave.ReportData, want)
	}
}
