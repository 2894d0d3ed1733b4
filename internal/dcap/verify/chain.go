package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"
)

// Common names of the intermediate CAs that issue PCK certificates, from
// Intel's "SGX PCK Certificate and CRL Profile Specification". A
// development PKI must use the same names, because they decide the CA type.
const (
	platformCAName  = "Intel SGX PCK Platform CA"
	processorCAName = "Intel SGX PCK Processor CA"

	CATypePlatform  = "platform"
	CATypeProcessor = "processor"
)

const pemCertBegin = "-----BEGIN CERTIFICATE-----"

// decodePEMChain decodes a sequence of PEM certificates separated only by
// white space. A NUL byte may end the text, as in a quote's certification
// data.
func decodePEMChain(b []byte, name string) ([]*x509.Certificate, error) {
	if n := len(b); n > 0 && b[n-1] == 0 {
		b = b[:n-1]
	}
	var certs []*x509.Certificate
	rest := bytes.TrimLeft(b, " \t\r\n")
	for len(rest) > 0 {
		if !bytes.HasPrefix(rest, []byte(pemCertBegin)) {
			return nil, fmt.Errorf("%s: %d bytes that are not a PEM certificate after certificate %d",
				name, len(rest), len(certs))
		}
		block, after := pem.Decode(rest)
		if block == nil || block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			return nil, fmt.Errorf("%s: certificate %d is not a valid PEM CERTIFICATE block", name, len(certs))
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", name, len(certs), err)
		}
		// RFC 5280 section 4.2: a certificate with a critical extension
		// that the verifier does not process must be rejected.
		if len(cert.UnhandledCriticalExtensions) > 0 {
			return nil, fmt.Errorf("%s: certificate %q has an unknown critical extension %s",
				name, cert.Subject.CommonName, cert.UnhandledCriticalExtensions[0])
		}
		certs = append(certs, cert)
		rest = bytes.TrimLeft(after, " \t\r\n")
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no certificate", name)
	}
	return certs, nil
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer)
}

// splitRoot separates the one self-signed certificate of certs from the
// others, whatever their order.
func splitRoot(certs []*x509.Certificate, name string) (root *x509.Certificate, others []*x509.Certificate, err error) {
	for _, c := range certs {
		if !selfSigned(c) {
			others = append(others, c)
			continue
		}
		if root != nil {
			return nil, nil, fmt.Errorf("%s has two self-signed certificates", name)
		}
		root = c
	}
	if root == nil {
		return nil, nil, fmt.Errorf("%s has no root certificate", name)
	}
	return root, others, nil
}

// checkIssued checks that parent issued child: names and signature.
func checkIssued(child, parent *x509.Certificate) error {
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return fmt.Errorf("certificate %q names issuer %q, not %q",
			child.Subject.CommonName, child.Issuer.CommonName, parent.Subject.CommonName)
	}
	if err := child.CheckSignatureFrom(parent); err != nil {
		return fmt.Errorf("certificate %q is not signed by %q: %w",
			child.Subject.CommonName, parent.Subject.CommonName, err)
	}
	return nil
}

// checkIssuedCached is checkIssued, remembering the pairs that passed: the
// intermediate CA and the collateral signers are the same for every
// platform, so a new platform's chain costs only its leaf signature.
func (v *Verifier) checkIssuedCached(child, parent *x509.Certificate) error {
	key := [][]byte{child.Raw, parent.Raw}
	if _, ok := v.issued.get(key); ok {
		return nil
	}
	if err := checkIssued(child, parent); err != nil {
		return err
	}
	v.issued.put(key, struct{}{})
	return nil
}

func p256Key(c *x509.Certificate) (*ecdsa.PublicKey, error) {
	key, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("certificate %q has a %T key, want ECDSA P-256", c.Subject.CommonName, c.PublicKey)
	}
	return key, nil
}

// window is a validity period that the verification time must fall in,
// both ends included.
type window struct {
	name       string
	step       Step
	from, till time.Time
}

func certWindow(c *x509.Certificate, step Step) window {
	return window{name: fmt.Sprintf("certificate %q", c.Subject.CommonName), step: step, from: c.NotBefore, till: c.NotAfter}
}

func (w window) check(at time.Time) *Error {
	if at.Before(w.from) {
		return failf(w.step, ErrCollateralExpired, "%s is valid from %s, verification time %s is before",
			w.name, w.from.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	if at.After(w.till) {
		return failf(w.step, ErrCollateralExpired, "%s is valid until %s, verification time %s is after",
			w.name, w.till.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	return nil
}

// trustedRoot is a root that a Verifier accepts.
type trustedRoot struct {
	cert        *x509.Certificate
	development bool
}

// findRoot returns the trusted root whose DER equals cert.
func (v *Verifier) findRoot(cert *x509.Certificate) (trustedRoot, bool) {
	for _, r := range v.roots {
		if bytes.Equal(r.cert.Raw, cert.Raw) {
			return r, true
		}
	}
	return trustedRoot{}, false
}
