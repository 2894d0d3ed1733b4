package verify

import (
	"errors"
	"fmt"
)

// Step names a stage of verification; a failure reports the step at which
// it happened.
type Step string

// Steps in the order Verify runs them.
const (
	StepParse             Step = "parse"
	StepPCKChain          Step = "pck-chain"
	StepCRL               Step = "crl"
	StepPCKExtension      Step = "pck-extension"
	StepQEReportSignature Step = "qe-report-signature"
	StepQEReportBinding   Step = "qe-report-binding"
	StepQuoteSignature    Step = "quote-signature"
	StepTCBInfo           Step = "tcb-info"
	StepQEIdentity        Step = "qe-identity"
	StepTCBEvaluation     Step = "tcb-evaluation"
)

// Kinds of failure. An *Error wraps exactly one of them, so that a caller
// can map a rejection to its own codes with errors.Is.
var (
	ErrMalformedQuote   = errors.New("malformed quote")
	ErrUnsupportedQuote = errors.New("unsupported quote")
	// ErrInvalidQuoteSignature covers the quote signature, the QE report
	// signature and the binding of the attestation key to the QE report.
	ErrInvalidQuoteSignature = errors.New("invalid quote signature")
	ErrUntrustedPCKChain     = errors.New("untrusted PCK certificate chain")
	// ErrRevokedPCKChain is a revoked PCK certificate or intermediate CA.
	ErrRevokedPCKChain = errors.New("revoked PCK certificate chain")
	// ErrInvalidCollateral covers bad JSON, a bad signature or chain, a
	// wrong id, version, FMSPC or PCE ID, and a bad CRL.
	ErrInvalidCollateral = errors.New("invalid collateral")
	// ErrCollateralExpired is a verification time outside a validity window:
	// of TCB Info, QE Identity, a CRL or a certificate.
	ErrCollateralExpired  = errors.New("collateral or certificate expired or not yet valid")
	ErrQEIdentityMismatch = errors.New("quoting enclave does not match its identity")
	ErrNoMatchingTCBLevel = errors.New("no matching TCB level")
	ErrTCBRevoked         = errors.New("TCB revoked")
)

// Error is a verification failure: the step, the kind (one of the Err
// sentinels), the value that failed and the underlying cause.
type Error struct {
	Step  Step
	Kind  error
	Value string
	Err   error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("quote verification failed at step %s: %v", e.Step, e.Kind)
	if e.Value != "" {
		msg += ": " + e.Value
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the kind and the cause, so errors.Is matches either.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

func fail(step Step, kind error, value string, err error) *Error {
	return &Error{Step: step, Kind: kind, Value: value, Err: err}
}

func failf(step Step, kind error, format string, args ...any) *Error {
	return &Error{Step: step, Kind: kind, Value: fmt.Sprintf(format, args...)}
}
