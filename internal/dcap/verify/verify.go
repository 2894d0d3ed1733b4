// Package verify checks Intel SGX ECDSA quotes (version 3) against DCAP
// collateral the way Intel's Quote Verification Library does, at an
// explicit time. The steps are the PCK chain to the pinned Intel SGX Root
// CA, the CRLs, the PCK SGX extension, the QE report signature and binding,
// the quote signature, TCB Info and QE Identity, TCB level selection and
// the merged TCB status.
//
// It reports the enclave's identity without judging it: which enclaves and
// statuses to accept is the release policy's job.
package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/dcap/quote"
	"github.com/tcs-project/tcs/internal/dcap/sgxroot"
)

// Config configures a Verifier.
type Config struct {
	// ExtraRoots are development roots trusted in addition to the pinned,
	// embedded Intel SGX Root CA. A result verified under one reports it.
	ExtraRoots []*x509.Certificate
}

// Verifier verifies quotes. It is safe for concurrent use, and it keeps
// the PCK chains and collateral it verified, so that the next quote from
// the same platform costs about its own two signature checks. Cached
// results do not depend on the verification time: every call still checks
// each validity window at its own time.
type Verifier struct {
	roots      []trustedRoot
	chains     *cache[*pckChain]
	collateral *cache[*verifiedCollateral]
	// issued holds the (certificate, issuer) pairs whose signature verified.
	issued *cache[struct{}]
}

// New returns a Verifier that trusts the Intel SGX Root CA and cfg's extra
// roots.
func New(cfg Config) *Verifier {
	v := &Verifier{
		roots:      []trustedRoot{{cert: sgxroot.Certificate()}},
		chains:     newCache[*pckChain](DefaultCacheEntries),
		collateral: newCache[*verifiedCollateral](DefaultCacheEntries),
		issued:     newCache[struct{}](DefaultCacheEntries),
	}
	for _, r := range cfg.ExtraRoots {
		if r != nil {
			v.roots = append(v.roots, trustedRoot{cert: r, development: true})
		}
	}
	return v
}

// Verify verifies a raw quote against the collateral c at time at. It
// returns a non-nil Result in every case; on failure Result.Verified is
// false, Result.Step names the failing step and the error is an *Error.
// A Revoked TCB is a failure (ErrTCBRevoked); every other status verifies.
func (v *Verifier) Verify(raw []byte, c *collateral.Bundle, at time.Time) (*Result, error) {
	r := &Result{}
	if err := v.verify(raw, c, at, r); err != nil {
		r.Verified = false
		r.Step = err.Step
		return r, err
	}
	r.Verified = true
	return r, nil
}

func (v *Verifier) verify(raw []byte, c *collateral.Bundle, at time.Time, r *Result) *Error {
	q, perr := quote.Parse(raw)
	if perr != nil {
		kind := ErrMalformedQuote
		if errors.Is(perr, quote.ErrUnsupported) {
			kind = ErrUnsupportedQuote
		}
		return fail(StepParse, kind, "", perr)
	}
	r.Enclave = enclaveIdentity(&q.Body)
	// Only Intel's quoting enclave is supported: its identity is the QE
	// Identity that Intel signs.
	if q.Header.QEVendorID != quote.IntelQEVendorID {
		return failf(StepParse, ErrUnsupportedQuote, "QE vendor ID %x, only Intel's %x is supported",
			q.Header.QEVendorID, quote.IntelQEVendorID)
	}
	if c == nil {
		return failf(StepCRL, ErrInvalidCollateral, "no collateral bundle")
	}

	chain, err := v.pckChainFor(q.Signature.CertData)
	if err != nil {
		return err
	}
	r.FMSPC, r.PCEID, r.CAType = chain.ext.FMSPC, chain.ext.PCEID, chain.caType
	r.TrustedRoot, r.DevelopmentRoot = chain.trusted.cert.Subject.CommonName, chain.trusted.development
	if err := chain.checkTime(at); err != nil {
		return err
	}

	vc, err := v.collateralFor(c)
	if err != nil {
		return err
	}
	r.CollateralIssueDate, r.CollateralNextUpdate = vc.issueDate, vc.nextUpdate
	if err := checkRevocation(chain, vc, at); err != nil {
		return err
	}

	if err := checkQuoteSignatures(q, chain); err != nil {
		return err
	}

	if err := vc.checkTime(at, StepTCBInfo); err != nil {
		return err
	}
	if vc.tcbInfo.FMSPC != chain.ext.FMSPC {
		return failf(StepTCBInfo, ErrInvalidCollateral, "TCB Info is for FMSPC %x, the PCK certificate has %x",
			vc.tcbInfo.FMSPC, chain.ext.FMSPC)
	}
	if vc.tcbInfo.PCEID != chain.ext.PCEID {
		return failf(StepTCBInfo, ErrInvalidCollateral, "TCB Info is for PCE ID %x, the PCK certificate has %x",
			vc.tcbInfo.PCEID, chain.ext.PCEID)
	}

	if err := vc.checkTime(at, StepQEIdentity); err != nil {
		return err
	}
	return evaluateTCB(vc, chain.ext, &q.Signature.QEReport, r)
}

// pckChainFor returns the verified PCK chain of certData, from the cache
// when it was verified before.
func (v *Verifier) pckChainFor(certData []byte) (*pckChain, *Error) {
	key := [][]byte{certData}
	if chain, ok := v.chains.get(key); ok {
		return chain, nil
	}
	chain, err := v.verifyPCKChain(certData)
	if err != nil {
		return nil, err
	}
	v.chains.put(key, chain)
	return chain, nil
}

// collateralFor returns the verified form of c, from the cache when the
// same bytes were verified before.
func (v *Verifier) collateralFor(c *collateral.Bundle) (*verifiedCollateral, *Error) {
	key := [][]byte{
		c.TCBInfo, c.TCBInfoSignature, c.TCBInfoIssuerChain,
		c.QEIdentity, c.QEIdentitySignature, c.QEIdentityIssuerChain,
		c.PCKCRL, c.PCKCRLIssuerChain, c.RootCACRL,
	}
	if vc, ok := v.collateral.get(key); ok {
		return vc, nil
	}
	vc, err := v.verifyCollateral(c)
	if err != nil {
		return nil, err
	}
	v.collateral.put(key, vc)
	return vc, nil
}

// checkRevocation checks the CRL windows and that the collateral's CRLs
// are those of the PCK chain's CAs and revoke neither of its certificates.
func checkRevocation(chain *pckChain, vc *verifiedCollateral, at time.Time) *Error {
	if !bytes.Equal(vc.root.Raw, chain.root.Raw) {
		return failf(StepCRL, ErrInvalidCollateral, "collateral is anchored at root %q, the PCK chain at another root %q",
			vc.root.Subject.CommonName, chain.root.Subject.CommonName)
	}
	if !bytes.Equal(vc.pckCRLIssuer.RawSubject, chain.intermediate.RawSubject) ||
		!bytes.Equal(vc.pckCRLIssuer.RawSubjectPublicKeyInfo, chain.intermediate.RawSubjectPublicKeyInfo) {
		return failf(StepCRL, ErrInvalidCollateral, "PCK CRL is issued by %q, but the PCK certificate by %q",
			vc.pckCRLIssuer.Subject.CommonName, chain.intermediate.Subject.CommonName)
	}
	if err := vc.checkTime(at, StepCRL); err != nil {
		return err
	}
	if vc.rootRevoked[string(chain.intermediate.SerialNumber.Bytes())] {
		return failf(StepCRL, ErrRevokedPCKChain, "intermediate CA %q serial %s is revoked by the root CA CRL",
			chain.intermediate.Subject.CommonName, chain.intermediate.SerialNumber.Text(16))
	}
	if vc.pckRevoked[string(chain.leaf.SerialNumber.Bytes())] {
		return failf(StepCRL, ErrRevokedPCKChain, "PCK certificate serial %s is revoked by the PCK CRL",
			chain.leaf.SerialNumber.Text(16))
	}
	return nil
}

// checkQuoteSignatures checks the QE report signature by the PCK key, the
// binding of the attestation key to the QE report, and the quote signature
// by the attestation key.
func checkQuoteSignatures(q *quote.Quote, chain *pckChain) *Error {
	sig := &q.Signature
	qeDigest := sha256.Sum256(sig.QEReportRaw)
	if !verifyRawSignature(chain.leafKey, qeDigest[:], sig.QEReportSignature[:]) {
		return failf(StepQEReportSignature, ErrInvalidQuoteSignature,
			"QE report signature does not verify under the PCK certificate key (serial %s)", chain.leaf.SerialNumber.Text(16))
	}

	// The QE report data binds the attestation key: its first 32 bytes are
	// SHA-256(attestation key || QE authentication data), the rest is zero
	// (Intel SGX ECDSA Quote Library API, "QE Report Data").
	h := sha256.New()
	h.Write(sig.AttestationKey[:])
	h.Write(sig.QEAuthData)
	want := h.Sum(nil)
	data := sig.QEReport.ReportData
	if !bytes.Equal(data[:sha256.Size], want) {
		return failf(StepQEReportBinding, ErrInvalidQuoteSignature,
			"QE report data %x is not SHA-256 of the attestation key and QE authentication data %x", data[:sha256.Size], want)
	}
	if !allZero(data[sha256.Size:]) {
		return failf(StepQEReportBinding, ErrInvalidQuoteSignature, "QE report data bytes 32..63 are %x, not zero", data[sha256.Size:])
	}

	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, sig.AttestationKey[:]...))
	if err != nil {
		return fail(StepQuoteSignature, ErrInvalidQuoteSignature, "attestation key is not a P-256 point", err)
	}
	digest := sha256.Sum256(q.Raw[:quote.SignedSize])
	if !verifyRawSignature(key, digest[:], sig.QuoteSignature[:]) {
		return failf(StepQuoteSignature, ErrInvalidQuoteSignature, "quote signature does not verify under the attestation key %x",
			sig.AttestationKey[:8])
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
