// Package devpki is a development SGX PKI. It makes a root CA that is
// clearly not Intel's, Platform and Processor PCK CAs, a TCB signing
// certificate, a PCK certificate with the SGX extension and an attestation
// key. It builds genuine ECDSA quotes v3 signed under that chain and the
// matching DCAP collateral (TCB Info, QE Identity, CRLs).
//
// It serves the development quoting backend and the demo, where no SGX
// hardware exists, and the verifier's tests, which use its options to build
// one defect at a time. A verifier accepts its quotes only when it is told
// to trust the development root.
//
// The quote layout follows Intel's "Intel SGX ECDSA Quote Library API",
// Appendix A (ECDSA Quote Format v3); the collateral follows the JSON of
// Intel's Provisioning Certification Service API v4 (TCB Info v2 and v3,
// QE Identity v2).
package devpki

import (
	"encoding/hex"
	"fmt"
)

// Identity of the development enclave that quotes built by Quote describe by
// default. A key server's release policy names these values to accept the
// development backend. Each measurement is SHA-256 of a fixed ASCII label, so
// anyone can recompute it:
//
//	DevMREnclave = SHA-256("tcs-project development enclave MRENCLAVE")
//	DevMRSigner  = SHA-256("tcs-project development enclave MRSIGNER")
var (
	DevMREnclave = mustHex32("a54411a4328c15271a4d4442526d29e69fa5a54b0bde83a31a17727ad0035a0b")
	DevMRSigner  = mustHex32("54c3a489cf398546d66e0d005c270a1bbfa027fdeadfaf0570a16043447f77be")
)

const (
	// DevISVProdID is the ISV product ID of the development enclave.
	DevISVProdID uint16 = 1
	// DevISVSVN is the ISV security version of the development enclave.
	DevISVSVN uint16 = 1
	// DevMiscSelect is the MISCSELECT of the development enclave.
	DevMiscSelect uint32 = 0
)

// DevAttributes are the SGX attributes of the development enclave: flags
// INIT and MODE64BIT (not DEBUG), XFRM x87 and SSE. The first 8 bytes are the
// flags and the last 8 the XFRM, both little-endian (Intel SGX SDK
// sgx_attributes_t).
var DevAttributes = [16]byte{AttributeInit | AttributeMode64Bit, 0, 0, 0, 0, 0, 0, 0, 0x03}

// SGX attribute flag bits in the first byte of the attributes (Intel SDM
// Vol. 3D, SECS.ATTRIBUTES).
const (
	AttributeInit         = 0x01
	AttributeDebug        = 0x02
	AttributeMode64Bit    = 0x04
	AttributeProvisionKey = 0x10
	AttributeEInitToken   = 0x20
)

// Identity of the development quoting enclave (QE). Quotes carry it in the
// QE report and the QE Identity that Collateral issues expects it. Like
// Intel's QE it has ISV product ID 1 and the PROVISIONKEY attribute.
//
//	DevQEMREnclave = SHA-256("tcs-project development quoting enclave MRENCLAVE")
//	DevQEMRSigner  = SHA-256("tcs-project development quoting enclave MRSIGNER")
var (
	DevQEMREnclave = mustHex32("2a3737787e185c23cf40885d5882388b5034289b945e9c72832cb087227b5677")
	DevQEMRSigner  = mustHex32("e82f1df09496c40887af8ce6f85f556329f64bf3894e6daf134cd3b224a6484c")
)

const (
	// DevQEISVProdID is the ISV product ID of the development QE.
	DevQEISVProdID uint16 = 1
	// DevQEISVSVN is the ISV security version of the development QE.
	DevQEISVSVN uint16 = 8
	// DevQEMiscSelect is the MISCSELECT of the development QE.
	DevQEMiscSelect uint32 = 0
)

// DevQEAttributes are the attributes of the development QE: INIT,
// MODE64BIT and PROVISIONKEY, XFRM x87, SSE, AVX and AVX-512 state (0xE7),
// as Intel's production QE runs.
var DevQEAttributes = [16]byte{
	AttributeInit | AttributeMode64Bit | AttributeProvisionKey, 0, 0, 0, 0, 0, 0, 0,
	0xE7,
}

// Values of the QE Identity that Collateral issues by default. They match
// Intel's published QE Identity: MODE64BIT and the XFRM are ignored, DEBUG
// and every other flag must match.
var (
	DefaultQEAttributesMask = [16]byte{0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	DefaultQEIdentityAttrs  = [16]byte{AttributeInit | AttributeProvisionKey}
)

// DefaultQEMiscSelectMask is the MISCSELECT mask of the default QE Identity.
const DefaultQEMiscSelectMask uint32 = 0xFFFFFFFF

// IntelQEVendorID is the QE vendor ID that Intel's quoting enclave writes in
// the quote header (939A7233-F79C-4CA9-940A-0DB3957F0607).
var IntelQEVendorID = [16]byte{
	0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9,
	0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07,
}

// mustHex32 decodes a compile-time constant; a bad literal is a programming
// error found by the first test run.
func mustHex32(s string) [32]byte {
	var out [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(out) {
		panic(fmt.Sprintf("devpki: bad 32-byte hex constant %q", s))
	}
	copy(out[:], b)
	return out
}
