package quoting

import (
	"bytes"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"

	"github.com/tcs-project/tcs/internal/dcap/quote"
	"github.com/tcs-project/tcs/internal/devpki"
	"github.com/tcs-project/tcs/internal/enclave/token"
)

// Mechanism values of CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY in Intel's
// crypto-api-toolkit headers.
const (
	// MechanismExportECDSAQuote is the value in current releases.
	MechanismExportECDSAQuote = pkcs11.CKM_VENDOR_DEFINED + 0x210D
	// MechanismExportECDSAQuoteLegacy is the value in older releases.
	MechanismExportECDSAQuoteLegacy = 0x2111
)

// QLPolicyPersistent is SGX_QL_PERSISTENT of the Intel DCAP quote library:
// the quoting enclave stays loaded between quotes.
const QLPolicyPersistent = 0

// Layout of the toolkit's structures on Linux x86-64, where CK_LONG and
// CK_ULONG are 8 bytes and little-endian:
//
//	CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS { CK_LONG qlPolicy; CK_BYTE nonce[16]; }
//	C_WrapKey output: CK_RSA_PUBLIC_KEY_PARAMS { CK_ULONG ulExponentLen;
//	    CK_ULONG ulModulusLen; }, exponent bytes, modulus bytes, quote
const (
	ctkLongSize       = 8
	ctkParamsSize     = ctkLongSize + NonceSize
	ctkOffExponentLen = 0
	ctkOffModulusLen  = ctkOffExponentLen + ctkLongSize
	ctkHeaderSize     = ctkOffModulusLen + ctkLongSize
	// ctkMaxExponentSize bounds the exponent; RSA exponents in practice fit
	// in 4 bytes, and 8 keeps any CK_ULONG-sized value.
	ctkMaxExponentSize = 8
	// ctkMaxModulusSize is the 16384-bit maximum RSA size of the toolkit's
	// documentation.
	ctkMaxModulusSize = 16384 / 8
)

// ErrMalformedCTKOutput reports C_WrapKey output that does not have the
// toolkit's layout.
var ErrMalformedCTKOutput = errors.New("malformed crypto-api-toolkit quote output")

// CTK is the crypto-api-toolkit quoting backend. It runs only where the
// token module is the toolkit on SGX hardware with the DCAP quote library.
type CTK struct {
	// Mechanism is the mechanism value; zero means MechanismExportECDSAQuote.
	Mechanism uint
	// QLPolicy is the quote library policy; zero is QLPolicyPersistent.
	QLPolicy int64
}

// Quote calls the toolkit's quoting mechanism on key with a fresh nonce,
// and checks that the exported public key is key's and that the quote's
// report data binds it.
func (c *CTK) Quote(key *token.QuoteKey) (*Result, error) {
	if key == nil || key.Public == nil {
		return nil, errors.New("ctk quoting backend: the quote key is missing")
	}
	nonce, err := newNonce()
	if err != nil {
		return nil, fmt.Errorf("ctk quoting backend: %w", err)
	}
	mechanism := c.Mechanism
	if mechanism == 0 {
		mechanism = MechanismExportECDSAQuote
	}
	// NOTE: the parameter and output layouts come from the toolkit's public
	// headers and are tested on constructed bytes only, never on hardware.
	out, err := key.ExportPublicKey(mechanism, EncodeCTKParams(c.QLPolicy, nonce))
	if err != nil {
		return nil, fmt.Errorf("ctk quoting backend: %w", err)
	}
	return checkCTKOutput(out, key.Public, nonce)
}

// checkCTKOutput parses the output of the quoting mechanism and checks it
// against the token's public key and the nonce sent.
func checkCTKOutput(out []byte, want *rsa.PublicKey, nonce [NonceSize]byte) (*Result, error) {
	exported, rawQuote, err := ParseCTKOutput(out)
	if err != nil {
		return nil, fmt.Errorf("ctk quoting backend: %w", err)
	}
	if !exported.Equal(want) {
		return nil, errors.New("ctk quoting backend: the toolkit exported another public key " +
			"than the quote key's")
	}
	parsed, err := quote.Parse(rawQuote)
	if err != nil {
		return nil, fmt.Errorf("ctk quoting backend: %w", err)
	}
	if parsed.Body.ReportData != devpki.ReportDataForRSAKey(want, nonce) {
		return nil, errors.New("ctk quoting backend: the quote's report data does not bind the " +
			"quote key and nonce as SHA-256(exponent || modulus || nonce), so a key server " +
			"would reject it")
	}
	return &Result{Quote: rawQuote, PublicKey: want, Nonce: nonce}, nil
}

// EncodeCTKParams encodes CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS for Linux
// x86-64: qlPolicy as an 8-byte little-endian CK_LONG, then the nonce.
func EncodeCTKParams(qlPolicy int64, nonce [NonceSize]byte) []byte {
	b := make([]byte, ctkParamsSize)
	binary.LittleEndian.PutUint64(b[:ctkLongSize], uint64(qlPolicy))
	copy(b[ctkLongSize:], nonce[:])
	return b
}

// ParseCTKOutput splits the output of the quoting mechanism into the RSA
// public key and the quote. Every length is checked against the output
// before it is used.
func ParseCTKOutput(out []byte) (*rsa.PublicKey, []byte, error) {
	if len(out) < ctkHeaderSize {
		return nil, nil, fmt.Errorf("%w: %d bytes is shorter than the %d-byte length header",
			ErrMalformedCTKOutput, len(out), ctkHeaderSize)
	}
	exponentLen := binary.LittleEndian.Uint64(out[ctkOffExponentLen:ctkOffModulusLen])
	modulusLen := binary.LittleEndian.Uint64(out[ctkOffModulusLen:ctkHeaderSize])
	if exponentLen == 0 || exponentLen > ctkMaxExponentSize {
		return nil, nil, fmt.Errorf("%w: exponent length %d, expected 1 to %d",
			ErrMalformedCTKOutput, exponentLen, ctkMaxExponentSize)
	}
	if modulusLen == 0 || modulusLen > ctkMaxModulusSize {
		return nil, nil, fmt.Errorf("%w: modulus length %d, expected 1 to %d",
			ErrMalformedCTKOutput, modulusLen, ctkMaxModulusSize)
	}
	// Both lengths are bounded above, so the sum cannot overflow.
	keyEnd := ctkHeaderSize + int(exponentLen) + int(modulusLen)
	if len(out) <= keyEnd {
		return nil, nil, fmt.Errorf("%w: %d bytes leave no quote after a %d-byte exponent and "+
			"a %d-byte modulus", ErrMalformedCTKOutput, len(out), exponentLen, modulusLen)
	}

	exponent := out[ctkHeaderSize : ctkHeaderSize+int(exponentLen)]
	modulus := out[ctkHeaderSize+int(exponentLen) : keyEnd]
	e := new(big.Int).SetBytes(exponent)
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return nil, nil, fmt.Errorf("%w: invalid rsa public exponent %x", ErrMalformedCTKOutput,
			exponent)
	}
	n := new(big.Int).SetBytes(modulus)
	if n.Sign() == 0 {
		return nil, nil, fmt.Errorf("%w: the rsa modulus is zero", ErrMalformedCTKOutput)
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, bytes.Clone(out[keyEnd:]), nil
}
