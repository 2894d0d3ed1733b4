package verify

import (
	"errors"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/dcap/quote"
)

// Platform parses a quote and verifies its PCK certificate chain up to a
// trusted root, without collateral or a time, and returns the platform's
// FMSPC and PCK CA type ("platform" or "processor"). A caller uses it to
// pick the collateral for Verify, so that collateral is never fetched for
// a chain that no trusted root signed. The error is an *Error.
func (v *Verifier) Platform(raw []byte) (fmspc [6]byte, caType string, err error) {
	q, perr := quote.Parse(raw)
	if perr != nil {
		kind := ErrMalformedQuote
		if errors.Is(perr, quote.ErrUnsupported) {
			kind = ErrUnsupportedQuote
		}
		return fmspc, "", fail(StepParse, kind, "", perr)
	}
	chain, verr := v.pckChainFor(q.Signature.CertData)
	if verr != nil {
		return fmspc, "", verr
	}
	return chain.ext.FMSPC, chain.caType, nil
}

// VerifyCollateral checks the signatures and issuer chains of a bundle,
// but not its validity windows, which depend on the verification time. A
// collateral cache uses it to refuse a damaged bundle instead of serving
// it until its next update. The error is an *Error.
func (v *Verifier) VerifyCollateral(c *collateral.Bundle) error {
	if c == nil {
		return failf(StepCRL, ErrInvalidCollateral, "no collateral bundle")
	}
	if _, err := v.collateralFor(c); err != nil {
		return err
	}
	return nil
}
