package verify

import (
	"errors"
	"strings"
	"testing"
)

func TestErrorMessageAndUnwrap(t *testing.T) {
	cause := errors.New("asn1: syntax error")
	err := error(fail(StepPCKExtension, ErrUntrustedPCKChain, "PCK certificate serial 1f", cause))

	msg := err.Error()
	for _, want := range []string{"pck-extension", "untrusted PCK certificate chain", "serial 1f", "asn1: syntax error"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if !errors.Is(err, ErrUntrustedPCKChain) {
		t.Error("errors.Is does not find the kind")
	}
	if !errors.Is(err, cause) {
		t.Error("errors.Is does not find the cause")
	}
	if errors.Is(err, ErrTCBRevoked) {
		t.Error("errors.Is matches another kind")
	}
	var verr *Error
	if !errors.As(err, &verr) || verr.Step != StepPCKExtension {
		t.Errorf("errors.As = %+v", verr)
	}
}

func TestErrorWithoutCause(t *testing.T) {
	err := failf(StepQuoteSignature, ErrInvalidQuoteSignature, "key %x", []byte{1, 2})
	if got := err.Error(); got != "quote verification failed at step quote-signature: invalid quote signature: key 0102" {
		t.Errorf("Error() = %q", got)
	}
	if len(err.Unwrap()) != 1 {
		t.Errorf("Unwrap() = %v, want only the kind", err.Unwrap())
	}
}
