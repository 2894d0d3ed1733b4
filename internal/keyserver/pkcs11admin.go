package keyserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/tcs-project/tcs/internal/enclave/token"
)

// minCARSABits is the smallest RSA CA key that ImportCA accepts, the
// minimum of the enclave side's token.
const minCARSABits = 2048

// ImportCAPEM parses a PEM CA private key (PKCS#1, SEC 1 or PKCS#8) and a
// PEM certificate chain, CA certificate first, and imports them as the CA
// of signer with ImportCA.
func (s *PKCS11Store) ImportCAPEM(signer string, keyPEM, chainPEM []byte) error {
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return fmt.Errorf("CA key of %s: %w", signer, err)
	}
	chain, err := parseCertificateChain(chainPEM)
	if err != nil {
		return fmt.Errorf("CA certificate of %s: %w", signer, err)
	}
	return s.ImportCA(signer, key, chain)
}

// ImportCA stores key as the CA private key of signer, with CKA_SENSITIVE
// and CKA_EXTRACTABLE true and CKA_SIGN, CKA_DECRYPT, CKA_UNWRAP and
// CKA_DERIVE false, so that the token can only wrap it. It stores chain,
// CA certificate first, beside the key.
//
// The key goes in with C_CreateObject and its components, the plainest
// way that every module supports. Unwrapping it under a session AES key
// would need the same clear key in this process first, so it would
// protect nothing more.
//
// Any failure leaves no object behind. Errors wrap token.ErrExists (the
// signer has objects already), token.ErrCertificateMismatch or
// token.ErrUnsupportedKey (an RSA key under 2048 bits, a curve other than
// P-256 and P-384, or another algorithm, which the enclave cannot import).
func (s *PKCS11Store) ImportCA(signer string, key crypto.Signer, chain []*x509.Certificate) error {
	if err := checkSignerLabel(signer); err != nil {
		return err
	}
	if len(chain) == 0 {
		return fmt.Errorf("import the CA of %s: the certificate chain is empty", signer)
	}
	cert := chain[0]
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return fmt.Errorf("import the CA of %s: %w: certificate %q", signer,
			token.ErrCertificateMismatch, cert.Subject.String())
	}
	keyTemplate, err := caKeyObjectTemplate(signer, key, cert)
	if err != nil {
		return fmt.Errorf("import the CA of %s: %w", signer, err)
	}
	defer clearSecretAttributes(keyTemplate)
	certTemplate, err := caCertificateObjectTemplate(signer, cert)
	if err != nil {
		return fmt.Errorf("import the CA of %s: %w", signer, err)
	}

	return s.tok.WithSession(func(p *pkcs11.Ctx, session pkcs11.SessionHandle) error {
		t := p11Session{ctx: p, s: session, token: s.tok.Label()}
		existing, err := t.caObjects(signer)
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			return fmt.Errorf("the CA of %s %w %q; delete it with tcsctl keystore delete "+
				"before importing again", signer, token.ErrExists, t.token)
		}

		templates := [][]*pkcs11.Attribute{keyTemplate, certTemplate}
		if len(chain) > 1 {
			templates = append(templates, chainObjectTemplate(signer, chain[1:]))
		}
		var created []pkcs11.ObjectHandle
		for _, template := range templates {
			h, err := t.ctx.CreateObject(t.s, template)
			if err != nil {
				return errors.Join(
					fmt.Errorf("import the CA of %s into token %q: %w", signer, t.token, err),
					t.destroyAll(created))
			}
			created = append(created, h)
		}
		return nil
	})
}

// caKeyObjectTemplate returns the CKO_PRIVATE_KEY template of a CA key
// with its components.
func caKeyObjectTemplate(signer string, key crypto.Signer, cert *x509.Certificate) (
	[]*pkcs11.Attribute, error) {
	template := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, signer),
		pkcs11.NewAttribute(pkcs11.CKA_ID, caObjectID(signer)),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < minCARSABits {
			return nil, fmt.Errorf("%w: %d-bit rsa key; the enclave accepts %d bits or more",
				token.ErrUnsupportedKey, k.N.BitLen(), minCARSABits)
		}
		// PKCS#11 RSA private key objects have attributes for two primes
		// only (CKA_PRIME_1, CKA_PRIME_2), so multi-prime keys cannot be
		// stored.
		if len(k.Primes) != 2 {
			return nil, fmt.Errorf("%w: rsa key with %d primes; use a key with two",
				token.ErrUnsupportedKey, len(k.Primes))
		}
		k.Precompute()
		return append(template,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, k.N.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, bigEndian(k.E)),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE_EXPONENT, k.D.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_1, k.Primes[0].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_2, k.Primes[1].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_1, k.Precomputed.Dp.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_2, k.Precomputed.Dq.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_COEFFICIENT, k.Precomputed.Qinv.Bytes()),
		), nil
	case *ecdsa.PrivateKey:
		params, err := curveParams(k.Curve)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", token.ErrUnsupportedKey, err)
		}
		scalar, err := k.Bytes()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", token.ErrUnsupportedKey, err)
		}
		return append(template,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, scalar),
		), nil
	}
	return nil, fmt.Errorf("%w: private key of type %T; the enclave accepts rsa and ecdsa",
		token.ErrUnsupportedKey, key)
}

// secretKeyAttributes are the attribute types of private key components.
var secretKeyAttributes = []uint{
	pkcs11.CKA_PRIVATE_EXPONENT, pkcs11.CKA_PRIME_1, pkcs11.CKA_PRIME_2, pkcs11.CKA_EXPONENT_1,
	pkcs11.CKA_EXPONENT_2, pkcs11.CKA_COEFFICIENT, pkcs11.CKA_VALUE,
}

// clearSecretAttributes zeroes the private key components of a template
// once the token holds its own copy. The values are fresh copies made by
// caKeyObjectTemplate; other values, such as CKA_SUBJECT, share memory
// with the certificate and must stay.
func clearSecretAttributes(template []*pkcs11.Attribute) {
	for _, a := range template {
		if slices.Contains(secretKeyAttributes, a.Type) {
			clear(a.Value)
		}
	}
}

// bigEndian returns the minimal big-endian bytes of a positive int, as
// CKA_PUBLIC_EXPONENT takes it.
func bigEndian(v int) []byte {
	var out []byte
	for ; v > 0; v >>= 8 {
		out = append([]byte{byte(v)}, out...)
	}
	return out
}

// caCertificateObjectTemplate returns the CKO_CERTIFICATE template of the
// CA certificate, with the label and CKA_ID of its key.
func caCertificateObjectTemplate(signer string, cert *x509.Certificate) ([]*pkcs11.Attribute, error) {
	serial, err := asn1.Marshal(cert.SerialNumber)
	if err != nil {
		return nil, fmt.Errorf("encode the serial number of certificate %q: %w", cert.Subject.String(), err)
	}
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, signer),
		pkcs11.NewAttribute(pkcs11.CKA_ID, caObjectID(signer)),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_ISSUER, cert.RawIssuer),
		pkcs11.NewAttribute(pkcs11.CKA_SERIAL_NUMBER, serial),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, cert.Raw),
	}, nil
}

// chainObjectTemplate returns the CKO_DATA template that holds the
// certificates after the CA certificate as concatenated DER.
func chainObjectTemplate(signer string, rest []*x509.Certificate) []*pkcs11.Attribute {
	var der []byte
	for _, c := range rest {
		der = append(der, c.Raw...)
	}
	return append(chainTemplate(signer),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, der),
	)
}

// caObjects returns the handles of every object of the CA of signer. These
// are the private keys with its label and its chain data object, and the
// certificates with its label whose CKA_ID is that of one of those keys or
// the ID that ImportCA gives.
func (t p11Session) caObjects(signer string) ([]pkcs11.ObjectHandle, error) {
	keys, err := t.find(caKeyTemplate(signer))
	if err != nil {
		return nil, err
	}
	ids := [][]byte{caObjectID(signer)}
	for _, k := range keys {
		id, err := t.attribute(k, pkcs11.CKA_ID)
		if err != nil {
			return nil, fmt.Errorf("read the CKA_ID of object %d in token %q: %w", k, t.token, err)
		}
		if len(id) > 0 && !slices.ContainsFunc(ids, func(v []byte) bool { return string(v) == string(id) }) {
			ids = append(ids, id)
		}
	}
	all := keys
	for _, id := range ids {
		certs, err := t.find(caCertificateTemplate(signer, id))
		if err != nil {
			return nil, err
		}
		all = append(all, certs...)
	}
	chain, err := t.find(chainTemplate(signer))
	if err != nil {
		return nil, err
	}
	return append(all, chain...), nil
}

// destroyAll destroys every handle and joins the errors.
func (t p11Session) destroyAll(handles []pkcs11.ObjectHandle) error {
	var errs []error
	for _, h := range handles {
		if err := t.destroy(fmt.Sprintf("object %d", h), h); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// DeleteCA destroys the key, certificate and chain of the CA of signer.
// It returns an error that wraps ErrUnknownSigner when the token has none
// of them.
func (s *PKCS11Store) DeleteCA(signer string) error {
	if err := checkSignerLabel(signer); err != nil {
		return err
	}
	return s.tok.WithSession(func(p *pkcs11.Ctx, session pkcs11.SessionHandle) error {
		t := p11Session{ctx: p, s: session, token: s.tok.Label()}
		handles, err := t.caObjects(signer)
		if err != nil {
			return err
		}
		if len(handles) == 0 {
			return fmt.Errorf("%w: token %q has no objects labelled %q", ErrUnknownSigner, t.token, signer)
		}
		if err := t.destroyAll(handles); err != nil {
			return fmt.Errorf("delete the CA of %s: %w", signer, err)
		}
		return nil
	})
}

// PKCS11CA describes one CA entry of a PKCS11Store.
type PKCS11CA struct {
	// Signer is the signer name, the CKA_LABEL of the key.
	Signer string
	// Certificate is the CA certificate, nil when it cannot be read.
	Certificate *x509.Certificate
	// ChainLength counts the certificates delivered with the key, the CA
	// certificate included.
	ChainLength int
	// Problem is a sentence saying why WrapKey would fail for this entry;
	// it is empty for a usable entry.
	Problem string
}

// KeyAlgorithm returns the algorithm and size of the CA key, for example
// "RSA-3072" or "ECDSA-P-256", read from its certificate.
func (ca PKCS11CA) KeyAlgorithm() string {
	if ca.Certificate == nil {
		return "unknown"
	}
	switch pub := ca.Certificate.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", pub.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA-" + pub.Curve.Params().Name
	}
	return fmt.Sprintf("%T", ca.Certificate.PublicKey)
}

// NotAfter returns the end of the CA certificate's validity, or the zero
// time without a certificate.
func (ca PKCS11CA) NotAfter() time.Time {
	if ca.Certificate == nil {
		return time.Time{}
	}
	return ca.Certificate.NotAfter
}

// ListCAs describes every labelled private key of the token, sorted by
// signer name, with the problem that keeps WrapKey from using it, if any.
func (s *PKCS11Store) ListCAs() ([]PKCS11CA, error) {
	var out []PKCS11CA
	err := s.tok.WithSession(func(p *pkcs11.Ctx, session pkcs11.SessionHandle) error {
		t := p11Session{ctx: p, s: session, token: s.tok.Label()}
		keys, err := t.find([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)})
		if err != nil {
			return err
		}
		var signers []string
		for _, k := range keys {
			label, err := t.attribute(k, pkcs11.CKA_LABEL)
			if err != nil {
				return fmt.Errorf("read the label of object %d in token %q: %w", k, t.token, err)
			}
			if len(label) > 0 && !slices.Contains(signers, string(label)) {
				signers = append(signers, string(label))
			}
		}
		slices.Sort(signers)
		for _, signer := range signers {
			out = append(out, t.describeCA(signer))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// describeCA reads the CA of signer as WrapKey would and notes the first
// problem.
func (t p11Session) describeCA(signer string) PKCS11CA {
	entry := PKCS11CA{Signer: signer}
	ca, err := t.findCA(signer)
	if err == nil {
		err = ca.usable(signer, t.token)
	}
	if ca != nil {
		entry.Certificate, entry.ChainLength = ca.chain[0], len(ca.chain)
	}
	if err != nil {
		entry.Problem = err.Error()
	}
	return entry
}

// parseCertificateChain parses every PEM CERTIFICATE block of data in
// order. Other block types are an error, so that a key file given in
// place of a certificate file is noticed.
func parseCertificateChain(data []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d has type %q, expected CERTIFICATE", len(chain)+1, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d of the chain: %w", len(chain)+1, err)
		}
		chain = append(chain, cert)
	}
	if len(chain) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return chain, nil
}
