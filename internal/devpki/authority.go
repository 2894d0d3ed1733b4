package devpki

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"time"
)

// CAType selects the intermediate CA that issues the PCK certificate.
type CAType string

const (
	// PlatformCA issues PCK certificates of multi-package platforms; their
	// SGX extension carries the platform instance ID and configuration.
	PlatformCA CAType = "platform"
	// ProcessorCA issues PCK certificates of single-package platforms.
	ProcessorCA CAType = "processor"
)

// Subject common names. The root, TCB signing and PCK names start with "TCS
// Development" so that no one mistakes them for Intel's. The intermediates
// carry Intel's exact names, because verifiers (this project's among them)
// tell the CA type from the issuer's common name. Their organization and
// their root still mark them as development certificates.
const (
	RootCommonName        = "TCS Development SGX Root CA"
	PlatformCACommonName  = "Intel SGX PCK Platform CA"
	ProcessorCACommonName = "Intel SGX PCK Processor CA"
	TCBSigningCommonName  = "TCS Development SGX TCB Signing"
	PCKCommonName         = "TCS Development SGX PCK Certificate"
	organization          = "TCS Development (not Intel)"
)

// Defaults used where Options leaves a field zero.
var (
	// DefaultFMSPC is the development platform's FMSPC. It names no Intel
	// platform family.
	DefaultFMSPC = [6]byte{0x00, 0xC0, 0xDE, 0x00, 0x00, 0x00}
	// DefaultTCBComponents are the 16 SGX TCB component SVNs of the
	// development platform, shaped like a current Intel server platform.
	DefaultTCBComponents = [16]byte{12, 12, 3, 3, 255, 255, 1}
)

const (
	// DefaultPCESVN is the development platform's PCE security version.
	DefaultPCESVN uint16 = 13

	DefaultRootValidity       = 20 * 365 * 24 * time.Hour
	DefaultCAValidity         = 10 * 365 * 24 * time.Hour
	DefaultTCBSigningValidity = 7 * 365 * 24 * time.Hour
	DefaultPCKValidity        = 7 * 365 * 24 * time.Hour

	// defaultBackdate is how far before New's call time certificates start
	// when Options.NotBefore is zero, so that clocks a little behind still
	// accept them.
	defaultBackdate = time.Hour
)

// Options configure New. The zero value gives a Platform CA authority with
// the defaults above and keys from crypto/rand.
type Options struct {
	// CAType selects the PCK issuer; empty means PlatformCA. Both
	// intermediates are always made, so that tests can present the other.
	CAType CAType
	// FMSPC of the platform; all zero means DefaultFMSPC.
	FMSPC [6]byte
	// PCEID of the platform; zero is Intel's only PCE ID, 0000.
	PCEID [2]byte
	// TCBComponents are the SGX TCB component SVNs in the PCK certificate;
	// all zero means DefaultTCBComponents.
	TCBComponents [16]byte
	// PCESVN in the PCK certificate; zero means DefaultPCESVN.
	PCESVN uint16
	// SGXType written in the PCK extension; zero is Standard.
	SGXType SGXType
	// Configuration written in a Platform CA PCK certificate.
	Configuration PlatformConfiguration

	// NotBefore of every certificate; zero means one hour before New runs.
	NotBefore time.Time
	// Validity periods; zero means the Default... values.
	RootValidity, CAValidity, TCBSigningValidity, PCKValidity time.Duration

	// Seed, when set, is the source of every private key, serial number and
	// identifier, so that the same seed bytes give the same keys. Signatures
	// are randomised regardless. Nil means crypto/rand.
	Seed io.Reader
}

// Authority is a development SGX PKI with one platform and its quoting
// enclave. It is safe for concurrent use once made: every method only reads
// it.
type Authority struct {
	caType CAType

	root, platformCA, processorCA, tcbSigning, pck *x509.Certificate
	rootKey, platformKey, processorKey             *ecdsa.PrivateKey
	tcbSigningKey, pckKey, attestationKey          *ecdsa.PrivateKey

	ext SGXExtension
	// qeID fills the first 16 bytes of the quote header's user data, where
	// Intel's QE puts its QE ID.
	qeID [16]byte
}

// New makes a development authority: every key and certificate is created
// at call time.
func New(opts Options) (*Authority, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	e := entropy{seed: opts.Seed}
	a := &Authority{caType: opts.CAType}

	if err := a.makeCAs(e, opts); err != nil {
		return nil, err
	}
	if a.tcbSigningKey, err = e.newKey(); err != nil {
		return nil, err
	}
	a.tcbSigning, err = issue(e, a.root, a.rootKey, &a.tcbSigningKey.PublicKey, x509.Certificate{
		Subject:   pkix.Name{CommonName: TCBSigningCommonName, Organization: []string{organization}},
		NotBefore: opts.NotBefore,
		NotAfter:  opts.NotBefore.Add(opts.TCBSigningValidity),
		KeyUsage:  x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	})
	if err != nil {
		return nil, fmt.Errorf("issue TCB signing certificate: %w", err)
	}

	a.ext = SGXExtension{
		Components:        opts.TCBComponents,
		PCESVN:            opts.PCESVN,
		CPUSVN:            opts.TCBComponents,
		PCEID:             opts.PCEID,
		FMSPC:             opts.FMSPC,
		SGXType:           opts.SGXType,
		HasPlatformFields: opts.CAType == PlatformCA,
	}
	if a.ext.HasPlatformFields {
		a.ext.Configuration = opts.Configuration
	}
	if err := e.bytes(a.ext.PPID[:]); err != nil {
		return nil, err
	}
	if a.ext.HasPlatformFields {
		if err := e.bytes(a.ext.PlatformInstanceID[:]); err != nil {
			return nil, err
		}
	}
	if a.pckKey, err = e.newKey(); err != nil {
		return nil, err
	}
	extValue, err := a.ext.Marshal()
	if err != nil {
		return nil, err
	}
	a.pck, err = a.signPCK(e, opts.CAType, &a.pckKey.PublicKey, extValue,
		opts.NotBefore, opts.NotBefore.Add(opts.PCKValidity))
	if err != nil {
		return nil, err
	}

	if a.attestationKey, err = e.newKey(); err != nil {
		return nil, err
	}
	if err := a.deriveQEID(); err != nil {
		return nil, err
	}
	return a, nil
}

func (o Options) withDefaults() (Options, error) {
	switch o.CAType {
	case "":
		o.CAType = PlatformCA
	case PlatformCA, ProcessorCA:
	default:
		return o, fmt.Errorf("invalid CA type %q: use %q or %q", o.CAType, PlatformCA, ProcessorCA)
	}
	if o.FMSPC == ([6]byte{}) {
		o.FMSPC = DefaultFMSPC
	}
	if o.TCBComponents == ([16]byte{}) {
		o.TCBComponents = DefaultTCBComponents
	}
	if o.PCESVN == 0 {
		o.PCESVN = DefaultPCESVN
	}
	if o.SGXType < SGXTypeStandard || o.SGXType > SGXTypeScalableWithIntegrityOnly {
		return o, fmt.Errorf("invalid SGX type %d: use 0 (standard), 1 (scalable) or 2 (scalable with integrity only)", o.SGXType)
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-defaultBackdate).Truncate(time.Second)
	}
	durations := []struct {
		name  string
		value *time.Duration
		def   time.Duration
	}{
		{"root", &o.RootValidity, DefaultRootValidity},
		{"CA", &o.CAValidity, DefaultCAValidity},
		{"TCB signing", &o.TCBSigningValidity, DefaultTCBSigningValidity},
		{"PCK", &o.PCKValidity, DefaultPCKValidity},
	}
	for _, d := range durations {
		if *d.value < 0 {
			return o, fmt.Errorf("invalid %s validity %s: must be positive", d.name, *d.value)
		}
		if *d.value == 0 {
			*d.value = d.def
		}
	}
	return o, nil
}

func (a *Authority) makeCAs(e entropy, opts Options) error {
	var err error
	if a.rootKey, err = e.newKey(); err != nil {
		return err
	}
	a.root, err = issue(e, nil, a.rootKey, &a.rootKey.PublicKey, x509.Certificate{
		Subject:               pkix.Name{CommonName: RootCommonName, Organization: []string{organization}},
		NotBefore:             opts.NotBefore,
		NotAfter:              opts.NotBefore.Add(opts.RootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	})
	if err != nil {
		return fmt.Errorf("issue root certificate: %w", err)
	}

	intermediates := []struct {
		name string
		cert **x509.Certificate
		key  **ecdsa.PrivateKey
	}{
		{PlatformCACommonName, &a.platformCA, &a.platformKey},
		{ProcessorCACommonName, &a.processorCA, &a.processorKey},
	}
	for _, ca := range intermediates {
		if *ca.key, err = e.newKey(); err != nil {
			return err
		}
		*ca.cert, err = issue(e, a.root, a.rootKey, &(*ca.key).PublicKey, x509.Certificate{
			Subject:               pkix.Name{CommonName: ca.name, Organization: []string{organization}},
			NotBefore:             opts.NotBefore,
			NotAfter:              opts.NotBefore.Add(opts.CAValidity),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
			MaxPathLenZero:        true,
		})
		if err != nil {
			return fmt.Errorf("issue %s certificate: %w", ca.name, err)
		}
	}
	return nil
}

// issue signs template with parentKey under parent; a nil parent makes a
// self-signed certificate.
func issue(e entropy, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, pub *ecdsa.PublicKey,
	template x509.Certificate) (*x509.Certificate, error) {
	serial, err := e.serialNumber()
	if err != nil {
		return nil, err
	}
	template.SerialNumber = serial
	template.SignatureAlgorithm = x509.ECDSAWithSHA256
	if template.IsCA || parent == nil {
		// RFC 5280 section 4.2.1.2 method 1: SHA-1 of the public key bits
		// would do, but SHA-256 truncated to 20 bytes needs no SHA-1.
		pubDER, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(pubDER)
		template.SubjectKeyId = sum[:20]
	}
	if parent == nil {
		parent = &template
	}
	der, err := x509.CreateCertificate(rand.Reader, &template, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// signPCK issues a PCK certificate for pub under the Platform or Processor
// CA. A nil extension value leaves the SGX extension out.
func (a *Authority) signPCK(e entropy, caType CAType, pub *ecdsa.PublicKey, extValue []byte,
	notBefore, notAfter time.Time, extra ...pkix.Extension) (*x509.Certificate, error) {
	template := x509.Certificate{
		Subject:   pkix.Name{CommonName: PCKCommonName, Organization: []string{organization}},
		NotBefore: notBefore,
		NotAfter:  notAfter,
		KeyUsage:  x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	if extValue != nil {
		template.ExtraExtensions = []pkix.Extension{{Id: OIDSGXExtension, Value: extValue}}
	}
	template.ExtraExtensions = append(template.ExtraExtensions, extra...)
	ca, caKey := a.CA(caType)
	cert, err := issue(e, ca, caKey, pub, template)
	if err != nil {
		return nil, fmt.Errorf("issue PCK certificate: %w", err)
	}
	return cert, nil
}

func (a *Authority) deriveQEID() error {
	pub, err := PublicKeyBytes(&a.attestationKey.PublicKey)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(pub)
	copy(a.qeID[:], sum[:])
	return nil
}

// Root returns the development root CA certificate, which a verifier must
// list as an extra trusted root to accept the authority's quotes.
func (a *Authority) Root() *x509.Certificate { return a.root }

// RootKey returns the root CA's private key.
func (a *Authority) RootKey() *ecdsa.PrivateKey { return a.rootKey }

// CAType returns the type of the CA that issued the PCK certificate.
func (a *Authority) CAType() CAType { return a.caType }

// CA returns the certificate and key of the Platform or Processor CA; any
// other value returns the one that issued the PCK certificate.
func (a *Authority) CA(t CAType) (*x509.Certificate, *ecdsa.PrivateKey) {
	if t != PlatformCA && t != ProcessorCA {
		t = a.caType
	}
	if t == ProcessorCA {
		return a.processorCA, a.processorKey
	}
	return a.platformCA, a.platformKey
}

// Intermediate returns the CA certificate that issued the PCK certificate.
func (a *Authority) Intermediate() *x509.Certificate {
	cert, _ := a.CA(a.caType)
	return cert
}

// IntermediateKey returns the private key of Intermediate.
func (a *Authority) IntermediateKey() *ecdsa.PrivateKey {
	_, key := a.CA(a.caType)
	return key
}

// TCBSigning returns the certificate that signs TCB Info and QE Identity.
func (a *Authority) TCBSigning() *x509.Certificate { return a.tcbSigning }

// TCBSigningKey returns the private key of TCBSigning.
func (a *Authority) TCBSigningKey() *ecdsa.PrivateKey { return a.tcbSigningKey }

// PCK returns the PCK certificate of the platform.
func (a *Authority) PCK() *x509.Certificate { return a.pck }

// PCKKey returns the PCK private key, which signs QE reports.
func (a *Authority) PCKKey() *ecdsa.PrivateKey { return a.pckKey }

// AttestationKey returns the quoting enclave's attestation key, which signs
// quotes.
func (a *Authority) AttestationKey() *ecdsa.PrivateKey { return a.attestationKey }

// Extension returns the SGX extension of the PCK certificate: the
// platform's FMSPC, PCE ID and TCB.
func (a *Authority) Extension() SGXExtension { return a.ext }

// FMSPC returns the platform's FMSPC.
func (a *Authority) FMSPC() [6]byte { return a.ext.FMSPC }

// PCEID returns the platform's PCE ID.
func (a *Authority) PCEID() [2]byte { return a.ext.PCEID }

// PCKOptions configure IssuePCK. Zero fields take the authority's values.
type PCKOptions struct {
	// CAType selects the issuing intermediate; empty means the
	// authority's.
	CAType CAType
	// NotBefore and NotAfter default to the authority's PCK certificate's.
	NotBefore, NotAfter time.Time
	// Extension replaces the SGX extension; nil keeps the authority's.
	Extension *SGXExtension
	// RawExtension, when set, is written as the extension value verbatim,
	// to test a verifier on malformed extensions.
	RawExtension []byte
	// OmitExtension leaves the SGX extension out.
	OmitExtension bool
	// ExtraExtensions are added to the certificate, for example an unknown
	// critical extension that a verifier must reject.
	ExtraExtensions []pkix.Extension
}

// IssuePCK issues another PCK certificate with a fresh key under one of the
// authority's intermediates, for tests of certificate validity and of the
// SGX extension. Pass the results to WithLeaf.
func (a *Authority) IssuePCK(opts PCKOptions) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	e := entropy{}
	key, err := e.newKey()
	if err != nil {
		return nil, nil, err
	}
	if opts.CAType == "" {
		opts.CAType = a.caType
	}
	if opts.NotBefore.IsZero() {
		opts.NotBefore = a.pck.NotBefore
	}
	if opts.NotAfter.IsZero() {
		opts.NotAfter = a.pck.NotAfter
	}

	ext := a.ext
	if opts.Extension != nil {
		ext = *opts.Extension
	}
	value, err := ext.Marshal()
	if err != nil {
		return nil, nil, err
	}
	if opts.RawExtension != nil {
		value = opts.RawExtension
	}
	if opts.OmitExtension {
		value = nil
	}
	cert, err := a.signPCK(e, opts.CAType, &key.PublicKey, value, opts.NotBefore, opts.NotAfter, opts.ExtraExtensions...)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}
