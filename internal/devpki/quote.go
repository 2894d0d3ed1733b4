package devpki

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"math"
)

// QuoteOption changes one thing in a quote that Quote builds. Most options
// exist to build one defect for a verifier's negative tests; a quote built
// without options is one a correct verifier accepts.
type QuoteOption func(*quoteConfig)

type quoteConfig struct {
	header Header
	body   ReportBody

	qeReportEdit   func(*ReportBody)
	qeAuthData     []byte
	tamperAuthData bool
	wrongBinding   bool
	signingKey     *ecdsa.PrivateKey

	corruptQuoteSig, corruptQEReportSig bool

	leaf         *x509.Certificate
	leafKey      *ecdsa.PrivateKey
	chain        []*x509.Certificate
	certData     []byte
	certDataType uint16
	noChainNUL   bool

	signatureDataSizeDelta, certDataSizeDelta, authDataSizeDelta int

	trailingSignatureData, trailingBytes []byte
	truncate                             int
	truncateSet                          bool
}

// WithHeader edits the quote header before it is signed.
func WithHeader(edit func(*Header)) QuoteOption {
	return func(c *quoteConfig) {
		if edit != nil {
			edit(&c.header)
		}
	}
}

// WithVersion sets the header version.
func WithVersion(v uint16) QuoteOption {
	return func(c *quoteConfig) { c.header.Version = v }
}

// WithAttestationKeyType sets the header's attestation key type.
func WithAttestationKeyType(t uint16) QuoteOption {
	return func(c *quoteConfig) { c.header.AttestationKeyType = t }
}

// WithReportBody edits the ISV enclave report body before it is signed. Its
// report data is already set from Quote's argument.
func WithReportBody(edit func(*ReportBody)) QuoteOption {
	return func(c *quoteConfig) {
		if edit != nil {
			edit(&c.body)
		}
	}
}

// WithDebug sets the DEBUG attribute of the enclave.
func WithDebug() QuoteOption {
	return func(c *quoteConfig) { c.body.Attributes[0] |= AttributeDebug }
}

// WithAttributes sets the enclave's attributes.
func WithAttributes(attributes [16]byte) QuoteOption {
	return func(c *quoteConfig) { c.body.Attributes = attributes }
}

// WithMREnclave sets the enclave's MRENCLAVE.
func WithMREnclave(m [32]byte) QuoteOption {
	return func(c *quoteConfig) { c.body.MREnclave = m }
}

// WithMRSigner sets the enclave's MRSIGNER.
func WithMRSigner(m [32]byte) QuoteOption {
	return func(c *quoteConfig) { c.body.MRSigner = m }
}

// WithISVProdID sets the enclave's ISV product ID.
func WithISVProdID(id uint16) QuoteOption {
	return func(c *quoteConfig) { c.body.ISVProdID = id }
}

// WithISVSVN sets the enclave's ISV security version.
func WithISVSVN(svn uint16) QuoteOption {
	return func(c *quoteConfig) { c.body.ISVSVN = svn }
}

// WithMiscSelect sets the enclave's MISCSELECT.
func WithMiscSelect(m uint32) QuoteOption {
	return func(c *quoteConfig) { c.body.MiscSelect = m }
}

// WithQEReport edits the QE report after its report data has been set to
// the attestation key binding and before the PCK key signs it.
func WithQEReport(edit func(*ReportBody)) QuoteOption {
	return func(c *quoteConfig) { c.qeReportEdit = edit }
}

// WithQEAuthData sets the QE authentication data; the binding in the QE
// report covers it.
func WithQEAuthData(b []byte) QuoteOption {
	return func(c *quoteConfig) { c.qeAuthData = append([]byte(nil), b...) }
}

// TamperQEAuthData changes the QE authentication data after the QE report
// bound it, so that the binding no longer holds.
func TamperQEAuthData() QuoteOption {
	return func(c *quoteConfig) { c.tamperAuthData = true }
}

// CorruptQEReportBinding flips a bit of the binding hash in the QE report
// data before the PCK key signs the report.
func CorruptQEReportBinding() QuoteOption {
	return func(c *quoteConfig) { c.wrongBinding = true }
}

// WithAttestationKey signs the quote with key and puts key in the quote,
// while the QE report still binds the authority's attestation key: a quote
// signature that verifies under a key the QE never certified.
func WithAttestationKey(key *ecdsa.PrivateKey) QuoteOption {
	return func(c *quoteConfig) { c.signingKey = key }
}

// CorruptQuoteSignature flips a bit of the enclave report signature.
func CorruptQuoteSignature() QuoteOption {
	return func(c *quoteConfig) { c.corruptQuoteSig = true }
}

// CorruptQEReportSignature flips a bit of the QE report signature.
func CorruptQEReportSignature() QuoteOption {
	return func(c *quoteConfig) { c.corruptQEReportSig = true }
}

// WithLeaf presents cert as the PCK certificate and signs the QE report
// with key. The rest of the chain stays the authority's intermediate and
// root unless WithChain replaces it.
func WithLeaf(cert *x509.Certificate, key *ecdsa.PrivateKey) QuoteOption {
	return func(c *quoteConfig) { c.leaf, c.leafKey = cert, key }
}

// WithChain sets the certificates of the PEM chain, in the given order,
// replacing leaf, intermediate and root. The QE report is still signed by
// the PCK key, or by the key given to WithLeaf.
func WithChain(certs ...*x509.Certificate) QuoteOption {
	return func(c *quoteConfig) { c.chain = append([]*x509.Certificate{}, certs...) }
}

// WithCertData replaces the whole certification data with b.
func WithCertData(b []byte) QuoteOption {
	return func(c *quoteConfig) { c.certData = append([]byte{}, b...) }
}

// WithCertDataType sets the certification data type field.
func WithCertDataType(t uint16) QuoteOption {
	return func(c *quoteConfig) { c.certDataType = t }
}

// WithoutChainNUL ends the PEM chain in "\n" alone instead of "\n\x00",
// which Intel's QE writes. Both forms are valid.
func WithoutChainNUL() QuoteOption {
	return func(c *quoteConfig) { c.noChainNUL = true }
}

// WithSignatureDataSizeDelta adds delta to the signature data length field
// without changing the data.
func WithSignatureDataSizeDelta(delta int) QuoteOption {
	return func(c *quoteConfig) { c.signatureDataSizeDelta = delta }
}

// WithQEAuthDataSizeDelta adds delta to the QE auth data size field without
// changing the data.
func WithQEAuthDataSizeDelta(delta int) QuoteOption {
	return func(c *quoteConfig) { c.authDataSizeDelta = delta }
}

// WithCertDataSizeDelta adds delta to the certification data size field
// without changing the data.
func WithCertDataSizeDelta(delta int) QuoteOption {
	return func(c *quoteConfig) { c.certDataSizeDelta = delta }
}

// WithTrailingSignatureData appends b inside the signature data after the
// certification data; the signature data length counts it.
func WithTrailingSignatureData(b []byte) QuoteOption {
	return func(c *quoteConfig) { c.trailingSignatureData = append([]byte{}, b...) }
}

// WithTrailingBytes appends b after the signature data, outside every
// length field.
func WithTrailingBytes(b []byte) QuoteOption {
	return func(c *quoteConfig) { c.trailingBytes = append([]byte{}, b...) }
}

// Truncate cuts the finished quote to its first n bytes; n larger than the
// quote leaves it whole, and a negative n makes Quote fail.
func Truncate(n int) QuoteOption {
	return func(c *quoteConfig) { c.truncate, c.truncateSet = n, true }
}

// DefaultReportBody returns the ISV enclave report body of the development
// enclave with the given report data.
func (a *Authority) DefaultReportBody(reportData [64]byte) ReportBody {
	return ReportBody{
		CPUSVN:     a.ext.CPUSVN,
		MiscSelect: DevMiscSelect,
		Attributes: DevAttributes,
		MREnclave:  DevMREnclave,
		MRSigner:   DevMRSigner,
		ISVProdID:  DevISVProdID,
		ISVSVN:     DevISVSVN,
		ReportData: reportData,
	}
}

// Quote builds a genuine ECDSA quote v3 of the development enclave over
// reportData: the attestation key signs header and report body, the PCK key
// signs the QE report, whose report data binds the attestation key and the
// QE auth data, and the certification data is the PEM PCK chain (type 5).
func (a *Authority) Quote(reportData [64]byte, opts ...QuoteOption) ([]byte, error) {
	c := &quoteConfig{
		header: Header{
			Version:            QuoteVersion3,
			AttestationKeyType: AttestationKeyTypeECDSAP256,
			QESVN:              DevQEISVSVN,
			PCESVN:             a.ext.PCESVN,
			QEVendorID:         IntelQEVendorID,
		},
		body:         a.DefaultReportBody(reportData),
		qeAuthData:   DefaultQEAuthData,
		certDataType: CertDataTypePCKChain,
	}
	copy(c.header.UserData[:], a.qeID[:])
	for _, opt := range opts {
		opt(c)
	}
	if c.truncateSet && c.truncate < 0 {
		return nil, fmt.Errorf("invalid truncation length %d: must be 0 or more", c.truncate)
	}

	signed := append(c.header.Marshal(), c.body.Marshal()...)
	signingKey := a.attestationKey
	if c.signingKey != nil {
		signingKey = c.signingKey
	}
	quoteSig, err := signRaw(signingKey, signed)
	if err != nil {
		return nil, fmt.Errorf("sign quote: %w", err)
	}
	if c.corruptQuoteSig {
		quoteSig[len(quoteSig)-1] ^= 0x01
	}
	embeddedKey, err := PublicKeyBytes(&signingKey.PublicKey)
	if err != nil {
		return nil, err
	}

	qeReport, qeReportSig, err := a.qeReport(c)
	if err != nil {
		return nil, err
	}
	certData := c.certData
	if certData == nil {
		certData = a.chainPEM(c)
	}
	authData := c.qeAuthData
	if c.tamperAuthData {
		authData = append([]byte{}, authData...)
		if len(authData) == 0 {
			authData = []byte{0xFF}
		} else {
			authData[0] ^= 0x01
		}
	}

	sigData, err := signatureData(c, quoteSig, embeddedKey, qeReport, qeReportSig, authData, certData)
	if err != nil {
		return nil, err
	}
	sigDataSize, err := sizeField(len(sigData), c.signatureDataSizeDelta, math.MaxUint32, "signature data")
	if err != nil {
		return nil, err
	}
	quote := signed
	quote = binary.LittleEndian.AppendUint32(quote, uint32(sigDataSize))
	quote = append(quote, sigData...)
	quote = append(quote, c.trailingBytes...)
	if c.truncateSet && c.truncate < len(quote) {
		quote = quote[:c.truncate]
	}
	return quote, nil
}

// qeReport builds and signs the QE report for the attestation key that the
// authority's QE certifies.
func (a *Authority) qeReport(c *quoteConfig) (report, signature []byte, err error) {
	attestationKey, err := PublicKeyBytes(&a.attestationKey.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	body := ReportBody{
		CPUSVN:     a.ext.CPUSVN,
		MiscSelect: DevQEMiscSelect,
		Attributes: DevQEAttributes,
		MREnclave:  DevQEMREnclave,
		MRSigner:   DevQEMRSigner,
		ISVProdID:  DevQEISVProdID,
		ISVSVN:     DevQEISVSVN,
	}
	copy(body.ReportData[:reportDataBindingSize], QEReportBinding(attestationKey, c.qeAuthData))
	if c.wrongBinding {
		body.ReportData[0] ^= 0x01
	}
	if c.qeReportEdit != nil {
		c.qeReportEdit(&body)
	}
	report = body.Marshal()

	key := a.pckKey
	if c.leafKey != nil {
		key = c.leafKey
	}
	signature, err = signRaw(key, report)
	if err != nil {
		return nil, nil, fmt.Errorf("sign QE report: %w", err)
	}
	if c.corruptQEReportSig {
		signature[len(signature)-1] ^= 0x01
	}
	return report, signature, nil
}

// QEReportBinding returns SHA-256(attestation key x||y || QE auth data),
// which a QE puts in the first 32 bytes of its report data.
func QEReportBinding(attestationKey, qeAuthData []byte) []byte {
	h := sha256.New()
	h.Write(attestationKey)
	h.Write(qeAuthData)
	return h.Sum(nil)
}

// chainPEM returns the type 5 certification data: leaf, intermediate and
// root as PEM, ending in "\n\x00" as Intel's QE writes it.
func (a *Authority) chainPEM(c *quoteConfig) []byte {
	certs := c.chain
	if certs == nil {
		leaf := a.pck
		if c.leaf != nil {
			leaf = c.leaf
		}
		certs = []*x509.Certificate{leaf, a.Intermediate(), a.root}
	}
	out := EncodePEMChain(certs...)
	if !c.noChainNUL {
		out = append(out, 0)
	}
	return out
}

func signatureData(c *quoteConfig, quoteSig, attestationKey, qeReport, qeReportSig, authData,
	certData []byte) ([]byte, error) {
	authSize, err := sizeField(len(authData), c.authDataSizeDelta, math.MaxUint16, "QE auth data")
	if err != nil {
		return nil, err
	}
	certSize, err := sizeField(len(certData), c.certDataSizeDelta, math.MaxUint32, "certification data")
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, fixedSignatureDataSize+len(authData)+len(certData)+len(c.trailingSignatureData))
	out = append(out, quoteSig...)
	out = append(out, attestationKey...)
	out = append(out, qeReport...)
	out = append(out, qeReportSig...)
	out = binary.LittleEndian.AppendUint16(out, uint16(authSize))
	out = append(out, authData...)
	out = binary.LittleEndian.AppendUint16(out, c.certDataType)
	out = binary.LittleEndian.AppendUint32(out, uint32(certSize))
	out = append(out, certData...)
	out = append(out, c.trailingSignatureData...)
	return out, nil
}

// sizeField returns size+delta after checking that it fits a field whose
// maximum is limit.
func sizeField(size, delta int, limit uint64, name string) (uint64, error) {
	v := size + delta
	if v < 0 || uint64(v) > limit {
		return 0, fmt.Errorf("%s size %d%+d does not fit its %d-bit field", name, size, delta, bitsFor(limit))
	}
	return uint64(v), nil
}

func bitsFor(limit uint64) int {
	if limit == math.MaxUint16 {
		return 16
	}
	return 32
}
