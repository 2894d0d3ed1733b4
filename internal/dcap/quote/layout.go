// Package quote parses and serialises Intel SGX ECDSA quotes, version 3.
//
// The layout follows Intel's "Intel SGX ECDSA Quote Library API" reference
// (appendix A.4, "ECDSA Quote Format"): a 48-byte header, the 384-byte ISV
// enclave report body, a 4-byte signature data length and the signature
// data. All integers are little-endian.
package quote

// Header layout.
const (
	HeaderSize = 48

	offVersion            = 0
	offAttestationKeyType = 2
	offTEEType            = 4
	offQESVN              = 8
	offPCESVN             = 10
	offQEVendorID         = 12
	offUserData           = 28

	sizeQEVendorID = 16
	sizeUserData   = 20
)

// Report body layout (SGX REPORTBODY, Intel SDM volume 3D, "REPORT").
const (
	ReportBodySize = 384

	offCPUSVN     = 0
	offMiscSelect = 16
	offReserved1  = 20
	offAttributes = 48
	offMREnclave  = 64
	offReserved2  = 96
	offMRSigner   = 128
	offReserved3  = 160
	offISVProdID  = 256
	offISVSVN     = 258
	offReserved4  = 260
	offReportData = 320

	sizeCPUSVN     = 16
	sizeReserved1  = 28
	sizeAttributes = 16
	sizeMeasure    = 32
	sizeReserved2  = 32
	sizeReserved3  = 96
	sizeReserved4  = 60
	sizeReportData = 64
)

// Quote and signature data layout.
const (
	// offBody is where the ISV enclave report body starts.
	offBody = HeaderSize
	// offSignatureDataLen is where the 4-byte signature data length starts.
	offSignatureDataLen  = offBody + ReportBodySize
	sizeSignatureDataLen = 4
	// MinSize is the size of a quote with empty signature data.
	MinSize = offSignatureDataLen + sizeSignatureDataLen

	// SignatureSize is the size of an ECDSA P-256 signature as r||s.
	SignatureSize = 64
	// AttestationKeySize is the size of a P-256 public key as x||y.
	AttestationKeySize = 64

	sizeQEAuthDataLen = 2
	sizeCertDataType  = 2
	sizeCertDataLen   = 4

	// sigDataFixedSize is the part of the signature data before the QE
	// authentication data: quote signature, attestation key, QE report
	// and QE report signature.
	sigDataFixedSize = SignatureSize + AttestationKeySize + ReportBodySize + SignatureSize
)

// Values the verifier supports.
const (
	// Version3 is the quote version this package parses.
	Version3 = 3
	// AttestationKeyECDSAP256 is the attestation key type
	// ECDSA-256-with-P-256 curve.
	AttestationKeyECDSAP256 = 2
	// TEETypeSGX is the value of the header's TEE type field for SGX; a v3
	// quote has no other.
	TEETypeSGX = 0
	// CertDataPCKChain is certification data type 5: the PEM-encoded PCK
	// certificate chain (leaf, intermediate CA, root CA).
	CertDataPCKChain = 5
)

// IntelQEVendorID is the QE vendor ID of Intel's quoting enclave,
// 939A7233-F79C-4CA9-940A-0DB3957F0607.
var IntelQEVendorID = [16]byte{
	0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
	0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
}
