package keyserver

import (
	"errors"
	"fmt"
	"testing"

	"github.com/miekg/pkcs11"
)

func TestPKCS11FailureClassification(t *testing.T) {
	for name, tc := range map[string]struct {
		err       error
		permanent bool
	}{
		"key unextractable":   {pkcs11.Error(pkcs11.CKR_KEY_UNEXTRACTABLE), true},
		"key not wrappable":   {pkcs11.Error(pkcs11.CKR_KEY_NOT_WRAPPABLE), true},
		"mechanism invalid":   {pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID), true},
		"wrapped in context":  {fmt.Errorf("wrap: %w", pkcs11.Error(pkcs11.CKR_TEMPLATE_INCONSISTENT)), true},
		"session closed":      {pkcs11.Error(pkcs11.CKR_SESSION_CLOSED), false},
		"session invalid":     {pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID), false},
		"device error":        {pkcs11.Error(pkcs11.CKR_DEVICE_ERROR), false},
		"device removed":      {pkcs11.Error(pkcs11.CKR_DEVICE_REMOVED), false},
		"not logged in":       {pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN), false},
		"not a pkcs#11 error": {errors.New("connection reset"), false},
	} {
		t.Run(name, func(t *testing.T) {
			err := pkcs11Failure(tc.err, "wrap the CA key of %s", "ca")
			if got := errors.Is(err, ErrKeyStore); got != tc.permanent {
				t.Errorf("errors.Is(%v, ErrKeyStore) = %v, want %v", err, got, tc.permanent)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("%v does not wrap the PKCS#11 error %v", err, tc.err)
			}
		})
	}
}
