package pccs

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Members of the PCS v4 response bodies for TCB Info ("tcbInfo") and
// enclave identities ("enclaveIdentity"), each next to "signature", as in
// the TCB Info and QE Identity bodies that Intel's PCS returns.
const (
	memberTCBInfo         = "tcbInfo"
	memberEnclaveIdentity = "enclaveIdentity"
	memberSignature       = "signature"
)

// signatureLen is the size of the ECDSA P-256 signature r||s over TCB Info
// and QE Identity; the PCS sends it as 128 hex digits.
const signatureLen = 64

// PEM block types of the certificates in issuer chains and of a CRL.
const (
	pemCertificate = "CERTIFICATE"
	pemCRL         = "X509 CRL"
)

// SignedJSON is a signed JSON object as the PCS delivers it: the exact
// bytes that Intel signed, the signature, and the issuer chain.
type SignedJSON struct {
	// Body is the JSON text of the signed object, byte for byte as it
	// appeared in the response.
	Body []byte
	// Signature is the 64-byte ECDSA P-256 signature r||s.
	Signature []byte
	// IssuerChain is the PEM chain of the signing certificate.
	IssuerChain []byte
}

// splitSignedBody slices the object under member and the hex signature out
// of a body of the form {"<member>": {...}, "signature": "<hex>"}. It
// returns the object's bytes exactly as they appear in body, because the
// signature covers those bytes and re-serialising could change them.
// Duplicate members are rejected so that no reader can see another object
// than the one returned here.
func splitSignedBody(body []byte, member string) (object, signature []byte, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := expectDelim(dec, '{'); err != nil {
		return nil, nil, err
	}

	var sigHex string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("invalid JSON: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("invalid JSON: member name %v is not a string", tok)
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("duplicate member %q", name)
		}
		seen[name] = true

		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("invalid JSON in member %q: %w", name, err)
		}
		switch name {
		case member:
			if len(raw) == 0 || raw[0] != '{' {
				return nil, nil, fmt.Errorf("member %q is not a JSON object", member)
			}
			object = raw
		case memberSignature:
			if err := json.Unmarshal(raw, &sigHex); err != nil {
				return nil, nil, fmt.Errorf("member %q is not a string: %w", memberSignature, err)
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, errors.New("invalid JSON: data after the top-level object")
	}

	if object == nil {
		return nil, nil, fmt.Errorf("member %q is missing", member)
	}
	if sigHex == "" {
		return nil, nil, fmt.Errorf("member %q is missing", memberSignature)
	}
	signature, err = decodeSignature(sigHex)
	if err != nil {
		return nil, nil, err
	}
	return object, signature, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("invalid JSON: want %q, got %v", want, tok)
	}
	return nil
}

func decodeSignature(s string) ([]byte, error) {
	sig, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("signature is not hex: %w", err)
	}
	if len(sig) != signatureLen {
		return nil, fmt.Errorf("signature is %d bytes, want %d", len(sig), signatureLen)
	}
	return sig, nil
}

// joinSignedBody builds a PCS response body around the exact bytes of a
// signed object, the inverse of splitSignedBody.
func joinSignedBody(member string, object, signature []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"`)
	b.WriteString(member)
	b.WriteString(`":`)
	b.Write(object)
	b.WriteString(`,"`)
	b.WriteString(memberSignature)
	b.WriteString(`":"`)
	b.WriteString(hex.EncodeToString(signature))
	b.WriteString(`"}`)
	return b.Bytes()
}

// decodeIssuerChain reads an issuer chain header: PEM certificates,
// percent-encoded as the PCS documents. It uses path unescaping, not
// query unescaping, because a '+' of base64 left unencoded must stay '+'.
func decodeIssuerChain(value string) ([]byte, error) {
	chain, err := url.PathUnescape(value)
	if err != nil {
		return nil, fmt.Errorf("issuer chain is not percent-encoded: %w", err)
	}
	if err := checkPEMChain([]byte(chain)); err != nil {
		return nil, err
	}
	return []byte(chain), nil
}

// checkPEMChain checks that chain is one or more PEM certificates that
// parse, with nothing but white space around them.
func checkPEMChain(chain []byte) error {
	rest := chain
	count := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != pemCertificate {
			return fmt.Errorf("issuer chain contains a PEM block of type %q, want %q", block.Type, pemCertificate)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("issuer chain certificate %d does not parse: %w", count+1, err)
		}
		count++
	}
	if count == 0 {
		return errors.New("issuer chain contains no PEM certificate")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return errors.New("issuer chain has data after its last PEM certificate")
	}
	return nil
}

// encodeIssuerChain percent-encodes a PEM chain for a response header,
// escaping every byte outside the unreserved set of RFC 3986, section 2.3,
// as JavaScript's encodeURIComponent would for the PEM alphabet.
func encodeIssuerChain(chain []byte) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(chain) * 3 / 2)
	for _, c := range chain {
		if isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '.', c == '_', c == '~':
		return true
	}
	return false
}

// normaliseCRL returns the DER of a CRL delivered as DER, as PEM, or as hex
// text of either. The PCCS sends the root CA CRL as hex, and the PCS sends
// PEM unless the request sets encoding=der. The result parses as a CRL.
func normaliseCRL(body []byte) ([]byte, error) {
	der, err := crlDER(body, true)
	if err != nil {
		return nil, err
	}
	if _, err := x509.ParseRevocationList(der); err != nil {
		return nil, fmt.Errorf("CRL does not parse: %w", err)
	}
	return der, nil
}

func crlDER(body []byte, allowHex bool) ([]byte, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("CRL body is empty")
	}
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		block, rest := pem.Decode(trimmed)
		if block == nil {
			return nil, errors.New("CRL is not valid PEM")
		}
		if block.Type != pemCRL {
			return nil, fmt.Errorf("CRL PEM block has type %q, want %q", block.Type, pemCRL)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, errors.New("CRL has data after its PEM block")
		}
		return block.Bytes, nil
	}
	if _, err := x509.ParseRevocationList(body); err == nil {
		return body, nil
	}
	if allowHex && isHexText(trimmed) {
		decoded := make([]byte, hex.DecodedLen(len(trimmed)))
		if _, err := hex.Decode(decoded, trimmed); err != nil {
			return nil, fmt.Errorf("CRL hex text does not decode: %w", err)
		}
		// Hex may wrap DER or PEM, but not hex again.
		return crlDER(decoded, false)
	}
	return body, nil
}

func isHexText(b []byte) bool {
	if len(b)%2 != 0 {
		return false
	}
	for _, c := range b {
		isDigit := '0' <= c && c <= '9'
		isLetter := ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
		if !isDigit && !isLetter {
			return false
		}
	}
	return true
}

// encodeCRLPEM returns the CRL as one PEM block of type "X509 CRL".
func encodeCRLPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCRL, Bytes: der})
}
