package signing

import "errors"

var (
	// ErrInvalidRequest marks a request that can never be signed as given:
	// a malformed or badly signed CSR, a weak or unsupported key, an
	// unknown usage or an out-of-range duration. Controllers mark such a
	// request failed instead of retrying it.
	ErrInvalidRequest = errors.New("invalid certificate request")

	// ErrUnusableCA marks a CA certificate that cannot issue the request:
	// it is not a CA, it is outside its validity period, its path length
	// forbids the request, or it does not match the signer. An operator has
	// to renew or replace the CA, so controllers retry with a backoff.
	ErrUnusableCA = errors.New("unusable CA certificate")

	// ErrSigner marks a failure of the crypto.Signer or of the random
	// source, which may be transient, for example an unreachable token.
	ErrSigner = errors.New("certificate signing failed")
)

// IsPermanent reports whether err means the request itself is invalid, so
// retrying it cannot succeed.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrInvalidRequest)
}
