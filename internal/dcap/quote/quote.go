package quote

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors that Parse wraps. A caller tells input that is not a quote
// (ErrMalformed) from a quote in a form this package does not support
// (ErrUnsupported).
var (
	ErrMalformed   = errors.New("malformed quote")
	ErrUnsupported = errors.New("unsupported quote")
)

// Quote is a parsed ECDSA quote v3.
type Quote struct {
	Header    Header
	Body      ReportBody
	Signature SignatureData
	// Raw is the input that Parse read. The quote signature covers
	// Raw[:SignedSize].
	Raw []byte
}

// SignedSize is the length of the prefix of a quote that the attestation
// key signs: the header and the ISV enclave report body.
const SignedSize = HeaderSize + ReportBodySize

// Header is the quote header.
type Header struct {
	Version            uint16
	AttestationKeyType uint16
	// TEEType is reserved in version 3 and must be zero (SGX).
	TEEType    uint32
	QESVN      uint16
	PCESVN     uint16
	QEVendorID [16]byte
	UserData   [20]byte
}

// ReportBody is the 384-byte SGX report body, of the ISV enclave or of the
// quoting enclave. Reserved fields are kept so that Marshal reproduces the
// input.
type ReportBody struct {
	CPUSVN     [16]byte
	MiscSelect uint32
	Reserved1  [28]byte
	Attributes [16]byte
	MREnclave  [32]byte
	Reserved2  [32]byte
	MRSigner   [32]byte
	Reserved3  [96]byte
	ISVProdID  uint16
	ISVSVN     uint16
	Reserved4  [60]byte
	ReportData [64]byte
}

// SignatureData is the ECDSA signature data that follows the report body.
type SignatureData struct {
	// QuoteSignature is r||s over SHA-256 of header || body.
	QuoteSignature [SignatureSize]byte
	// AttestationKey is the P-256 public key x||y that signs the quote.
	AttestationKey [AttestationKeySize]byte
	// QEReport is the quoting enclave's report; QEReportRaw its bytes,
	// which the PCK key signs.
	QEReport    ReportBody
	QEReportRaw []byte
	// QEReportSignature is r||s over SHA-256 of QEReportRaw by the PCK key.
	QEReportSignature [SignatureSize]byte
	// QEAuthData is hashed with the attestation key into the QE report data.
	QEAuthData []byte
	// CertType is the certification data type; Parse accepts only
	// CertDataPCKChain.
	CertType uint16
	// CertData is the certification data: for type 5, the PEM chain
	// exactly as in the quote, terminator included.
	CertData []byte
}

// Parse decodes an ECDSA quote v3. Every length in the input must account
// exactly for the bytes that contain it: trailing bytes after the signature
// data, or inside the signature data after the certification data, make the
// quote malformed. The returned Quote refers to b, which the caller must not
// modify afterwards.
func Parse(b []byte) (*Quote, error) {
	if len(b) < MinSize {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the %d bytes of header, report body and signature data length",
			ErrMalformed, len(b), MinSize)
	}

	q := &Quote{Raw: b}
	if err := q.Header.decode(b[:HeaderSize]); err != nil {
		return nil, err
	}
	q.Body.decode(b[offBody:offSignatureDataLen])

	sigLen := binary.LittleEndian.Uint32(b[offSignatureDataLen:MinSize])
	rest := b[MinSize:]
	if uint64(sigLen) != uint64(len(rest)) {
		return nil, fmt.Errorf("%w: signature data length %d does not match the %d bytes after it",
			ErrMalformed, sigLen, len(rest))
	}
	if err := q.Signature.decode(rest); err != nil {
		return nil, err
	}
	return q, nil
}

func (h *Header) decode(b []byte) error {
	h.Version = binary.LittleEndian.Uint16(b[offVersion:])
	h.AttestationKeyType = binary.LittleEndian.Uint16(b[offAttestationKeyType:])
	h.TEEType = binary.LittleEndian.Uint32(b[offTEEType:])
	h.QESVN = binary.LittleEndian.Uint16(b[offQESVN:])
	h.PCESVN = binary.LittleEndian.Uint16(b[offPCESVN:])
	copy(h.QEVendorID[:], b[offQEVendorID:offQEVendorID+sizeQEVendorID])
	copy(h.UserData[:], b[offUserData:offUserData+sizeUserData])

	if h.Version != Version3 {
		return fmt.Errorf("%w: version %d, only version %d is supported", ErrUnsupported, h.Version, Version3)
	}
	if h.AttestationKeyType != AttestationKeyECDSAP256 {
		return fmt.Errorf("%w: attestation key type %d, only %d (ECDSA-256-with-P-256) is supported",
			ErrUnsupported, h.AttestationKeyType, AttestationKeyECDSAP256)
	}
	if h.TEEType != TEETypeSGX {
		return fmt.Errorf("%w: TEE type %#x, a version 3 quote must have %d (SGX)",
			ErrUnsupported, h.TEEType, TEETypeSGX)
	}
	return nil
}

// DecodeReportBody decodes a 384-byte SGX report body.
func DecodeReportBody(b []byte) (ReportBody, error) {
	var r ReportBody
	if len(b) != ReportBodySize {
		return r, fmt.Errorf("%w: report body is %d bytes, not %d", ErrMalformed, len(b), ReportBodySize)
	}
	r.decode(b)
	return r, nil
}

func (r *ReportBody) decode(b []byte) {
	copy(r.CPUSVN[:], b[offCPUSVN:offCPUSVN+sizeCPUSVN])
	r.MiscSelect = binary.LittleEndian.Uint32(b[offMiscSelect:])
	copy(r.Reserved1[:], b[offReserved1:offReserved1+sizeReserved1])
	copy(r.Attributes[:], b[offAttributes:offAttributes+sizeAttributes])
	copy(r.MREnclave[:], b[offMREnclave:offMREnclave+sizeMeasure])
	copy(r.Reserved2[:], b[offReserved2:offReserved2+sizeReserved2])
	copy(r.MRSigner[:], b[offMRSigner:offMRSigner+sizeMeasure])
	copy(r.Reserved3[:], b[offReserved3:offReserved3+sizeReserved3])
	r.ISVProdID = binary.LittleEndian.Uint16(b[offISVProdID:])
	r.ISVSVN = binary.LittleEndian.Uint16(b[offISVSVN:])
	copy(r.Reserved4[:], b[offReserved4:offReserved4+sizeReserved4])
	copy(r.ReportData[:], b[offReportData:offReportData+sizeReportData])
}

// decode reads the signature data, which must be exactly b.
func (s *SignatureData) decode(b []byte) error {
	if len(b) < sigDataFixedSize+sizeQEAuthDataLen {
		return fmt.Errorf("%w: signature data is %d bytes, shorter than the %d bytes before the QE authentication data",
			ErrMalformed, len(b), sigDataFixedSize+sizeQEAuthDataLen)
	}
	off := 0
	copy(s.QuoteSignature[:], b[off:off+SignatureSize])
	off += SignatureSize
	copy(s.AttestationKey[:], b[off:off+AttestationKeySize])
	off += AttestationKeySize
	s.QEReportRaw = b[off : off+ReportBodySize]
	s.QEReport.decode(s.QEReportRaw)
	off += ReportBodySize
	copy(s.QEReportSignature[:], b[off:off+SignatureSize])
	off += SignatureSize

	authLen := int(binary.LittleEndian.Uint16(b[off:]))
	off += sizeQEAuthDataLen
	if authLen > len(b)-off {
		return fmt.Errorf("%w: QE authentication data length %d exceeds the %d bytes left in the signature data",
			ErrMalformed, authLen, len(b)-off)
	}
	s.QEAuthData = b[off : off+authLen]
	off += authLen

	return s.decodeCertData(b[off:])
}

// decodeCertData reads the certification data, which must be exactly b.
func (s *SignatureData) decodeCertData(b []byte) error {
	const headerSize = sizeCertDataType + sizeCertDataLen
	if len(b) < headerSize {
		return fmt.Errorf("%w: %d bytes left for the certification data, its type and length need %d",
			ErrMalformed, len(b), headerSize)
	}
	s.CertType = binary.LittleEndian.Uint16(b)
	certLen := binary.LittleEndian.Uint32(b[sizeCertDataType:])
	rest := b[headerSize:]
	if uint64(certLen) > uint64(len(rest)) {
		return fmt.Errorf("%w: certification data length %d exceeds the %d bytes left in the signature data",
			ErrMalformed, certLen, len(rest))
	}
	if uint64(certLen) < uint64(len(rest)) {
		return fmt.Errorf("%w: %d trailing bytes in the signature data after the certification data",
			ErrMalformed, uint64(len(rest))-uint64(certLen))
	}
	if s.CertType != CertDataPCKChain {
		return fmt.Errorf("%w: certification data type %d, only type %d (PCK certificate chain) is supported",
			ErrUnsupported, s.CertType, CertDataPCKChain)
	}
	s.CertData = rest
	return nil
}
