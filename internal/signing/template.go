package signing

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"time"
)

const (
	// DefaultMinDuration is the shortest validity a request may ask for.
	// It equals the minimum expirationSeconds (600) that the Kubernetes
	// API server accepts on a CertificateSigningRequest.
	DefaultMinDuration = 10 * time.Minute

	// DefaultMaxDuration is the longest validity issued. Longer requests
	// are shortened to it, as the Kubernetes signers in
	// kube-controller-manager do with their maximum.
	DefaultMaxDuration = 365 * 24 * time.Hour

	// DefaultDuration is the validity of a request that names none. It is
	// the default duration of a cert-manager Certificate (2160h).
	DefaultDuration = 90 * 24 * time.Hour

	// DefaultBackdate is how far NotBefore lies before the signing time, so
	// that a relying party whose clock is slightly behind accepts a fresh
	// certificate.
	DefaultBackdate = 5 * time.Minute

	// serialBytes is the length of a serial number: RFC 5280 section
	// 4.1.2.2 allows at most 20 octets.
	serialBytes = 20
)

// Config bounds what the signer issues. The zero value selects every
// default.
type Config struct {
	// MinDuration is the shortest duration accepted. A shorter request is
	// rejected with ErrInvalidRequest. Zero selects DefaultMinDuration.
	MinDuration time.Duration

	// MaxDuration is the longest duration issued. A longer request is
	// shortened to it. Zero selects DefaultMaxDuration.
	MaxDuration time.Duration

	// DefaultDuration is used when a request has no duration. Zero selects
	// DefaultDuration. It is shortened to MaxDuration when longer.
	DefaultDuration time.Duration

	// Backdate moves NotBefore back from the signing time. Zero selects
	// DefaultBackdate and a negative value disables backdating.
	Backdate time.Duration

	// Rand is the source of serial numbers and of signing randomness.
	// Nil selects crypto/rand.
	Rand io.Reader
}

// Request is one certificate request.
type Request struct {
	// CSR is the PKCS#10 request in PEM or DER form.
	CSR []byte

	// Duration is the requested validity from the signing time. Zero
	// selects Config.DefaultDuration.
	Duration time.Duration

	// IsCA requests a CA certificate. It adds the cert sign key usage.
	IsCA bool

	// MaxPathLen is the path length constraint of a CA certificate. Nil
	// selects the longest path the issuing CA allows, which is no limit
	// when the issuing CA has none. It must be nil unless IsCA is set.
	MaxPathLen *int

	// Usages are Kubernetes or cert-manager usage strings. None selects
	// digital signature, plus key encipherment for an RSA key.
	Usages []string
}

func (c Config) withDefaults() (Config, error) {
	if c.MinDuration == 0 {
		c.MinDuration = DefaultMinDuration
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = DefaultMaxDuration
	}
	if c.DefaultDuration == 0 {
		c.DefaultDuration = DefaultDuration
	}
	if c.Backdate == 0 {
		c.Backdate = DefaultBackdate
	}
	if c.Backdate < 0 {
		c.Backdate = 0
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}

	if c.MinDuration < 0 || c.MaxDuration < c.MinDuration {
		return c, fmt.Errorf("invalid signing config: minimum duration %s and maximum duration %s "+
			"must be positive with the minimum not above the maximum", c.MinDuration, c.MaxDuration)
	}
	c.DefaultDuration = min(c.DefaultDuration, c.MaxDuration)
	if c.DefaultDuration < c.MinDuration {
		return c, fmt.Errorf("invalid signing config: default duration %s is below the minimum %s",
			c.DefaultDuration, c.MinDuration)
	}
	return c, nil
}

// Sign signs req with the default Config. See Config.Sign.
func Sign(ca *x509.Certificate, signer crypto.Signer, req Request, now time.Time) ([]byte, error) {
	return Config{}.Sign(ca, signer, req, now)
}

// Sign builds the certificate template for req with Template and signs it
// with signer, whose public key must be that of ca. It returns the DER
// certificate.
func (c Config) Sign(ca *x509.Certificate, signer crypto.Signer, req Request, now time.Time) ([]byte, error) {
	if signer == nil {
		return nil, fmt.Errorf("%w: no signer for the CA key", ErrUnusableCA)
	}
	if ca != nil && !samePublicKey(ca.PublicKey, signer.Public()) {
		return nil, fmt.Errorf("%w: the signer's public key does not match the CA certificate %q",
			ErrUnusableCA, ca.Subject)
	}
	tmpl, csr, err := c.Template(ca, req, now)
	if err != nil {
		return nil, err
	}

	c, _ = c.withDefaults() // Template has validated the config.
	// NOTE: CreateCertificate also fails on templates it considers invalid,
	// but Template has already checked everything CreateCertificate does,
	// so a failure here is taken to be the signer's.
	der, err := x509.CreateCertificate(c.Rand, tmpl, ca, csr.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("%w: sign the certificate for %q with CA %q: %w",
			ErrSigner, csr.Subject, ca.Subject, err)
	}
	return der, nil
}

// Template checks req against ca and the config and returns the
// certificate template to sign together with the parsed CSR. The time now
// is the signing time: it sets the validity and is checked against the
// validity of ca.
func (c Config) Template(ca *x509.Certificate, req Request, now time.Time) (*x509.Certificate, *x509.CertificateRequest, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	if err := checkCA(ca, now); err != nil {
		return nil, nil, err
	}
	csr, err := ParseCSR(req.CSR)
	if err != nil {
		return nil, nil, err
	}

	tmpl := &x509.Certificate{
		RawSubject:     csr.RawSubject,
		DNSNames:       csr.DNSNames,
		IPAddresses:    csr.IPAddresses,
		EmailAddresses: csr.EmailAddresses,
		URIs:           csr.URIs,
		AuthorityKeyId: ca.SubjectKeyId,
	}
	if err := checkSubject(csr, req.IsCA); err != nil {
		return nil, nil, err
	}

	tmpl.NotBefore, tmpl.NotAfter, err = c.validity(ca, req.Duration, now)
	if err != nil {
		return nil, nil, err
	}
	if err := setConstraints(tmpl, ca, req); err != nil {
		return nil, nil, err
	}
	if err := setUsages(tmpl, csr.PublicKey, req); err != nil {
		return nil, nil, err
	}

	tmpl.SubjectKeyId, err = subjectKeyIDFromSPKI(csr.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	tmpl.SerialNumber, err = newSerialNumber(c.Rand)
	if err != nil {
		return nil, nil, err
	}
	return tmpl, csr, nil
}

// checkCA checks that ca can issue certificates at now.
func checkCA(ca *x509.Certificate, now time.Time) error {
	if ca == nil {
		return fmt.Errorf("%w: no CA certificate", ErrUnusableCA)
	}
	if !ca.BasicConstraintsValid || !ca.IsCA {
		return fmt.Errorf("%w: certificate %q is not a CA certificate (basic constraints cA is not set)",
			ErrUnusableCA, ca.Subject)
	}
	if ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%w: CA certificate %q lacks the cert sign key usage", ErrUnusableCA, ca.Subject)
	}
	if now.Before(ca.NotBefore) || now.After(ca.NotAfter) {
		return fmt.Errorf("%w: CA certificate %q is valid from %s to %s, not at %s: renew the CA",
			ErrUnusableCA, ca.Subject, ca.NotBefore.UTC().Format(time.RFC3339),
			ca.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkSubject rejects a request that would give a certificate without a
// name. RFC 5280 section 4.1.2.6 requires a non-empty subject for a CA and
// a subject alternative name when the subject is empty.
func checkSubject(csr *x509.CertificateRequest, isCA bool) error {
	if len(csr.Subject.Names) > 0 {
		return nil
	}
	if isCA {
		return fmt.Errorf("%w: the CSR has an empty subject, which a CA certificate may not have",
			ErrInvalidRequest)
	}
	if len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.EmailAddresses)+len(csr.URIs) == 0 {
		return fmt.Errorf("%w: the CSR has neither a subject nor a subject alternative name",
			ErrInvalidRequest)
	}
	return nil
}

// validity returns NotBefore and NotAfter for a request of the given
// duration signed at now.
func (c Config) validity(ca *x509.Certificate, duration time.Duration, now time.Time) (time.Time, time.Time, error) {
	switch {
	case duration == 0:
		duration = c.DefaultDuration
	case duration < c.MinDuration:
		return time.Time{}, time.Time{}, fmt.Errorf("%w: requested duration %s is below the minimum of %s",
			ErrInvalidRequest, duration, c.MinDuration)
	case duration > c.MaxDuration:
		duration = c.MaxDuration
	}

	notAfter := now.Add(duration)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	if notAfter.Sub(now) < c.MinDuration {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: CA certificate %q expires at %s, "+
			"less than the minimum duration of %s from now: renew the CA",
			ErrUnusableCA, ca.Subject, ca.NotAfter.UTC().Format(time.RFC3339), c.MinDuration)
	}

	notBefore := now.Add(-c.Backdate)
	if notBefore.Before(ca.NotBefore) {
		notBefore = ca.NotBefore
	}
	return notBefore, notAfter, nil
}

// setConstraints sets the basic constraints of tmpl. A CA certificate's
// path length must fit below that of the issuing CA (RFC 5280 section
// 4.2.1.9), which x509.Verify would otherwise reject only later.
func setConstraints(tmpl, ca *x509.Certificate, req Request) error {
	tmpl.BasicConstraintsValid = true
	if !req.IsCA {
		if req.MaxPathLen != nil {
			return fmt.Errorf("%w: a path length of %d is given for a certificate that is not a CA",
				ErrInvalidRequest, *req.MaxPathLen)
		}
		return nil
	}
	tmpl.IsCA = true

	// A parsed certificate has MaxPathLen -1 when the constraint is absent
	// and MaxPathLenZero set when it is present and zero.
	caLimited := ca.MaxPathLen > 0 || (ca.MaxPathLen == 0 && ca.MaxPathLenZero)
	if caLimited && ca.MaxPathLen == 0 {
		return fmt.Errorf("%w: CA certificate %q has path length 0, so it cannot issue CA certificates",
			ErrInvalidRequest, ca.Subject)
	}

	pathLen := -1
	if req.MaxPathLen != nil {
		pathLen = *req.MaxPathLen
		if pathLen < 0 {
			return fmt.Errorf("%w: path length %d is negative", ErrInvalidRequest, pathLen)
		}
	}
	if caLimited {
		switch {
		case pathLen < 0:
			pathLen = ca.MaxPathLen - 1
		case pathLen > ca.MaxPathLen-1:
			return fmt.Errorf("%w: path length %d exceeds the maximum of %d below CA certificate %q",
				ErrInvalidRequest, pathLen, ca.MaxPathLen-1, ca.Subject)
		}
	}

	tmpl.MaxPathLen = pathLen
	tmpl.MaxPathLenZero = pathLen == 0
	return nil
}

// setUsages sets the key usage and extended key usages of tmpl.
func setUsages(tmpl *x509.Certificate, pub any, req Request) error {
	keyUsage, extUsages, err := ParseUsages(req.Usages)
	if err != nil {
		return err
	}
	if len(req.Usages) == 0 {
		keyUsage = defaultKeyUsage(pub)
	}

	// RFC 5280 section 4.2.1.3: keyCertSign requires the cA bit, and a CA
	// certificate needs keyCertSign to sign certificates.
	if req.IsCA {
		keyUsage |= x509.KeyUsageCertSign
	} else if keyUsage&x509.KeyUsageCertSign != 0 {
		return fmt.Errorf("%w: usage %q needs a CA certificate: request isCA or drop the usage",
			ErrInvalidRequest, "cert sign")
	}

	tmpl.KeyUsage = keyUsage
	tmpl.ExtKeyUsage = extUsages
	return nil
}

// newSerialNumber returns a positive serial number below 2^159 with bit 158
// set, so that it always encodes in 20 octets, the maximum of RFC 5280
// section 4.1.2.2, and carries 158 random bits.
func newSerialNumber(random io.Reader) (*big.Int, error) {
	var b [serialBytes]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return nil, fmt.Errorf("%w: read random serial number: %w", ErrSigner, err)
	}
	b[0] &= 0x7f // Clear bit 159 so the DER INTEGER stays positive in 20 octets.
	b[0] |= 0x40 // Set bit 158 so the length is fixed.
	return new(big.Int).SetBytes(b[:]), nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	key, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && key.Equal(b)
}
