package devpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// Sizes of the raw P-256 forms used in quotes and collateral.
const (
	p256CoordinateSize = 32
	// P256PublicKeySize is the size of an uncompressed public key without
	// its 0x04 prefix (x||y), as the quote stores the attestation key.
	P256PublicKeySize = 2 * p256CoordinateSize
	// P256SignatureSize is the size of a raw ECDSA signature r||s.
	P256SignatureSize = 2 * p256CoordinateSize
	// serialNumberSize matches the 20-byte serial numbers of Intel's
	// certificates, the maximum RFC 5280 section 4.1.2.2 allows.
	serialNumberSize = 20
	// maxKeyAttempts bounds the rejection sampling of a private scalar: a
	// 32-byte string is outside [1, n-1] with probability below 2^-32.
	maxKeyAttempts = 16
)

// entropy reads key material either from a caller's deterministic seed or
// from crypto/rand.
type entropy struct {
	seed io.Reader
}

// newKey makes a P-256 key. With a seed the private scalar is read from it
// directly, because since Go 1.26 ecdsa.GenerateKey ignores its reader.
func (e entropy) newKey() (*ecdsa.PrivateKey, error) {
	if e.seed == nil {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	buf := make([]byte, p256CoordinateSize)
	for range maxKeyAttempts {
		if _, err := io.ReadFull(e.seed, buf); err != nil {
			return nil, fmt.Errorf("read key seed: %w", err)
		}
		key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), buf)
		if err == nil {
			return key, nil
		}
	}
	return nil, errors.New("key seed produced no valid P-256 scalar; the seed reader is not random")
}

// bytes fills b from the seed or from crypto/rand.
func (e entropy) bytes(b []byte) error {
	r := e.seed
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("read random bytes: %w", err)
	}
	return nil
}

// serialNumber returns a positive, non-zero 20-byte serial number.
func (e entropy) serialNumber() (*big.Int, error) {
	b := make([]byte, serialNumberSize)
	if err := e.bytes(b); err != nil {
		return nil, err
	}
	b[0] &= 0x7F
	b[0] |= 0x01
	return new(big.Int).SetBytes(b), nil
}

// PublicKeyBytes returns the attestation-key form of a P-256 public key:
// x||y, each 32 bytes big-endian.
func PublicKeyBytes(pub *ecdsa.PublicKey) ([]byte, error) {
	uncompressed, err := pub.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	if len(uncompressed) != 1+P256PublicKeySize {
		return nil, fmt.Errorf("public key is %d bytes, expected an uncompressed P-256 point", len(uncompressed))
	}
	return uncompressed[1:], nil
}

// signRaw signs SHA-256(message) and returns r||s, each 32 bytes, the form
// of every signature in quotes and in TCB Info and QE Identity.
func signRaw(key *ecdsa.PrivateKey, message []byte) ([]byte, error) {
	if key == nil {
		return nil, errors.New("no signing key")
	}
	if key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("signing key is on %s, quotes and collateral need P-256", key.Curve.Params().Name)
	}
	digest := sha256.Sum256(message)
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	out := make([]byte, P256SignatureSize)
	r.FillBytes(out[:p256CoordinateSize])
	s.FillBytes(out[p256CoordinateSize:])
	return out, nil
}

// EncodePEMChain encodes certificates as concatenated PEM blocks in the
// given order.
func EncodePEMChain(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func encodeKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
