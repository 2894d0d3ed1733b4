package keyserver

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/dcap/quote"
)

// DefaultNonce is the crypto-api-toolkit's nonce, 0x00 to 0x0f, which
// applies when a request carries no spec.nonce.
var DefaultNonce = [sgxv1alpha1.NonceSize]byte{
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
}

// request is a decoded QuoteAttestation spec.
type request struct {
	quote      []byte
	publicKey  *rsa.PublicKey
	publicDER  []byte
	nonce      [sgxv1alpha1.NonceSize]byte
	signers    []string
	quoteHash  [sha256.Size]byte
	publicHash [sha256.Size]byte
}

// Sizes of enclave RSA keys that the key server wraps for; the toolkit
// makes 3072-bit keys. The upper bound keeps a request from costing an
// unbounded RSA operation.
const (
	minEnclaveKeyBits = 2048
	maxEnclaveKeyBits = 8192
)

// checkEnclaveKey rejects RSA keys for which RSA-OAEP gives no secrecy or
// is not defined: an even modulus, or a public exponent that is even or
// below 3. With exponent 1, for example, the "encrypted" AES key would be
// readable by anyone who reads the Secret. A PKCS#11 token does not check
// this before it wraps.
func checkEnclaveKey(pub *rsa.PublicKey) error {
	bits := pub.N.BitLen()
	switch {
	case bits < minEnclaveKeyBits:
		return fmt.Errorf("the RSA key has %d bits, fewer than %d", bits, minEnclaveKeyBits)
	case bits > maxEnclaveKeyBits:
		return fmt.Errorf("the RSA key has %d bits, more than %d", bits, maxEnclaveKeyBits)
	case pub.N.Bit(0) == 0:
		return fmt.Errorf("the RSA modulus is even, so it is no RSA key")
	case pub.E < 3 || pub.E%2 == 0:
		return fmt.Errorf("the RSA public exponent %d is invalid: use an odd exponent of 3 or more, such as 65537", pub.E)
	}
	return nil
}

// decodeRequest checks and decodes the spec. Its errors are permanent and
// carry the state code to answer with.
func decodeRequest(spec *sgxv1alpha1.QuoteAttestationSpec) (*request, *rejection) {
	if spec.QuoteVersion != sgxv1alpha1.ECDSAQuoteVersion3 {
		return nil, reject(sgxv1alpha1.StateUnsupportedQuoteVersion,
			"The quote version %q is not supported: only %q is. Create the request with that quote version.",
			spec.QuoteVersion, sgxv1alpha1.ECDSAQuoteVersion3)
	}

	raw := decodeQuoteField(spec.Quote)
	pub, der, err := parseEnclaveKey(decodeDoubleBase64(spec.PublicKey))
	if err != nil {
		return nil, reject(sgxv1alpha1.StateInvalidRequest,
			"spec.publicKey is invalid: %v. Put the enclave's RSA public key there as PEM \"PUBLIC KEY\".", err)
	}

	r := &request{
		quote:      raw,
		publicKey:  pub,
		publicDER:  der,
		nonce:      DefaultNonce,
		signers:    spec.SignerNames,
		quoteHash:  quoteClaimHash(raw),
		publicHash: sha256.Sum256(der),
	}
	if len(spec.Nonce) > 0 {
		if len(spec.Nonce) != sgxv1alpha1.NonceSize {
			return nil, reject(sgxv1alpha1.StateInvalidRequest,
				"spec.nonce has %d bytes, want %d. Send the nonce that the quote's report data binds.",
				len(spec.Nonce), sgxv1alpha1.NonceSize)
		}
		copy(r.nonce[:], spec.Nonce)
	}
	if len(r.signers) == 0 {
		return nil, reject(sgxv1alpha1.StateInvalidRequest,
			"spec.signerNames is empty. List the signer names that need a CA.")
	}
	return r, nil
}

// decodeQuoteField returns the quote bytes of spec.quote. Older producers
// stored the base64 text of the quote in the []byte field, so that the API
// carries it base64-encoded twice. A v3 quote starts with the version 3
// as a little-endian uint16, bytes no base64 text contains.
func decodeQuoteField(field []byte) []byte {
	if len(field) >= 2 && field[0] == quote.Version3 && field[1] == 0 {
		return field
	}
	return decodeDoubleBase64(field)
}

// decodeDoubleBase64 returns the base64 decoding of field when field is
// base64 text, and field itself otherwise.
func decodeDoubleBase64(field []byte) []byte {
	text := bytes.TrimSpace(field)
	if bytes.HasPrefix(text, []byte("-----BEGIN")) {
		return field
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		decoded := make([]byte, enc.DecodedLen(len(text)))
		n, err := enc.Decode(decoded, text)
		if err == nil && n > 0 {
			return decoded[:n]
		}
	}
	return field
}

// parseEnclaveKey parses a PEM "PUBLIC KEY" (or "RSA PUBLIC KEY") holding
// an RSA key of at least minEnclaveKeyBits.
func parseEnclaveKey(data []byte) (*rsa.PublicKey, []byte, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, nil, fmt.Errorf("no PEM block found")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, nil, fmt.Errorf("%d bytes follow the PEM block", len(rest))
	}
	var pub *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("parse PUBLIC KEY: %w", err)
		}
		rsaKey, ok := key.(*rsa.PublicKey)
		if !ok {
			return nil, nil, fmt.Errorf("the key is a %T, not an RSA key", key)
		}
		pub = rsaKey
	case "RSA PUBLIC KEY":
		key, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("parse RSA PUBLIC KEY: %w", err)
		}
		pub = key
	default:
		return nil, nil, fmt.Errorf("PEM block type is %q, not \"PUBLIC KEY\"", block.Type)
	}
	if err := checkEnclaveKey(pub); err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("encode the key: %w", err)
	}
	return pub, der, nil
}

// expectedReportData returns the report data with which the enclave
// toolkit binds an RSA public key and a nonce: SHA-256 over the public
// exponent, the modulus (both big-endian, without leading zeros) and the
// nonce, followed by 32 zero bytes. The layout is that of the
// crypto-api-toolkit's CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY mechanism.
func expectedReportData(pub *rsa.PublicKey, nonce [sgxv1alpha1.NonceSize]byte) [64]byte {
	h := sha256.New()
	h.Write(big.NewInt(int64(pub.E)).Bytes())
	h.Write(pub.N.Bytes())
	h.Write(nonce[:])
	var out [64]byte
	copy(out[:], h.Sum(nil))
	return out
}

// quoteClaimHash returns the hash under which a quote is claimed: SHA-256
// of its signed part, the header and the report body. The signature data
// is left out because it can be changed without the keys (ECDSA's s and
// n-s both verify, and the certificate chain is unsigned), so hashing it
// would let a changed copy of an answered quote pass as new.
func quoteClaimHash(raw []byte) [sha256.Size]byte {
	if len(raw) >= quote.SignedSize {
		return sha256.Sum256(raw[:quote.SignedSize])
	}
	return sha256.Sum256(raw)
}
