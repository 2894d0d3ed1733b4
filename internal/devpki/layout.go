package devpki

import "encoding/binary"

// Layout of the ECDSA quote v3, from "Intel SGX ECDSA Quote Library API",
// Appendix A (ECDSA Quote Format v3) and the SDK's sgx_report_body_t. All
// integers are little-endian. Offsets named Quote... count from the start of
// the quote; the others from the start of their structure.
const (
	// QuoteVersion3 is the header version of the quotes built here.
	QuoteVersion3 uint16 = 3
	// AttestationKeyTypeECDSAP256 is ECDSA-256-with-P-256 curve.
	AttestationKeyTypeECDSAP256 uint16 = 2
	// CertDataTypePCKChain is certification data type 5: the PEM PCK
	// certificate chain (leaf, intermediate, root).
	CertDataTypePCKChain uint16 = 5

	// Header (48 bytes).
	HeaderSize             = 48
	headerVersionOffset    = 0
	headerKeyTypeOffset    = 2
	headerReservedOffset   = 4 // 4 bytes, zero in v3 (the TEE type in v4)
	headerQESVNOffset      = 8
	headerPCESVNOffset     = 10
	headerQEVendorIDOffset = 12
	headerUserDataOffset   = 28
	headerUserDataSize     = 20

	// ReportBodySize is the size of an SGX report body, used both for the
	// ISV enclave report and the QE report.
	ReportBodySize              = 384
	reportCPUSVNOffset          = 0
	reportMiscSelectOffset      = 16
	reportISVExtProdIDOffset    = 32
	reportAttributesOffset      = 48
	reportMREnclaveOffset       = 64
	reportMRSignerOffset        = 128
	reportConfigIDOffset        = 192
	reportISVProdIDOffset       = 256
	reportISVSVNOffset          = 258
	reportConfigSVNOffset       = 260
	reportISVFamilyIDOffset     = 304
	reportReportDataOffset      = 320
	reportDataBindingSize       = 32 // SHA-256 in the first half of QE report data
	QuoteReportBodyOffset       = HeaderSize
	QuoteSignatureDataLenOffset = HeaderSize + ReportBodySize
	signatureDataLenSize        = 4

	// Signature data (ECDSA 256-bit quote signature data structure).
	QuoteSignatureDataOffset  = QuoteSignatureDataLenOffset + signatureDataLenSize
	QuoteISVSignatureOffset   = QuoteSignatureDataOffset
	QuoteAttestationKeyOffset = QuoteISVSignatureOffset + P256SignatureSize
	QuoteQEReportOffset       = QuoteAttestationKeyOffset + P256PublicKeySize
	QuoteQEReportSigOffset    = QuoteQEReportOffset + ReportBodySize
	QuoteQEAuthDataSizeOffset = QuoteQEReportSigOffset + P256SignatureSize
	QuoteQEAuthDataOffset     = QuoteQEAuthDataSizeOffset + qeAuthDataSizeSize
	qeAuthDataSizeSize        = 2
	certDataTypeSize          = 2
	certDataSizeSize          = 4
	// CertDataHeaderSize is the type and size fields in front of the
	// certification data.
	CertDataHeaderSize = certDataTypeSize + certDataSizeSize
	// fixedSignatureDataSize is the signature data without the variable QE
	// auth data and certification data.
	fixedSignatureDataSize = QuoteQEAuthDataOffset - QuoteSignatureDataOffset + CertDataHeaderSize
)

// DefaultQEAuthData is the QE authentication data of quotes built here:
// 32 bytes 0x00..0x1F, the size Intel's QE writes.
var DefaultQEAuthData = func() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// QuoteCertDataOffset returns the offset of the certification data type
// field in a quote whose QE auth data is authDataSize bytes long.
func QuoteCertDataOffset(authDataSize int) int {
	return QuoteQEAuthDataOffset + authDataSize
}

// Header is the 48-byte quote header.
type Header struct {
	Version            uint16
	AttestationKeyType uint16
	Reserved           uint32
	QESVN              uint16
	PCESVN             uint16
	QEVendorID         [16]byte
	UserData           [20]byte
}

// Marshal encodes the header in its 48-byte form.
func (h *Header) Marshal() []byte {
	b := make([]byte, HeaderSize)
	binary.LittleEndian.PutUint16(b[headerVersionOffset:], h.Version)
	binary.LittleEndian.PutUint16(b[headerKeyTypeOffset:], h.AttestationKeyType)
	binary.LittleEndian.PutUint32(b[headerReservedOffset:], h.Reserved)
	binary.LittleEndian.PutUint16(b[headerQESVNOffset:], h.QESVN)
	binary.LittleEndian.PutUint16(b[headerPCESVNOffset:], h.PCESVN)
	copy(b[headerQEVendorIDOffset:], h.QEVendorID[:])
	copy(b[headerUserDataOffset:headerUserDataOffset+headerUserDataSize], h.UserData[:])
	return b
}

// ReportBody is the 384-byte SGX report body (sgx_report_body_t). The
// reserved ranges are written as zeros.
type ReportBody struct {
	CPUSVN       [16]byte
	MiscSelect   uint32
	ISVExtProdID [16]byte
	Attributes   [16]byte
	MREnclave    [32]byte
	MRSigner     [32]byte
	ConfigID     [64]byte
	ISVProdID    uint16
	ISVSVN       uint16
	ConfigSVN    uint16
	ISVFamilyID  [16]byte
	ReportData   [64]byte
}

// Marshal encodes the report body in its 384-byte form.
func (r *ReportBody) Marshal() []byte {
	b := make([]byte, ReportBodySize)
	copy(b[reportCPUSVNOffset:], r.CPUSVN[:])
	binary.LittleEndian.PutUint32(b[reportMiscSelectOffset:], r.MiscSelect)
	copy(b[reportISVExtProdIDOffset:], r.ISVExtProdID[:])
	copy(b[reportAttributesOffset:], r.Attributes[:])
	copy(b[reportMREnclaveOffset:], r.MREnclave[:])
	copy(b[reportMRSignerOffset:], r.MRSigner[:])
	copy(b[reportConfigIDOffset:], r.ConfigID[:])
	binary.LittleEndian.PutUint16(b[reportISVProdIDOffset:], r.ISVProdID)
	binary.LittleEndian.PutUint16(b[reportISVSVNOffset:], r.ISVSVN)
	binary.LittleEndian.PutUint16(b[reportConfigSVNOffset:], r.ConfigSVN)
	copy(b[reportISVFamilyIDOffset:], r.ISVFamilyID[:])
	copy(b[reportReportDataOffset:], r.ReportData[:])
	return b
}
