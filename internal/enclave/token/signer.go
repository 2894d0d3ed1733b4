package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"slices"

	"github.com/miekg/pkcs11"
)

// Signer is a CA signing key in the token with its certificate. It
// implements crypto.Signer and is safe for concurrent use, because each
// signature runs on a session of its own.
type Signer struct {
	name string
	tok  *Token
	priv pkcs11.ObjectHandle
	pub  crypto.PublicKey
	cert *x509.Certificate
}

// Name returns the signer name, the CKA_LABEL of the signer's objects.
func (s *Signer) Name() string { return s.name }

// Certificate returns the CA certificate stored beside the key.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// Public returns the public key, *rsa.PublicKey or *ecdsa.PublicKey.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// DigestInfo prefixes for EMSA-PKCS1-v1_5 (RFC 8017 section 9.2, note 1).
var pkcs1Prefixes = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
		0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
		0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
		0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// pssHashes maps a hash to its PKCS#11 mechanism and MGF1 generator.
var pssHashes = map[crypto.Hash][2]uint{
	crypto.SHA256: {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256},
	crypto.SHA384: {pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384},
	crypto.SHA512: {pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512},
}

// Sign signs digest with the key in the token. RSA keys sign with PKCS#1
// v1.5, or with PSS when opts is an *rsa.PSSOptions; ECDSA keys return an
// ASN.1 DER signature as crypto.Signer requires. The hash must be SHA-256,
// SHA-384 or SHA-512. The token supplies its own randomness, so rand is
// not used.
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	mech, input, err := s.mechanism(digest, opts)
	if err != nil {
		return nil, err
	}
	var sig []byte
	err = s.tok.withSession(func(session pkcs11.SessionHandle) error {
		var err error
		sig, err = s.signInSession(session, mech, input)
		return err
	})
	if err != nil {
		return nil, err
	}
	return sig, nil
}

// mechanism returns the signing mechanism for opts and the bytes that the
// token signs.
func (s *Signer) mechanism(digest []byte, opts crypto.SignerOpts) (*pkcs11.Mechanism, []byte, error) {
	hash := opts.HashFunc()
	if _, ok := pkcs1Prefixes[hash]; !ok {
		return nil, nil, fmt.Errorf("signer %q: hash %v is not supported; use SHA-256, SHA-384 or "+
			"SHA-512", s.name, hash)
	}
	if len(digest) != hash.Size() {
		return nil, nil, fmt.Errorf("signer %q: digest of %d bytes, expected %d for %v",
			s.name, len(digest), hash.Size(), hash)
	}

	var mech *pkcs11.Mechanism
	input := digest
	switch s.pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			salt := pss.SaltLength
			// An automatic salt length lets the verifier accept any length,
			// so the hash length (the x509 convention) satisfies it.
			if salt == rsa.PSSSaltLengthAuto || salt == rsa.PSSSaltLengthEqualsHash {
				salt = hash.Size()
			}
			if salt < 0 {
				return nil, nil, fmt.Errorf("signer %q: invalid pss salt length %d", s.name, salt)
			}
			h := pssHashes[hash]
			mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(h[0], h[1],
				uint(salt)))
		} else {
			mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)
			input = append(slices.Clone(pkcs1Prefixes[hash]), digest...)
		}
	case *ecdsa.PublicKey:
		mech = pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)
	default:
		return nil, nil, fmt.Errorf("signer %q: %w: public key of type %T", s.name, ErrUnsupportedKey, s.pub)
	}

	return mech, input, nil
}

// signInSession signs input with mech on session and converts an ECDSA
// signature to DER.
func (s *Signer) signInSession(session pkcs11.SessionHandle, mech *pkcs11.Mechanism,
	input []byte) ([]byte, error) {
	if err := s.tok.ctx.SignInit(session, []*pkcs11.Mechanism{mech}, s.priv); err != nil {
		return nil, fmt.Errorf("signer %q: start signing: %w", s.name, err)
	}
	sig, err := s.tok.ctx.Sign(session, input)
	if err != nil {
		return nil, fmt.Errorf("signer %q: sign: %w", s.name, err)
	}
	if mech.Mechanism == pkcs11.CKM_ECDSA {
		return ecdsaDER(sig)
	}
	return sig, nil
}

// ecdsaDER converts the r || s output of CKM_ECDSA, each half as long as
// the curve order, to the ASN.1 Ecdsa-Sig-Value of RFC 3279 section 2.2.3.
func ecdsaDER(raw []byte) ([]byte, error) {
	if len(raw) == 0 || len(raw)%2 != 0 {
		return nil, fmt.Errorf("token returned an ecdsa signature of %d bytes, expected an even "+
			"length", len(raw))
	}
	half := len(raw) / 2
	return asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(raw[:half]), new(big.Int).SetBytes(raw[half:]),
	})
}

// KeyProtection reports the protection attributes of a private key.
type KeyProtection struct {
	Token            bool // CKA_TOKEN: stored in the token, not the session
	Private          bool // CKA_PRIVATE: visible only after login
	Sensitive        bool // CKA_SENSITIVE: the value cannot be read
	Extractable      bool // CKA_EXTRACTABLE: the key can be wrapped out
	AlwaysSensitive  bool // CKA_ALWAYS_SENSITIVE: never was readable
	NeverExtractable bool // CKA_NEVER_EXTRACTABLE: never was extractable
}

// KeyProtection reads the protection attributes of the signing key. A key
// unwrapped into the token is sensitive and not extractable but, having
// existed outside, neither always sensitive nor never extractable.
func (s *Signer) KeyProtection() (KeyProtection, error) {
	var p KeyProtection
	err := s.tok.withSession(func(session pkcs11.SessionHandle) error {
		for _, a := range []struct {
			typ uint
			dst *bool
		}{
			{pkcs11.CKA_TOKEN, &p.Token}, {pkcs11.CKA_PRIVATE, &p.Private},
			{pkcs11.CKA_SENSITIVE, &p.Sensitive}, {pkcs11.CKA_EXTRACTABLE, &p.Extractable},
			{pkcs11.CKA_ALWAYS_SENSITIVE, &p.AlwaysSensitive},
			{pkcs11.CKA_NEVER_EXTRACTABLE, &p.NeverExtractable},
		} {
			v, err := s.tok.boolAttribute(session, s.priv, a.typ)
			if err != nil {
				return fmt.Errorf("signer %q: %w", s.name, err)
			}
			*a.dst = v
		}
		return nil
	})
	return p, err
}

func signerTemplate(class uint, name string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, name),
		pkcs11.NewAttribute(pkcs11.CKA_ID, objectID(roleSigner, name)),
	}
}

// FindSigner returns the signer named name with its certificate, which
// may have been stored by an earlier process. It returns ErrNotFound when
// the key or the certificate is missing.
func (t *Token) FindSigner(name string) (*Signer, error) {
	if err := checkName("signer", name); err != nil {
		return nil, err
	}
	signer := &Signer{name: name, tok: t}
	err := t.withSession(func(s pkcs11.SessionHandle) error {
		priv, found, err := t.findOne(s, "the key of signer "+name,
			signerTemplate(pkcs11.CKO_PRIVATE_KEY, name))
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("signer %q %w", name, ErrNotFound)
		}
		certHandle, found, err := t.findOne(s, "the certificate of signer "+name,
			signerTemplate(pkcs11.CKO_CERTIFICATE, name))
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("signer %q is incomplete: its certificate is %w; delete the signer "+
				"and provision it again", name, ErrNotFound)
		}
		der, err := t.attribute(s, certHandle, pkcs11.CKA_VALUE)
		if err != nil {
			return err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("signer %q: parse the stored certificate: %w", name, err)
		}
		signer.priv, signer.cert, signer.pub = priv, cert, cert.PublicKey
		return nil
	})
	if err != nil {
		return nil, err
	}
	return signer, nil
}

// ListSigners returns the names of the signing keys in the token, sorted.
func (t *Token) ListSigners() ([]string, error) {
	var names []string
	err := t.withSession(func(s pkcs11.SessionHandle) error {
		handles, err := t.findObjects(s, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		})
		if err != nil {
			return err
		}
		for _, h := range handles {
			attrs, err := t.ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
				pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
			})
			if err != nil {
				return fmt.Errorf("read the label of object %d: %w", h, err)
			}
			name := string(attrs[0].Value)
			// Keys that other software stored have other IDs; skip them.
			if slices.Equal(attrs[1].Value, objectID(roleSigner, name)) {
				names = append(names, name)
			}
		}
		return nil
	})
	slices.Sort(names)
	return names, err
}

// DeleteSigner destroys the key and certificate of the signer named name.
// It returns ErrNotFound when there is nothing to delete.
func (t *Token) DeleteSigner(name string) error {
	if err := checkName("signer", name); err != nil {
		return err
	}
	return t.withSession(func(s pkcs11.SessionHandle) error {
		handles, err := t.findObjects(s, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, name),
			pkcs11.NewAttribute(pkcs11.CKA_ID, objectID(roleSigner, name)),
		})
		if err != nil {
			return err
		}
		if len(handles) == 0 {
			return fmt.Errorf("signer %q %w", name, ErrNotFound)
		}
		if err := t.destroyObjects(s, handles...); err != nil {
			return fmt.Errorf("delete signer %q: %w", name, err)
		}
		return nil
	})
}

// signerExists reports whether any object of the signer exists.
func (t *Token) signerExists(s pkcs11.SessionHandle, name string) (bool, error) {
	handles, err := t.findObjects(s, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, name),
		pkcs11.NewAttribute(pkcs11.CKA_ID, objectID(roleSigner, name)),
	})
	return len(handles) > 0, err
}

// sessionSigner signs with a Signer on a session that the caller already
// holds, so that an operation running inside withSession can sign.
type sessionSigner struct {
	*Signer
	session pkcs11.SessionHandle
}

func (s sessionSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	mech, input, err := s.mechanism(digest, opts)
	if err != nil {
		return nil, err
	}
	return s.signInSession(s.session, mech, input)
}
