package token

import (
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

// Errors that callers tell apart.
var (
	// ErrModuleNotFound reports a PKCS#11 module path that is empty, missing
	// or not a loadable module.
	ErrModuleNotFound = errors.New("pkcs#11 module not found")
	// ErrTokenNotFound reports that no token has the configured label and the
	// token could not be initialised.
	ErrTokenNotFound = errors.New("pkcs#11 token not found")
	// ErrPINIncorrect reports that the token rejected the PIN.
	ErrPINIncorrect = errors.New("pin incorrect")
	// ErrPINLocked reports that the token locked the PIN after failed logins.
	ErrPINLocked = errors.New("pin locked")
	// ErrNotFound reports that no quote key or signer has the name.
	ErrNotFound = errors.New("not found in the token")
	// ErrExists reports that a quote key or signer with the name exists.
	ErrExists = errors.New("already exists in the token")
	// ErrCertificateMismatch reports a certificate whose public key does not
	// belong to the private key.
	ErrCertificateMismatch = errors.New("certificate does not match the private key")
	// ErrUnsupportedKey reports a key algorithm or size that the token layer
	// does not handle.
	ErrUnsupportedKey = errors.New("unsupported key")
	// ErrMechanismUnsupported reports that the token lacks a mechanism an
	// operation needs.
	ErrMechanismUnsupported = errors.New("mechanism not supported")
	// ErrClosed reports use of a closed Token.
	ErrClosed = errors.New("token is closed")
)

// isRV reports whether err is the PKCS#11 return value rv.
func isRV(err error, rv uint) bool {
	var p11Err pkcs11.Error
	return errors.As(err, &p11Err) && uint(p11Err) == rv
}

// loginError maps a failed C_Login to a sentinel where one applies.
func loginError(label string, err error) error {
	switch {
	case isRV(err, pkcs11.CKR_PIN_INCORRECT), isRV(err, pkcs11.CKR_PIN_INVALID),
		isRV(err, pkcs11.CKR_PIN_LEN_RANGE):
		return fmt.Errorf("log in to token %q: %w: check the configured user pin (%v)",
			label, ErrPINIncorrect, err)
	case isRV(err, pkcs11.CKR_PIN_LOCKED):
		return fmt.Errorf("log in to token %q: %w: the security officer must reset the user pin",
			label, ErrPINLocked)
	}
	return fmt.Errorf("log in to token %q: %w", label, err)
}
