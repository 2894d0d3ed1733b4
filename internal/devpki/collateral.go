package devpki

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
)

// TCB statuses of TCB Info and QE Identity levels (Intel PCS API v4).
const (
	StatusUpToDate                          = "UpToDate"
	StatusSWHardeningNeeded                 = "SWHardeningNeeded"
	StatusConfigurationNeeded               = "ConfigurationNeeded"
	StatusConfigurationAndSWHardeningNeeded = "ConfigurationAndSWHardeningNeeded"
	StatusOutOfDate                         = "OutOfDate"
	StatusOutOfDateConfigurationNeeded      = "OutOfDateConfigurationNeeded"
	StatusRevoked                           = "Revoked"
)

const (
	// DefaultCollateralAge is how long before the verification time the
	// collateral of Collateral is issued.
	DefaultCollateralAge = time.Hour
	// DefaultCollateralLifetime is the time from issueDate to nextUpdate,
	// the 30 days Intel's PCS uses.
	DefaultCollateralLifetime = 30 * 24 * time.Hour
	// DefaultTCBEvaluationDataNumber is the tcbEvaluationDataNumber of the
	// TCB Info and QE Identity.
	DefaultTCBEvaluationDataNumber = 17

	// collateralTimeLayout is the date-time form of Intel's collateral.
	collateralTimeLayout = "2006-01-02T15:04:05Z"
	// levelDateStep separates the tcbDate of consecutive default levels.
	levelDateStep = 90 * 24 * time.Hour
)

// TCBLevel is a platform TCB level of TCB Info.
type TCBLevel struct {
	Components  [16]byte
	PCESVN      uint16
	Date        time.Time
	Status      string
	AdvisoryIDs []string
}

// QELevel is a TCB level of QE Identity.
type QELevel struct {
	ISVSVN      uint16
	Date        time.Time
	Status      string
	AdvisoryIDs []string
}

// CollateralOption changes one thing in the collateral that Collateral
// builds. Without options the collateral matches the authority's quotes.
type CollateralOption func(*collateralConfig)

type signer struct {
	key   *ecdsa.PrivateKey
	chain []*x509.Certificate
	// cert is the CRL issuer's certificate; unused for JSON signers.
	cert *x509.Certificate
}

type tcbInfoConfig struct {
	layout, versionField    int
	id                      string
	fmspc                   [6]byte
	pceID                   [2]byte
	issueDate, nextUpdate   time.Time
	tcbType, evaluationData int
	levels                  []TCBLevel
	edit                    func([]byte) []byte
	corrupt                 bool
}

type qeIdentityConfig struct {
	id                    string
	version               int
	issueDate, nextUpdate time.Time
	evaluationData        int
	miscSelect, miscMask  uint32
	attributes, attrMask  [16]byte
	mrSigner              [32]byte
	isvProdID             uint16
	levels                []QELevel
	edit                  func([]byte) []byte
	corrupt               bool
}

type crlConfig struct {
	signer                 signer
	thisUpdate, nextUpdate time.Time
	revoked                []*big.Int
	corrupt                bool
}

type collateralConfig struct {
	tcbInfo    tcbInfoConfig
	qeIdentity qeIdentityConfig
	jsonSigner signer
	pckCRL     crlConfig
	rootCRL    crlConfig
	crlFormat  CRLFormat
}

// CRLFormat is the encoding of the CRLs in a bundle from Collateral.
type CRLFormat int

const (
	// CRLDER is the binary DER form that Intel's PCS sends.
	CRLDER CRLFormat = iota
	// CRLPEM is a PEM "X509 CRL" block.
	CRLPEM
	// CRLHex is the DER in lower-case hex text, as PCCS stores it.
	CRLHex
)

// WithTCBInfoVersion selects the TCB Info layout: 3 (sgxtcbcomponents, the
// default) or 2 (sgxtcbcomp01svn..16svn, no id field).
func WithTCBInfoVersion(v int) CollateralOption {
	return func(c *collateralConfig) { c.tcbInfo.layout, c.tcbInfo.versionField = v, v }
}

// WithTCBInfoVersionField writes v as the TCB Info version without changing
// the layout.
func WithTCBInfoVersionField(v int) CollateralOption {
	return func(c *collateralConfig) { c.tcbInfo.versionField = v }
}

// WithTCBInfoID sets the TCB Info id ("SGX" by default).
func WithTCBInfoID(id string) CollateralOption {
	return func(c *collateralConfig) { c.tcbInfo.id = id }
}

// WithTCBInfoFMSPC sets the TCB Info FMSPC.
func WithTCBInfoFMSPC(fmspc [6]byte) CollateralOption {
	return func(c *collateralConfig) { c.tcbInfo.fmspc = fmspc }
}

// WithTCBInfoPCEID sets the TCB Info PCE ID.
func WithTCBInfoPCEID(id [2]byte) CollateralOption {
	return func(c *collateralConfig) { c.tcbInfo.pceID = id }
}

// WithTCBInfoWindow sets the TCB Info issueDate and nextUpdate.
func WithTCBInfoWindow(issueDate, nextUpdate time.Time) CollateralOption {
	return func(c *collateralConfig) { c.tcbInfo.issueDate, c.tcbInfo.nextUpdate = issueDate, nextUpdate }
}

// WithTCBType sets the TCB Info tcbType (0, the only type Intel defines for
// SGX, by default).
func WithTCBType(t int) CollateralOption {
	return func(c *collateralConfig) { c.tcbInfo.tcbType = t }
}

// WithTCBLevels replaces the TCB Info levels. Intel lists them from the
// highest TCB down; a verifier takes the first that the platform reaches.
func WithTCBLevels(levels ...TCBLevel) CollateralOption {
	return func(c *collateralConfig) { c.tcbInfo.levels = append([]TCBLevel{}, levels...) }
}

// EditTCBInfo edits the TCB Info JSON text before it is signed.
func EditTCBInfo(edit func([]byte) []byte) CollateralOption {
	return func(c *collateralConfig) { c.tcbInfo.edit = edit }
}

// CorruptTCBInfoSignature flips a bit of the TCB Info signature.
func CorruptTCBInfoSignature() CollateralOption {
	return func(c *collateralConfig) { c.tcbInfo.corrupt = true }
}

// WithQEIdentityID sets the QE Identity id ("QE" by default).
func WithQEIdentityID(id string) CollateralOption {
	return func(c *collateralConfig) { c.qeIdentity.id = id }
}

// WithQEIdentityVersion sets the QE Identity version (2 by default).
func WithQEIdentityVersion(v int) CollateralOption {
	return func(c *collateralConfig) { c.qeIdentity.version = v }
}

// WithQEIdentityWindow sets the QE Identity issueDate and nextUpdate.
func WithQEIdentityWindow(issueDate, nextUpdate time.Time) CollateralOption {
	return func(c *collateralConfig) {
		c.qeIdentity.issueDate, c.qeIdentity.nextUpdate = issueDate, nextUpdate
	}
}

// WithQEIdentityMRSigner sets the MRSIGNER the QE Identity expects.
func WithQEIdentityMRSigner(m [32]byte) CollateralOption {
	return func(c *collateralConfig) { c.qeIdentity.mrSigner = m }
}

// WithQEIdentityISVProdID sets the ISV product ID the QE Identity expects.
func WithQEIdentityISVProdID(id uint16) CollateralOption {
	return func(c *collateralConfig) { c.qeIdentity.isvProdID = id }
}

// WithQEIdentityMiscSelect sets the QE Identity miscselect and its mask.
func WithQEIdentityMiscSelect(value, mask uint32) CollateralOption {
	return func(c *collateralConfig) { c.qeIdentity.miscSelect, c.qeIdentity.miscMask = value, mask }
}

// WithQEIdentityAttributes sets the QE Identity attributes and their mask.
func WithQEIdentityAttributes(value, mask [16]byte) CollateralOption {
	return func(c *collateralConfig) { c.qeIdentity.attributes, c.qeIdentity.attrMask = value, mask }
}

// WithQELevels replaces the QE Identity TCB levels, highest ISVSVN first.
func WithQELevels(levels ...QELevel) CollateralOption {
	return func(c *collateralConfig) { c.qeIdentity.levels = append([]QELevel{}, levels...) }
}

// EditQEIdentity edits the QE Identity JSON text before it is signed.
func EditQEIdentity(edit func([]byte) []byte) CollateralOption {
	return func(c *collateralConfig) { c.qeIdentity.edit = edit }
}

// CorruptQEIdentitySignature flips a bit of the QE Identity signature.
func CorruptQEIdentitySignature() CollateralOption {
	return func(c *collateralConfig) { c.qeIdentity.corrupt = true }
}

// WithCollateralSigner signs TCB Info and QE Identity with key and sends
// chain (leaf first) as both issuer chains.
func WithCollateralSigner(key *ecdsa.PrivateKey, chain ...*x509.Certificate) CollateralOption {
	return func(c *collateralConfig) {
		c.jsonSigner = signer{key: key, chain: append([]*x509.Certificate{}, chain...)}
	}
}

// RevokePCK lists the authority's PCK certificate in the PCK CRL.
func RevokePCK() CollateralOption {
	return func(c *collateralConfig) { c.pckCRL.revoked = append(c.pckCRL.revoked, nil) }
}

// RevokeSerials lists the serial numbers in the PCK CRL.
func RevokeSerials(serials ...*big.Int) CollateralOption {
	return func(c *collateralConfig) { c.pckCRL.revoked = append(c.pckCRL.revoked, serials...) }
}

// RevokeIntermediate lists both intermediate CAs in the root CA CRL.
func RevokeIntermediate() CollateralOption {
	return func(c *collateralConfig) { c.rootCRL.revoked = append(c.rootCRL.revoked, nil) }
}

// RevokeInRootCRL lists the serial numbers in the root CA CRL.
func RevokeInRootCRL(serials ...*big.Int) CollateralOption {
	return func(c *collateralConfig) { c.rootCRL.revoked = append(c.rootCRL.revoked, serials...) }
}

// WithPCKCRLWindow sets the PCK CRL thisUpdate and nextUpdate.
func WithPCKCRLWindow(thisUpdate, nextUpdate time.Time) CollateralOption {
	return func(c *collateralConfig) { c.pckCRL.thisUpdate, c.pckCRL.nextUpdate = thisUpdate, nextUpdate }
}

// WithRootCRLWindow sets the root CA CRL thisUpdate and nextUpdate.
func WithRootCRLWindow(thisUpdate, nextUpdate time.Time) CollateralOption {
	return func(c *collateralConfig) { c.rootCRL.thisUpdate, c.rootCRL.nextUpdate = thisUpdate, nextUpdate }
}

// WithPCKCRLSigner issues the PCK CRL by cert with key and sends chain
// (issuer first) as its issuer chain. cert must be a CA certificate with
// the CRL signing key usage.
func WithPCKCRLSigner(cert *x509.Certificate, key *ecdsa.PrivateKey, chain ...*x509.Certificate) CollateralOption {
	return func(c *collateralConfig) {
		c.pckCRL.signer = signer{cert: cert, key: key, chain: append([]*x509.Certificate{}, chain...)}
	}
}

// WithRootCRLSigner issues the root CA CRL by cert with key.
func WithRootCRLSigner(cert *x509.Certificate, key *ecdsa.PrivateKey) CollateralOption {
	return func(c *collateralConfig) { c.rootCRL.signer = signer{cert: cert, key: key} }
}

// CorruptPCKCRLSignature flips a bit of the PCK CRL signature.
func CorruptPCKCRLSignature() CollateralOption {
	return func(c *collateralConfig) { c.pckCRL.corrupt = true }
}

// CorruptRootCRLSignature flips a bit of the root CA CRL signature.
func CorruptRootCRLSignature() CollateralOption {
	return func(c *collateralConfig) { c.rootCRL.corrupt = true }
}

// WithCRLFormat sets the encoding of both CRLs in the bundle.
func WithCRLFormat(f CRLFormat) CollateralOption {
	return func(c *collateralConfig) { c.crlFormat = f }
}

// DefaultTCBLevels returns the TCB Info levels Collateral issues by
// default, relative to the platform's TCB: UpToDate at exactly the
// platform's TCB, then OutOfDate one SVN lower in the first two components.
func (a *Authority) DefaultTCBLevels(issueDate time.Time) []TCBLevel {
	day := issueDate.UTC().Truncate(24 * time.Hour)
	lower := a.ext.Components
	for i := range 2 {
		if lower[i] > 0 {
			lower[i]--
		}
	}
	return []TCBLevel{
		{Components: a.ext.Components, PCESVN: a.ext.PCESVN, Date: day, Status: StatusUpToDate},
		{
			Components: lower, PCESVN: a.ext.PCESVN, Date: day.Add(-levelDateStep),
			Status: StatusOutOfDate, AdvisoryIDs: []string{"TCS-DEV-SA-00001"},
		},
	}
}

// DefaultQELevels returns the QE Identity levels Collateral issues by
// default: UpToDate at DevQEISVSVN and OutOfDate two versions lower.
func DefaultQELevels(issueDate time.Time) []QELevel {
	day := issueDate.UTC().Truncate(24 * time.Hour)
	return []QELevel{
		{ISVSVN: DevQEISVSVN, Date: day, Status: StatusUpToDate},
		{
			ISVSVN: DevQEISVSVN - 2, Date: day.Add(-levelDateStep), Status: StatusOutOfDate,
			AdvisoryIDs: []string{"TCS-DEV-SA-00002"},
		},
	}
}

// Collateral builds the DCAP collateral for the authority's platform, valid
// at the given time. TCB Info v3 and QE Identity v2 are issued
// DefaultCollateralAge before it, stay valid for DefaultCollateralLifetime
// and are signed by the TCB signing key. The PCK CRL of the issuing
// intermediate and the root CA CRL have the same window and revoke nothing.
func (a *Authority) Collateral(at time.Time, opts ...CollateralOption) (*collateral.Bundle, error) {
	c := a.defaultCollateralConfig(at)
	for _, opt := range opts {
		opt(c)
	}

	b := &collateral.Bundle{}
	var err error
	b.TCBInfo, err = a.tcbInfoJSON(&c.tcbInfo)
	if err != nil {
		return nil, err
	}
	if b.TCBInfoSignature, err = signJSON(c.jsonSigner.key, b.TCBInfo, c.tcbInfo.corrupt); err != nil {
		return nil, fmt.Errorf("sign TCB Info: %w", err)
	}
	b.TCBInfoIssuerChain = EncodePEMChain(c.jsonSigner.chain...)

	b.QEIdentity, err = qeIdentityJSON(&c.qeIdentity)
	if err != nil {
		return nil, err
	}
	if b.QEIdentitySignature, err = signJSON(c.jsonSigner.key, b.QEIdentity, c.qeIdentity.corrupt); err != nil {
		return nil, fmt.Errorf("sign QE Identity: %w", err)
	}
	b.QEIdentityIssuerChain = EncodePEMChain(c.jsonSigner.chain...)

	if b.PCKCRL, err = a.crl(&c.pckCRL, c.crlFormat, a.pck.SerialNumber); err != nil {
		return nil, fmt.Errorf("issue PCK CRL: %w", err)
	}
	b.PCKCRLIssuerChain = EncodePEMChain(c.pckCRL.signer.chain...)
	revokedCAs := []*big.Int{a.platformCA.SerialNumber, a.processorCA.SerialNumber}
	if b.RootCACRL, err = a.crl(&c.rootCRL, c.crlFormat, revokedCAs...); err != nil {
		return nil, fmt.Errorf("issue root CA CRL: %w", err)
	}
	return b, nil
}

func (a *Authority) defaultCollateralConfig(at time.Time) *collateralConfig {
	issueDate := at.UTC().Truncate(time.Second).Add(-DefaultCollateralAge)
	nextUpdate := issueDate.Add(DefaultCollateralLifetime)
	intermediate, intermediateKey := a.CA(a.caType)
	return &collateralConfig{
		tcbInfo: tcbInfoConfig{
			layout: 3, versionField: 3, id: "SGX",
			fmspc: a.ext.FMSPC, pceID: a.ext.PCEID,
			issueDate: issueDate, nextUpdate: nextUpdate,
			evaluationData: DefaultTCBEvaluationDataNumber,
			levels:         a.DefaultTCBLevels(issueDate),
		},
		qeIdentity: qeIdentityConfig{
			id: "QE", version: 2,
			issueDate: issueDate, nextUpdate: nextUpdate,
			evaluationData: DefaultTCBEvaluationDataNumber,
			miscSelect:     DevQEMiscSelect, miscMask: DefaultQEMiscSelectMask,
			attributes: DefaultQEIdentityAttrs, attrMask: DefaultQEAttributesMask,
			mrSigner: DevQEMRSigner, isvProdID: DevQEISVProdID,
			levels: DefaultQELevels(issueDate),
		},
		jsonSigner: signer{key: a.tcbSigningKey, chain: []*x509.Certificate{a.tcbSigning, a.root}},
		pckCRL: crlConfig{
			signer:     signer{cert: intermediate, key: intermediateKey, chain: []*x509.Certificate{intermediate, a.root}},
			thisUpdate: issueDate, nextUpdate: nextUpdate,
		},
		rootCRL: crlConfig{
			signer:     signer{cert: a.root, key: a.rootKey},
			thisUpdate: issueDate, nextUpdate: nextUpdate,
		},
	}
}

func signJSON(key *ecdsa.PrivateKey, body []byte, corrupt bool) ([]byte, error) {
	sig, err := signRaw(key, body)
	if err != nil {
		return nil, err
	}
	if corrupt {
		sig[len(sig)-1] ^= 0x01
	}
	return sig, nil
}

// crl issues a CRL. A nil entry in c.revoked stands for the serials in
// placeholders: the PCK certificate or the intermediates, whose serials the
// options could not name.
func (a *Authority) crl(c *crlConfig, format CRLFormat, placeholders ...*big.Int) ([]byte, error) {
	var entries []x509.RevocationListEntry
	add := func(serial *big.Int) {
		entries = append(entries, x509.RevocationListEntry{
			SerialNumber:   serial,
			RevocationTime: c.thisUpdate,
			ReasonCode:     1, // keyCompromise, as in Intel's PCK CRLs
		})
	}
	for _, serial := range c.revoked {
		if serial != nil {
			add(serial)
			continue
		}
		for _, p := range placeholders {
			add(p)
		}
	}
	if c.signer.cert == nil || c.signer.key == nil {
		return nil, errors.New("CRL signer needs a certificate and a key")
	}
	template := &x509.RevocationList{
		Number:                    big.NewInt(1),
		ThisUpdate:                c.thisUpdate,
		NextUpdate:                c.nextUpdate,
		RevokedCertificateEntries: entries,
	}
	der, err := x509.CreateRevocationList(rand.Reader, template, c.signer.cert, c.signer.key)
	if err != nil {
		return nil, err
	}
	if c.corrupt {
		// The DER ends inside the signature's s value, so this keeps the
		// CRL parseable and breaks only the signature.
		der[len(der)-1] ^= 0x01
	}
	switch format {
	case CRLPEM:
		return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
	case CRLHex:
		return []byte(hex.EncodeToString(der)), nil
	default:
		return der, nil
	}
}

// FormatCollateralTime formats t the way Intel's collateral writes
// issueDate, nextUpdate and tcbDate.
func FormatCollateralTime(t time.Time) string {
	return t.UTC().Format(collateralTimeLayout)
}

func hexUpper(b []byte) string {
	return strings.ToUpper(hex.EncodeToString(b))
}
