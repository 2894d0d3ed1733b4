// Package quoting obtains SGX ECDSA quotes (version 3) whose report data
// binds an RSA quote key of the token. Two backends serve one interface:
// CTK calls crypto-api-toolkit's quoting mechanism inside a real enclave,
// and Dev builds a genuine quote under a development PKI where no SGX
// hardware exists.
//
// The binding is the toolkit's. The first 32 bytes of the report data are
// SHA-256 over the public exponent, the modulus (both big-endian) and a
// 16-byte nonce, and the remaining 32 bytes are zero. A key server
// recomputes it from the public key and nonce that travel with the quote.
package quoting

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"

	"github.com/tcs-project/tcs/internal/enclave/token"
)

// NonceSize is the size of the nonce in the report data binding.
const NonceSize = 16

// Result is a quote with what a key server needs to check its binding.
type Result struct {
	// Quote is the SGX ECDSA quote, version 3.
	Quote []byte
	// PublicKey is the quote key's public key that the quote binds.
	PublicKey *rsa.PublicKey
	// Nonce is the nonce in the binding.
	Nonce [NonceSize]byte
}

// Backend produces quotes over a token's quote key. Each call uses a fresh
// random nonce.
type Backend interface {
	Quote(key *token.QuoteKey) (*Result, error)
}

func newNonce() ([NonceSize]byte, error) {
	var nonce [NonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nonce, fmt.Errorf("generate a nonce: %w", err)
	}
	return nonce, nil
}
