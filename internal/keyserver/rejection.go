package keyserver

import (
	"errors"
	"fmt"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/dcap/quote"
	"github.com/tcs-project/tcs/internal/dcap/verify"
	"github.com/tcs-project/tcs/internal/policy"
)

// rejection is a permanent answer of Failure with a state code and a
// message for a person.
type rejection struct {
	state   string
	message string
}

func reject(state, format string, args ...any) *rejection {
	return &rejection{state: state, message: fmt.Sprintf(format, args...)}
}

func (r *rejection) Error() string { return r.state + ": " + r.message }

// verificationState maps a verifier error to the state code of the answer.
func verificationState(err error) string {
	switch {
	case errors.Is(err, quote.ErrUnsupported):
		return sgxv1alpha1.StateUnsupportedQuoteVersion
	case errors.Is(err, verify.ErrMalformedQuote), errors.Is(err, quote.ErrMalformed):
		return sgxv1alpha1.StateMalformedQuote
	case errors.Is(err, verify.ErrUnsupportedQuote):
		return sgxv1alpha1.StateUnsupportedQuoteVersion
	case errors.Is(err, verify.ErrInvalidQuoteSignature):
		return sgxv1alpha1.StateInvalidQuoteSignature
	case errors.Is(err, verify.ErrRevokedPCKChain):
		return sgxv1alpha1.StateRevokedPCKChain
	case errors.Is(err, verify.ErrUntrustedPCKChain):
		return sgxv1alpha1.StateUntrustedPCKChain
	case errors.Is(err, verify.ErrCollateralExpired):
		return sgxv1alpha1.StateCollateralExpired
	case errors.Is(err, verify.ErrInvalidCollateral):
		return sgxv1alpha1.StateInvalidCollateral
	case errors.Is(err, verify.ErrQEIdentityMismatch):
		return sgxv1alpha1.StateQEIdentityMismatch
	case errors.Is(err, verify.ErrNoMatchingTCBLevel):
		return sgxv1alpha1.StateNoMatchingTCBLevel
	case errors.Is(err, verify.ErrTCBRevoked):
		return sgxv1alpha1.StateTCBRevoked
	default:
		return sgxv1alpha1.StateMalformedQuote
	}
}

// policyState maps a release policy reason to the state code of the answer.
func policyState(reason policy.Reason) string {
	switch reason {
	case policy.ReasonUnknownSigner:
		return sgxv1alpha1.StateUnknownSigner
	case policy.ReasonDebugEnclave:
		return sgxv1alpha1.StateDebugEnclave
	case policy.ReasonEnclaveNotAllowed:
		return sgxv1alpha1.StateEnclaveIdentityNotAllowed
	case policy.ReasonTCBStatusNotAccepted:
		return sgxv1alpha1.StateTCBStatusNotAccepted
	case policy.ReasonTCBRevoked:
		return sgxv1alpha1.StateTCBRevoked
	default:
		return sgxv1alpha1.StatePolicyDenied
	}
}
