package token

import (
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/miekg/pkcs11"
)

// DefaultCAValidity is the validity of a self-signed CA certificate when
// CAOptions.Validity is zero.
const DefaultCAValidity = 5 * 365 * 24 * time.Hour

// serialNumberBits is the size of random certificate serial numbers; RFC
// 5280 section 4.1.2.2 allows at most 20 octets.
const serialNumberBits = 128

// CAOptions describe a self-signed CA that GenerateSelfSignedCA makes.
type CAOptions struct {
	// Algorithm is the key type; the zero value means ECDSAP256.
	Algorithm KeyAlgorithm
	// Subject is the certificate subject; an empty one gets the signer name
	// as common name.
	Subject pkix.Name
	// NotBefore is the start of validity; the zero value means now.
	NotBefore time.Time
	// Validity is the certificate lifetime; zero means DefaultCAValidity.
	Validity time.Duration
}

// GenerateSelfSignedCA generates a CA key pair inside the token as the
// signer named name, signs a self-signed CA certificate with it and stores
// that certificate beside the key. The private key never leaves the
// token. The certificate may sign end-entity certificates only (path
// length 0). A failure leaves no object behind.
func (t *Token) GenerateSelfSignedCA(name string, opts CAOptions) (*Signer, error) {
	if err := checkName("signer", name); err != nil {
		return nil, err
	}
	if opts.Algorithm == "" {
		opts.Algorithm = ECDSAP256
	}
	if opts.Validity == 0 {
		opts.Validity = DefaultCAValidity
	}
	if opts.Validity < 0 {
		return nil, fmt.Errorf("signer %q: negative ca validity %v", name, opts.Validity)
	}
	if opts.NotBefore.IsZero() {
		opts.NotBefore = time.Now()
	}
	if len(opts.Subject.ToRDNSequence()) == 0 {
		opts.Subject = pkix.Name{CommonName: name}
	}

	var signer *Signer
	err := t.withSession(func(s pkcs11.SessionHandle) error {
		exists, err := t.signerExists(s, name)
		if err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("signer %q %w; delete it before generating a new one", name, ErrExists)
		}

		signer, err = t.generateSignerKey(s, name, opts.Algorithm)
		if err != nil {
			return err
		}
		cert, err := selfSign(sessionSigner{signer, s}, opts)
		if err == nil {
			signer.cert = cert
			err = t.completeSigner(s, signer)
		}
		if err != nil {
			return errorsJoin(fmt.Errorf("signer %q: %w", name, err), t.destroyObjects(s, signer.priv))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return signer, nil
}

// generateSignerKey generates a signing key pair. The private key is a
// token object; the public key is a session object, destroyed once read.
func (t *Token) generateSignerKey(s pkcs11.SessionHandle, name string, alg KeyAlgorithm) (
	*Signer, error) {
	var (
		mech   uint
		public []*pkcs11.Attribute
		curve  elliptic.Curve
	)
	keyType := uint(pkcs11.CKK_EC)
	switch alg {
	case RSA3072:
		mech, keyType = pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, pkcs11.CKK_RSA
		public = []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, 3072),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, rsaPublicExponent),
		}
	case ECDSAP256, ECDSAP384:
		mech, curve = pkcs11.CKM_EC_KEY_PAIR_GEN, elliptic.P256()
		if alg == ECDSAP384 {
			curve = elliptic.P384()
		}
		params, err := curveParams(curve)
		if err != nil {
			return nil, err
		}
		public = []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params)}
	default:
		return nil, fmt.Errorf("signer %q: %w: key algorithm %q; use %s, %s or %s", name,
			ErrUnsupportedKey, alg, RSA3072, ECDSAP256, ECDSAP384)
	}
	public = append(public,
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
	)
	private := append(signerTemplate(pkcs11.CKO_PRIVATE_KEY, name), privateKeyAttributes(keyType)...)

	pubHandle, priv, err := t.ctx.GenerateKeyPair(s,
		[]*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, public, private)
	if err != nil {
		return nil, fmt.Errorf("signer %q: generate a %s key pair: %w", name, alg, err)
	}
	var pub crypto.PublicKey
	if keyType == pkcs11.CKK_RSA {
		pub, err = t.readRSAPublicKey(s, pubHandle)
	} else {
		pub, err = t.readECPublicKey(s, pubHandle, curve)
	}
	cleanup := t.destroyObjects(s, pubHandle)
	if err != nil || cleanup != nil {
		return nil, errorsJoin(fmt.Errorf("signer %q: read the generated public key: %w", name, err),
			errorsJoin(cleanup, t.destroyObjects(s, priv)))
	}
	return &Signer{name: name, tok: t, priv: priv, pub: pub}, nil
}

// selfSign makes the self-signed CA certificate of signer.
func selfSign(signer crypto.Signer, opts CAOptions) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), serialNumberBits))
	if err != nil {
		return nil, fmt.Errorf("generate a serial number: %w", err)
	}
	template := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               opts.Subject,
		NotBefore:             opts.NotBefore,
		NotAfter:              opts.NotBefore.Add(opts.Validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, signer.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("sign the ca certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}
