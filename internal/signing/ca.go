package signing

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

const (
	// DefaultCADuration is the validity of a self-signed CA certificate
	// when CAOptions names none.
	DefaultCADuration = 10 * 365 * 24 * time.Hour

	// MaxCommonNameLength is ub-common-name of RFC 5280 appendix A.1.
	MaxCommonNameLength = 64

	// signerNameHashChars is how many hex characters of the signer name's
	// SHA-256 hash end a shortened common name: 64 bits keep two long
	// names with one prefix apart.
	signerNameHashChars = 16
)

// CAOptions describe a self-signed CA certificate.
type CAOptions struct {
	// CommonName is the subject common name, 1 to MaxCommonNameLength
	// characters. CommonNameForSigner derives one from a signer name.
	CommonName string

	// Organization is the optional subject organization.
	Organization []string

	// Duration is the validity from now. Zero selects DefaultCADuration.
	Duration time.Duration

	// MaxPathLen is the path length constraint. Nil sets none, so the CA
	// may issue intermediate CA certificates of any depth.
	MaxPathLen *int

	// Backdate moves NotBefore back from now. Zero selects DefaultBackdate
	// and a negative value disables backdating.
	Backdate time.Duration

	// Rand is the source of the serial number and of signing randomness.
	// Nil selects crypto/rand.
	Rand io.Reader
}

// CommonNameForSigner returns a common name for the CA of a signer name
// such as "tcsissuer.tcs.intel.com/default.ca". A name of up to
// MaxCommonNameLength bytes is used as it is. A longer one is cut and ends
// with a dash and 16 hex characters of its SHA-256 hash, so the result
// still fits and stays distinct. Signer names are ASCII, being built from
// Kubernetes object names, so the cut never splits a character.
func CommonNameForSigner(signerName string) string {
	if len(signerName) <= MaxCommonNameLength {
		return signerName
	}
	sum := sha256.Sum256([]byte(signerName))
	suffix := "-" + hex.EncodeToString(sum[:])[:signerNameHashChars]
	return signerName[:MaxCommonNameLength-len(suffix)] + suffix
}

// CATemplate returns the template of a self-signed CA certificate for pub:
// basic constraints cA, key usage cert sign and CRL sign, and a subject key
// identifier by RFC 7093 method 1, which also serves as the authority key
// identifier.
func CATemplate(pub crypto.PublicKey, opts CAOptions, now time.Time) (*x509.Certificate, error) {
	if n := len(opts.CommonName); n == 0 || n > MaxCommonNameLength {
		return nil, fmt.Errorf("%w: CA common name %q has %d characters, expected 1 to %d",
			ErrInvalidRequest, opts.CommonName, n, MaxCommonNameLength)
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, fmt.Errorf("%w: CA key: %w", ErrInvalidRequest, err)
	}
	duration := opts.Duration
	if duration == 0 {
		duration = DefaultCADuration
	}
	if duration < 0 {
		return nil, fmt.Errorf("%w: CA duration %s is negative", ErrInvalidRequest, duration)
	}
	backdate := opts.Backdate
	if backdate == 0 {
		backdate = DefaultBackdate
	}
	backdate = max(backdate, 0)

	random := opts.Rand
	if random == nil {
		random = rand.Reader
	}
	serial, err := newSerialNumber(random)
	if err != nil {
		return nil, err
	}
	keyID, err := SubjectKeyID(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}

	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: opts.CommonName, Organization: opts.Organization},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(duration),
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            -1,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId:          keyID,
		AuthorityKeyId:        keyID,
	}
	if opts.MaxPathLen != nil {
		if *opts.MaxPathLen < 0 {
			return nil, fmt.Errorf("%w: CA path length %d is negative", ErrInvalidRequest, *opts.MaxPathLen)
		}
		tmpl.MaxPathLen = *opts.MaxPathLen
		tmpl.MaxPathLenZero = *opts.MaxPathLen == 0
	}
	return tmpl, nil
}

// SelfSignedCA builds the CATemplate for the signer's public key and signs
// it with signer. It returns the DER certificate.
func SelfSignedCA(signer crypto.Signer, opts CAOptions, now time.Time) ([]byte, error) {
	if signer == nil {
		return nil, fmt.Errorf("%w: no signer for the CA key", ErrUnusableCA)
	}
	pub := signer.Public()
	tmpl, err := CATemplate(pub, opts, now)
	if err != nil {
		return nil, err
	}

	random := opts.Rand
	if random == nil {
		random = rand.Reader
	}
	der, err := x509.CreateCertificate(random, tmpl, tmpl, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("%w: self-sign CA certificate %q: %w", ErrSigner, opts.CommonName, err)
	}
	return der, nil
}
