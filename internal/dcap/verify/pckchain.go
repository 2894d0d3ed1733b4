package verify

import (
	"crypto/ecdsa"
	"crypto/x509"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/pck"
)

// pckChain is a PCK chain from a quote whose signatures, roles, root and
// SGX extension were checked. Nothing in it depends on the verification
// time: windows holds what must still be checked against it.
type pckChain struct {
	leaf, intermediate, root *x509.Certificate
	leafKey                  *ecdsa.PublicKey
	ext                      *pck.Extension
	caType                   string
	trusted                  trustedRoot
	windows                  []window
}

// verifyPCKChain decodes the PCK chain of a quote's certification data and
// checks it up to its trusted root.
func (v *Verifier) verifyPCKChain(certData []byte) (*pckChain, *Error) {
	certs, err := decodePEMChain(certData, "PCK certificate chain")
	if err != nil {
		return nil, fail(StepPCKChain, ErrUntrustedPCKChain, "", err)
	}
	root, others, err := splitRoot(certs, "PCK certificate chain")
	if err != nil {
		return nil, fail(StepPCKChain, ErrUntrustedPCKChain, "", err)
	}
	if len(certs) != 3 {
		return nil, failf(StepPCKChain, ErrUntrustedPCKChain,
			"PCK certificate chain has %d certificates, want 3 (PCK, intermediate CA, root CA)", len(certs))
	}

	c := &pckChain{root: root}
	for _, cert := range others {
		if cert.IsCA {
			c.intermediate = cert
		} else {
			c.leaf = cert
		}
	}
	if c.leaf == nil || c.intermediate == nil {
		return nil, failf(StepPCKChain, ErrUntrustedPCKChain,
			"PCK certificate chain needs one CA and one non-CA certificate under the root")
	}

	var ok bool
	if c.trusted, ok = v.findRoot(root); !ok {
		return nil, failf(StepPCKChain, ErrUntrustedPCKChain,
			"root certificate %q of the PCK chain is not a trusted root", root.Subject.CommonName)
	}
	if err := v.checkIssuedCached(c.intermediate, root); err != nil {
		return nil, fail(StepPCKChain, ErrUntrustedPCKChain, "", err)
	}
	if err := checkIssued(c.leaf, c.intermediate); err != nil {
		return nil, fail(StepPCKChain, ErrUntrustedPCKChain, "", err)
	}

	switch c.intermediate.Subject.CommonName {
	case platformCAName:
		c.caType = CATypePlatform
	case processorCAName:
		c.caType = CATypeProcessor
	default:
		return nil, failf(StepPCKChain, ErrUntrustedPCKChain, "intermediate CA %q is neither %q nor %q",
			c.intermediate.Subject.CommonName, platformCAName, processorCAName)
	}
	if c.leafKey, err = p256Key(c.leaf); err != nil {
		return nil, fail(StepPCKChain, ErrUntrustedPCKChain, "", err)
	}
	c.windows = []window{
		certWindow(c.leaf, StepPCKChain),
		certWindow(c.intermediate, StepPCKChain),
		certWindow(root, StepPCKChain),
	}

	if c.ext, err = pck.FromCertificate(c.leaf); err != nil {
		return nil, fail(StepPCKExtension, ErrUntrustedPCKChain, "PCK certificate serial "+c.leaf.SerialNumber.Text(16), err)
	}
	return c, nil
}

// checkTime checks the certificates' validity at the verification time.
func (c *pckChain) checkTime(at time.Time) *Error {
	for _, w := range c.windows {
		if err := w.check(at); err != nil {
			return err
		}
	}
	return nil
}
