package collateral

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// ErrInvalidCRL is wrapped by every error of NormalizeCRL.
var ErrInvalidCRL = errors.New("invalid CRL encoding")

// derSequenceTag is the first byte of a DER certificate revocation list.
const derSequenceTag = 0x30

const pemCRLType = "X509 CRL"

// NormalizeCRL returns the DER form of a CRL given as DER, as PEM ("X509
// CRL" block) or as hex text of the DER, the three forms in which PCS
// clients and caches pass CRLs around. It checks the encoding only; a
// signature and validity check is the verifier's job. Surrounding white
// space is ignored in the text forms.
func NormalizeCRL(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrInvalidCRL)
	}

	// Hex comes first: hex text may begin with '0', which is the DER
	// SEQUENCE tag, but a DER CRL is never all hex digits because its
	// length bytes are not ASCII.
	text := bytes.TrimSpace(b)
	if isHexText(text) {
		der := make([]byte, hex.DecodedLen(len(text)))
		if _, err := hex.Decode(der, text); err != nil {
			return nil, fmt.Errorf("%w: invalid hex: %v", ErrInvalidCRL, err)
		}
		return checkDER(der, "hex")
	}
	if bytes.HasPrefix(text, []byte("-----BEGIN ")) {
		block, rest := pem.Decode(text)
		if block == nil {
			return nil, fmt.Errorf("%w: PEM text does not decode", ErrInvalidCRL)
		}
		if block.Type != pemCRLType {
			return nil, fmt.Errorf("%w: PEM block type %q, want %q", ErrInvalidCRL, block.Type, pemCRLType)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, fmt.Errorf("%w: %d bytes after the PEM block", ErrInvalidCRL, len(rest))
		}
		return checkDER(block.Bytes, "PEM")
	}
	if b[0] == derSequenceTag {
		return checkDER(b, "DER")
	}
	return nil, fmt.Errorf("%w: neither DER, PEM nor hex (first byte %#x)", ErrInvalidCRL, b[0])
}

func isHexText(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// checkDER checks that der is one DER SEQUENCE with nothing after it. A
// SEQUENCE made only of hex digits is rejected too: it cannot be a CRL,
// whose fields have tags that are not hex digits, and NormalizeCRL would
// read it as hex the next time.
func checkDER(der []byte, form string) ([]byte, error) {
	var outer asn1.RawValue
	rest, err := asn1.Unmarshal(der, &outer)
	if err != nil || len(rest) != 0 || der[0] != derSequenceTag {
		return nil, fmt.Errorf("%w: the %s data is not one DER SEQUENCE", ErrInvalidCRL, form)
	}
	if isHexText(der) {
		return nil, fmt.Errorf("%w: the %s data is a DER SEQUENCE of hex digits, not a CRL", ErrInvalidCRL, form)
	}
	return der, nil
}
