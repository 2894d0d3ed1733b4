package keyserver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync/atomic"
	"unicode/utf8"

	"github.com/miekg/pkcs11"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/keywrap"
)

// PKCS11Store keeps the CA keys in a PKCS#11 token and wraps each one
// inside the token, so that no CA private key enters the key server's
// memory in clear.
//
// Each CA is a private key object whose CKA_LABEL is the signer name, with
// CKA_SENSITIVE and CKA_EXTRACTABLE true, and a CKO_CERTIFICATE object
// with the same label and CKA_ID. A longer chain adds a CKO_DATA object
// with that label and CKA_APPLICATION PKCS11ChainApplication, whose value
// is the concatenated DER of the certificates after the CA's. ImportCA
// writes these objects, and keys made by other tools serve as well when
// they follow the same layout.
//
// NOTE: CKA_EXTRACTABLE lets anyone logged in with the user PIN wrap a CA
// key out under a wrapping key of their own choice. The token keeps the
// keys out of the key server's memory, but the user PIN stays as valuable
// as the keys themselves.
type PKCS11Store struct {
	tok *token.Token
	// mechanismsChecked is set once the token has shown that it supports
	// the wrapping mechanisms. A failed check is repeated on the next
	// request, because it may have been a transient fault.
	mechanismsChecked atomic.Bool
}

// PKCS11ChainApplication is the CKA_APPLICATION of the data object that
// holds the certificates of a CA chain after the CA certificate.
const PKCS11ChainApplication = "tcs-keyserver ca chain"

// pkcs11IDSize is the size of the CKA_ID that ImportCA gives a CA key and
// its certificate.
const pkcs11IDSize = 16

// maxSignerLabelSize bounds the signer names that serve as CKA_LABEL. The
// enclave side's token package has the same bound.
const maxSignerLabelSize = 512

// wrapMechanisms are the mechanisms that WrapKey needs, with the function
// flag each must support.
var wrapMechanisms = []struct {
	mechanism uint
	flag      uint
	name      string
}{
	{pkcs11.CKM_AES_KEY_GEN, pkcs11.CKF_GENERATE, "CKM_AES_KEY_GEN"},
	{pkcs11.CKM_AES_KEY_WRAP_PAD, pkcs11.CKF_WRAP, "CKM_AES_KEY_WRAP_PAD"},
	{pkcs11.CKM_RSA_PKCS_OAEP, pkcs11.CKF_WRAP, "CKM_RSA_PKCS_OAEP"},
}

// OpenPKCS11Store opens the token of cfg and logs in as the user. A token
// that does not exist yet is initialised only when cfg.SOPIN is set.
// Errors wrap token.ErrModuleNotFound, token.ErrTokenNotFound,
// token.ErrPINIncorrect or token.ErrPINLocked where those apply.
func OpenPKCS11Store(cfg token.Config) (*PKCS11Store, error) {
	tok, err := token.Open(cfg)
	if err != nil {
		return nil, fmt.Errorf("open the pkcs#11 key store: %w", err)
	}
	return &PKCS11Store{tok: tok}, nil
}

// Close logs out of the token and unloads the module when no other user
// in the process needs it. It waits for running operations to end.
func (s *PKCS11Store) Close() error {
	return s.tok.Close()
}

// openPKCS11Store opens the store of --key-store=pkcs11 with the PIN from
// --user-pin-file or $TCS_USER_PIN, and closes it when mgr stops.
func (o *Options) openPKCS11Store(mgr manager.Manager) (*PKCS11Store, error) {
	cfg := token.Config{ModulePath: o.PKCS11Module, TokenLabel: o.PKCS11TokenLabel}
	var err error
	if o.PKCS11UserPINFile != "" {
		cfg.UserPIN, err = token.PINFromFile(o.PKCS11UserPINFile)
	} else {
		cfg.UserPIN, err = token.PINFromEnv(EnvUserPIN)
	}
	if err != nil {
		return nil, fmt.Errorf("user PIN of the pkcs#11 key store: %w (set --user-pin-file or $%s)", err, EnvUserPIN)
	}
	store, err := OpenPKCS11Store(cfg)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(closeOnStop{store.Close}); err != nil {
		return nil, errors.Join(err, store.Close())
	}
	return store, nil
}

// closeOnStop is a manager runnable that calls close when the manager
// stops. It runs on every replica, leader or not.
type closeOnStop struct{ close func() error }

func (c closeOnStop) Start(ctx context.Context) error {
	<-ctx.Done()
	return c.close()
}

func (closeOnStop) NeedLeaderElection() bool { return false }

// pkcs11CA is the content of one CA entry of the token.
type pkcs11CA struct {
	key         pkcs11.ObjectHandle
	id          []byte
	sensitive   bool
	extractable bool
	chain       []*x509.Certificate
}

// WrapKey implements KeyStore. The token wraps the CA key with
// CKM_AES_KEY_WRAP_PAD under a fresh AES-256 session key, which it then
// wraps for enclaveKey with CKM_RSA_PKCS_OAEP (SHA-1, MGF1-SHA-1, empty
// label). Both session objects, the AES key and the imported enclave key,
// are destroyed before WrapKey returns.
func (s *PKCS11Store) WrapKey(ctx context.Context, signer string, enclaveKey *rsa.PublicKey) ([]byte, []byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if err := checkSignerLabel(signer); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrUnknownSigner, err)
	}
	// The token wraps for any RSA key it is given, even one for which
	// RSA-OAEP hides nothing, such as public exponent 1.
	if enclaveKey == nil || enclaveKey.N == nil {
		return nil, nil, fmt.Errorf("%w: the enclave key is missing", ErrKeyStore)
	}
	if err := checkEnclaveKey(enclaveKey); err != nil {
		return nil, nil, fmt.Errorf("%w: refusing to wrap for the enclave key: %v", ErrKeyStore, err)
	}

	var blob, chainPEM []byte
	err := s.tok.WithSession(func(p *pkcs11.Ctx, session pkcs11.SessionHandle) error {
		t := p11Session{ctx: p, s: session, token: s.tok.Label()}
		if err := s.checkMechanisms(t); err != nil {
			return err
		}
		ca, err := t.findCA(signer)
		if err != nil {
			return err
		}
		if err := ca.usable(signer, t.token); err != nil {
			return err
		}
		if blob, err = t.wrapCAKey(signer, ca.key, enclaveKey); err != nil {
			return err
		}
		chainPEM = encodeChain(ca.chain)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return blob, chainPEM, nil
}

// checkMechanisms checks once per store that the token supports the
// wrapping mechanisms. Without it a missing mechanism would show only as
// a failed C_WrapKey with a vaguer return value.
func (s *PKCS11Store) checkMechanisms(t p11Session) error {
	if s.mechanismsChecked.Load() {
		return nil
	}
	info, err := t.ctx.GetSessionInfo(t.s)
	if err != nil {
		return fmt.Errorf("read the session information of token %q: %w", t.token, err)
	}
	for _, m := range wrapMechanisms {
		mi, err := t.ctx.GetMechanismInfo(info.SlotID, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mechanism, nil)})
		if isPKCS11Error(err, pkcs11.CKR_MECHANISM_INVALID) {
			return fmt.Errorf("%w: token %q does not support %s (0x%x), which wrapping a CA key "+
				"needs; use a module that offers it", ErrKeyStore, t.token, m.name, m.mechanism)
		}
		if err != nil {
			return fmt.Errorf("read the information of mechanism %s on token %q: %w", m.name, t.token, err)
		}
		if mi.Flags&m.flag == 0 {
			return fmt.Errorf("%w: token %q supports %s (0x%x) but not for function flag 0x%x, "+
				"which wrapping a CA key needs", ErrKeyStore, t.token, m.name, m.mechanism, m.flag)
		}
		if m.mechanism == pkcs11.CKM_AES_KEY_GEN &&
			(mi.MinKeySize > keywrap.AESKeySize || mi.MaxKeySize < keywrap.AESKeySize) {
			return fmt.Errorf("%w: token %q generates AES keys of %d to %d bytes, but the KMRA "+
				"format needs %d", ErrKeyStore, t.token, mi.MinKeySize, mi.MaxKeySize, keywrap.AESKeySize)
		}
	}
	s.mechanismsChecked.Store(true)
	return nil
}

// usable checks that a CA key may be wrapped. It must be sensitive, so that
// its value cannot be read, and extractable, so that it can be wrapped.
func (ca *pkcs11CA) usable(signer, tokenLabel string) error {
	if !ca.sensitive {
		return fmt.Errorf("%w: the CA key of %s in token %q has CKA_SENSITIVE false, so its value "+
			"can be read; set it to true or import the key again with tcsctl keystore import",
			ErrKeyStore, signer, tokenLabel)
	}
	if !ca.extractable {
		return fmt.Errorf("%w: the CA key of %s in token %q has CKA_EXTRACTABLE false, so the "+
			"token cannot wrap it; import the key again with tcsctl keystore import",
			ErrKeyStore, signer, tokenLabel)
	}
	return nil
}

// wrapCAKey returns the KMRA blob of the CA key for enclaveKey, made in
// the token.
func (t p11Session) wrapCAKey(signer string, caKey pkcs11.ObjectHandle, enclaveKey *rsa.PublicKey) (
	blob []byte, err error) {
	enclaveObject, err := t.ctx.CreateObject(t.s, enclaveKeyTemplate(enclaveKey))
	if err != nil {
		return nil, pkcs11Failure(err, "import the enclave public key into token %q", t.token)
	}
	defer func() { err = errors.Join(err, t.destroy("the enclave public key", enclaveObject)) }()

	aesKey, err := t.ctx.GenerateKey(t.s,
		[]*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, aesSessionKeyTemplate())
	if err != nil {
		return nil, pkcs11Failure(err, "generate an AES-256 session key in token %q", t.token)
	}
	defer func() { err = errors.Join(err, t.destroy("the AES session key", aesKey)) }()

	// SoftHSM2 (2.6.1 in the tests) wraps a private key as the DER of a
	// PKCS#8 PrivateKeyInfo, which is what the KMRA format carries.
	// NOTE: the key server cannot read what it wrapped, so only the tests
	// check that encoding, and only for SoftHSM2.
	wrappedKey, err := t.ctx.WrapKey(t.s,
		[]*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}, aesKey, caKey)
	if err != nil {
		return nil, pkcs11Failure(err, "wrap the CA key of %s with CKM_AES_KEY_WRAP_PAD in token %q",
			signer, t.token)
	}
	oaep := pkcs11.NewOAEPParams(pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, pkcs11.CKZ_DATA_SPECIFIED, nil)
	encryptedKey, err := t.ctx.WrapKey(t.s,
		[]*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP, oaep)}, enclaveObject, aesKey)
	if err != nil {
		return nil, pkcs11Failure(err, "wrap the AES session key with CKM_RSA_PKCS_OAEP in token %q",
			t.token)
	}

	if len(encryptedKey) != enclaveKey.Size() {
		return nil, fmt.Errorf("%w: token %q returned a %d-byte rsa-oaep part for a %d-byte modulus",
			ErrKeyStore, t.token, len(encryptedKey), enclaveKey.Size())
	}
	blob = append(encryptedKey, wrappedKey...)
	if _, _, err := keywrap.Split(blob, enclaveKey.Size()); err != nil {
		return nil, fmt.Errorf("%w: token %q returned an aes key wrap part of %d bytes: %v",
			ErrKeyStore, t.token, len(wrappedKey), err)
	}
	return blob, nil
}

// enclaveKeyTemplate is a session public key that can only wrap.
func enclaveKeyTemplate(pub *rsa.PublicKey) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODULUS, pub.N.Bytes()),
		pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(pub.E)).Bytes()),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
	}
}

// aesSessionKeyTemplate is a session AES-256 key whose value cannot be
// read but which can be wrapped, and which can itself only wrap.
func aesSessionKeyTemplate() []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, keywrap.AESKeySize),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
	}
}

// p11Session is a session of the store's token with its label for
// messages.
type p11Session struct {
	ctx   *pkcs11.Ctx
	s     pkcs11.SessionHandle
	token string
}

// findCA finds the CA key of signer, its certificate and the rest of its
// chain, and checks that the key matches the certificate.
func (t p11Session) findCA(signer string) (*pkcs11CA, error) {
	keys, err := t.find(caKeyTemplate(signer))
	if err != nil {
		return nil, err
	}
	switch len(keys) {
	case 0:
		return nil, fmt.Errorf("%w: token %q has no private key labelled %q; import it with "+
			"tcsctl keystore import", ErrUnknownSigner, t.token, signer)
	case 1:
	default:
		return nil, fmt.Errorf("%w: token %q has %d private keys labelled %q; keep one",
			ErrKeyStore, t.token, len(keys), signer)
	}
	ca := &pkcs11CA{key: keys[0]}
	attrs, err := t.ctx.GetAttributeValue(t.s, ca.key, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("read the attributes of the CA key of %s in token %q: %w", signer, t.token, err)
	}
	ca.id = attrs[0].Value
	ca.sensitive = isTrue(attrs[1].Value)
	ca.extractable = isTrue(attrs[2].Value)
	if len(ca.id) == 0 {
		return nil, fmt.Errorf("%w: the CA key of %s in token %q has an empty CKA_ID, so its "+
			"certificate cannot be found; give key and certificate the same CKA_ID", ErrKeyStore, signer, t.token)
	}

	cert, err := t.findCertificate(signer, ca.id)
	if err != nil {
		return nil, err
	}
	if err := t.checkKeyMatches(signer, ca.key, cert); err != nil {
		return nil, err
	}
	rest, err := t.findChain(signer)
	if err != nil {
		return nil, err
	}
	ca.chain = append([]*x509.Certificate{cert}, rest...)
	return ca, nil
}

// findCertificate reads the CA certificate with the key's label and ID.
func (t p11Session) findCertificate(signer string, id []byte) (*x509.Certificate, error) {
	handles, err := t.find(caCertificateTemplate(signer, id))
	if err != nil {
		return nil, err
	}
	switch len(handles) {
	case 0:
		return nil, fmt.Errorf("%w: token %q has the CA key of %s but no certificate with its "+
			"label and CKA_ID; import the certificate with the key", ErrKeyStore, t.token, signer)
	case 1:
	default:
		return nil, fmt.Errorf("%w: token %q has %d certificates for the CA key of %s; keep one",
			ErrKeyStore, t.token, len(handles), signer)
	}
	der, err := t.attribute(handles[0], pkcs11.CKA_VALUE)
	if err != nil {
		return nil, fmt.Errorf("read the CA certificate of %s in token %q: %w", signer, t.token, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: the CA certificate of %s in token %q is invalid: %v",
			ErrKeyStore, signer, t.token, err)
	}
	return cert, nil
}

// checkKeyMatches compares the public parts of the CA key object with the
// certificate: modulus and exponent of an RSA key, the curve of an EC key.
// An EC private key object has no public point to compare, so ImportCA
// checks the point before it stores the key.
func (t p11Session) checkKeyMatches(signer string, key pkcs11.ObjectHandle, cert *x509.Certificate) error {
	keyType, err := t.attribute(key, pkcs11.CKA_KEY_TYPE)
	if err != nil {
		return fmt.Errorf("read the key type of the CA key of %s in token %q: %w", signer, t.token, err)
	}
	mismatch := fmt.Errorf("%w: the CA key of %s in token %q does not match its certificate %q",
		ErrKeyStore, signer, t.token, cert.Subject.String())
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if !ulongIs(keyType, pkcs11.CKK_RSA) {
			return mismatch
		}
		attrs, err := t.ctx.GetAttributeValue(t.s, key, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil),
		})
		if err != nil {
			return fmt.Errorf("read the public part of the CA key of %s in token %q: %w", signer, t.token, err)
		}
		if !bytes.Equal(attrs[0].Value, pub.N.Bytes()) ||
			new(big.Int).SetBytes(attrs[1].Value).Cmp(big.NewInt(int64(pub.E))) != 0 {
			return mismatch
		}
	case *ecdsa.PublicKey:
		if !ulongIs(keyType, pkcs11.CKK_EC) {
			return mismatch
		}
		params, err := t.attribute(key, pkcs11.CKA_EC_PARAMS)
		if err != nil {
			return fmt.Errorf("read the curve of the CA key of %s in token %q: %w", signer, t.token, err)
		}
		want, err := curveParams(pub.Curve)
		if err != nil {
			return fmt.Errorf("%w: the CA certificate of %s in token %q: %v", ErrKeyStore, signer, t.token, err)
		}
		if !bytes.Equal(params, want) {
			return mismatch
		}
	default:
		return fmt.Errorf("%w: the CA certificate of %s in token %q has a %T key; the enclave "+
			"accepts rsa and ecdsa", ErrKeyStore, signer, t.token, cert.PublicKey)
	}
	return nil
}

// findChain reads the certificates after the CA certificate, if any.
func (t p11Session) findChain(signer string) ([]*x509.Certificate, error) {
	handles, err := t.find(chainTemplate(signer))
	if err != nil {
		return nil, err
	}
	switch len(handles) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("%w: token %q has %d chain data objects for %s; keep one",
			ErrKeyStore, t.token, len(handles), signer)
	}
	der, err := t.attribute(handles[0], pkcs11.CKA_VALUE)
	if err != nil {
		return nil, fmt.Errorf("read the certificate chain of %s in token %q: %w", signer, t.token, err)
	}
	certs, err := x509.ParseCertificates(der)
	if err != nil {
		return nil, fmt.Errorf("%w: the certificate chain of %s in token %q is invalid: %v",
			ErrKeyStore, signer, t.token, err)
	}
	return certs, nil
}

// find returns the handles of all objects that match template.
func (t p11Session) find(template []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := t.ctx.FindObjectsInit(t.s, template); err != nil {
		return nil, fmt.Errorf("search token %q: %w", t.token, err)
	}
	var all []pkcs11.ObjectHandle
	for {
		batch, _, err := t.ctx.FindObjects(t.s, 64)
		if err != nil {
			_ = t.ctx.FindObjectsFinal(t.s)
			return nil, fmt.Errorf("search token %q: %w", t.token, err)
		}
		if len(batch) == 0 {
			break
		}
		all = append(all, batch...)
	}
	if err := t.ctx.FindObjectsFinal(t.s); err != nil {
		return nil, fmt.Errorf("end the search of token %q: %w", t.token, err)
	}
	return all, nil
}

// attribute reads one attribute value of an object.
func (t p11Session) attribute(h pkcs11.ObjectHandle, typ uint) ([]byte, error) {
	attrs, err := t.ctx.GetAttributeValue(t.s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
	if err != nil {
		return nil, err
	}
	return attrs[0].Value, nil
}

// destroy destroys one object and names it in the error.
func (t p11Session) destroy(what string, h pkcs11.ObjectHandle) error {
	if err := t.ctx.DestroyObject(t.s, h); err != nil {
		return fmt.Errorf("destroy %s in token %q: %w", what, t.token, err)
	}
	return nil
}

// caKeyTemplate matches the CA private key of signer.
func caKeyTemplate(signer string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, signer),
	}
}

// caCertificateTemplate matches the CA certificate of signer whose key has
// CKA_ID id.
func caCertificateTemplate(signer string, id []byte) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, signer),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}
}

// chainTemplate matches the chain data object of signer.
func chainTemplate(signer string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, signer),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, PKCS11ChainApplication),
	}
}

// caObjectID is the CKA_ID that ImportCA gives the objects of signer. It
// is derived from the name so that a re-import after a delete gets the
// same ID, and prefixed so that it differs from the enclave side's IDs.
func caObjectID(signer string) []byte {
	sum := sha256.Sum256([]byte("tcs-keyserver-ca\x00" + signer))
	return sum[:pkcs11IDSize]
}

func checkSignerLabel(signer string) error {
	if signer == "" {
		return errors.New("the signer name is empty")
	}
	if len(signer) > maxSignerLabelSize {
		return fmt.Errorf("the signer name of %d bytes is longer than the maximum of %d",
			len(signer), maxSignerLabelSize)
	}
	if !utf8.ValidString(signer) {
		return fmt.Errorf("the signer name %q is not valid UTF-8", signer)
	}
	return nil
}

// Named curve OIDs (RFC 5480 section 2.1.1.1) of the curves the enclave
// accepts.
var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
)

// curveParams returns the DER OID of curve, the value of CKA_EC_PARAMS.
func curveParams(curve elliptic.Curve) ([]byte, error) {
	switch curve {
	case elliptic.P256():
		return asn1.Marshal(oidP256)
	case elliptic.P384():
		return asn1.Marshal(oidP384)
	}
	return nil, fmt.Errorf("elliptic curve %s is not supported; use P-256 or P-384", curve.Params().Name)
}

// encodeChain returns the PEM of certs in order.
func encodeChain(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// permanentPKCS11Errors are return values that mean the token's content or
// abilities are unfit, so that trying again cannot help.
var permanentPKCS11Errors = []uint{
	pkcs11.CKR_ARGUMENTS_BAD,
	pkcs11.CKR_ATTRIBUTE_TYPE_INVALID,
	pkcs11.CKR_ATTRIBUTE_VALUE_INVALID,
	pkcs11.CKR_FUNCTION_NOT_SUPPORTED,
	pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED,
	pkcs11.CKR_KEY_NOT_WRAPPABLE,
	pkcs11.CKR_KEY_SIZE_RANGE,
	pkcs11.CKR_KEY_TYPE_INCONSISTENT,
	pkcs11.CKR_KEY_UNEXTRACTABLE,
	pkcs11.CKR_MECHANISM_INVALID,
	pkcs11.CKR_MECHANISM_PARAM_INVALID,
	pkcs11.CKR_TEMPLATE_INCOMPLETE,
	pkcs11.CKR_TEMPLATE_INCONSISTENT,
	pkcs11.CKR_WRAPPING_KEY_HANDLE_INVALID,
	pkcs11.CKR_WRAPPING_KEY_SIZE_RANGE,
	pkcs11.CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
}

// pkcs11Failure describes a failed PKCS#11 call, marked with ErrKeyStore
// when its return value is permanent. Others, such as a closed session or
// a device error, stay transient so that the request is retried.
func pkcs11Failure(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	var rv pkcs11.Error
	if errors.As(err, &rv) && slices.Contains(permanentPKCS11Errors, uint(rv)) {
		return fmt.Errorf("%w: %s: %w", ErrKeyStore, msg, err)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

func isPKCS11Error(err error, rv uint) bool {
	var p11Err pkcs11.Error
	return errors.As(err, &p11Err) && uint(p11Err) == rv
}

// isTrue reads a CK_BBOOL value.
func isTrue(v []byte) bool { return len(v) == 1 && v[0] != 0 }

// ulongIs reports whether a CK_ULONG value in the host's byte order, as the
// module returns it, equals want.
func ulongIs(v []byte, want uint) bool {
	var got uint64
	switch len(v) {
	case 4:
		got = uint64(binary.NativeEndian.Uint32(v))
	case 8:
		got = binary.NativeEndian.Uint64(v)
	default:
		return false
	}
	return got == uint64(want)
}
