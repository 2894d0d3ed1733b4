// Package keywrap implements the KMRA key wrap format, in which a key
// server delivers a CA private key to an enclave, and the release receipt
// by which the key server vouches for one delivery.
//
// A KMRA blob is the format of Intel's km-wrap tool and the original
// Trusted Certificate Service:
//
//	RSA-OAEP(enclave public key, K)  modulus-size bytes; SHA-1, MGF1-SHA-1, empty label
//	AES-KWP(K, PKCS#8 DER of the CA private key)  RFC 5649, 16 bytes or more
//
// where K is a fresh random AES-256 key.
package keywrap

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"fmt"
)

// AESKeySize is the size in bytes of the AES-256 key that a KMRA blob
// carries under RSA-OAEP.
const AESKeySize = 32

// minWrappedKeySize is the smallest AES-KWP ciphertext (RFC 5649 section
// 4.2: the initial value and one semiblock).
const minWrappedKeySize = 2 * kwpSemiblock

// Errors that let a caller tell why a blob did not open.
var (
	// ErrMalformed reports a blob whose length cannot be a KMRA blob for the
	// given key: truncated, or cut at the wrong place.
	ErrMalformed = errors.New("malformed kmra blob")
	// ErrWrongKey reports that RSA-OAEP decryption failed: the blob was
	// wrapped for another public key, or its first part is corrupted.
	ErrWrongKey = errors.New("kmra blob was not wrapped for this key")
)

// Wrap returns the KMRA blob of key for pub. key is an *rsa.PrivateKey,
// *ecdsa.PrivateKey or ed25519.PrivateKey; it is always wrapped as PKCS#8.
func Wrap(pub *rsa.PublicKey, key crypto.PrivateKey) ([]byte, error) {
	if pub == nil || pub.N == nil {
		return nil, errors.New("kmra wrap: public key is missing")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("kmra wrap: encode the private key as pkcs#8: %w", err)
	}
	return WrapPKCS8(pub, der)
}

// WrapPKCS8 returns the KMRA blob of a PKCS#8 DER private key for pub.
func WrapPKCS8(pub *rsa.PublicKey, pkcs8 []byte) ([]byte, error) {
	if pub == nil || pub.N == nil {
		return nil, errors.New("kmra wrap: public key is missing")
	}
	aesKey := make([]byte, AESKeySize)
	if _, err := rand.Read(aesKey); err != nil {
		return nil, fmt.Errorf("kmra wrap: generate the aes key: %w", err)
	}
	encryptedKey, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, aesKey, nil)
	if err != nil {
		return nil, fmt.Errorf("kmra wrap: rsa-oaep encrypt the aes key for a %d-bit key: %w",
			pub.N.BitLen(), err)
	}
	wrapped, err := WrapPad(aesKey, pkcs8)
	if err != nil {
		return nil, fmt.Errorf("kmra wrap: %w", err)
	}
	clear(aesKey)
	return append(encryptedKey, wrapped...), nil
}

// Split checks the length of a KMRA blob for an RSA key whose modulus is
// modulusSize bytes and returns its two parts: the RSA-OAEP ciphertext of
// the AES key and the AES-KWP ciphertext of the private key.
func Split(blob []byte, modulusSize int) (encryptedKey, wrappedKey []byte, err error) {
	if modulusSize <= 0 {
		return nil, nil, fmt.Errorf("kmra blob: invalid modulus size %d", modulusSize)
	}
	if len(blob) < modulusSize+minWrappedKeySize {
		return nil, nil, fmt.Errorf("%w: %d bytes is shorter than the %d-byte rsa-oaep part "+
			"and the %d-byte minimum aes key wrap part", ErrMalformed, len(blob), modulusSize,
			minWrappedKeySize)
	}
	if rest := len(blob) - modulusSize; rest%kwpSemiblock != 0 {
		return nil, nil, fmt.Errorf("%w: the aes key wrap part of %d bytes is not a multiple of %d",
			ErrMalformed, rest, kwpSemiblock)
	}
	return blob[:modulusSize], blob[modulusSize:], nil
}

// UnwrapPKCS8 opens a KMRA blob in software with priv and returns the
// PKCS#8 DER it carries. The enclave side opens blobs inside its token
// instead; this serves tests and the key server's self-checks.
func UnwrapPKCS8(priv *rsa.PrivateKey, blob []byte) ([]byte, error) {
	if priv == nil {
		return nil, errors.New("kmra unwrap: private key is missing")
	}
	encryptedKey, wrappedKey, err := Split(blob, priv.Size())
	if err != nil {
		return nil, err
	}
	aesKey, err := rsa.DecryptOAEP(sha1.New(), nil, priv, encryptedKey, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: rsa-oaep decryption failed", ErrWrongKey)
	}
	defer clear(aesKey)
	if len(aesKey) != AESKeySize {
		return nil, fmt.Errorf("%w: rsa-oaep part contains a %d-byte key, expected %d",
			ErrMalformed, len(aesKey), AESKeySize)
	}
	der, err := UnwrapPad(aesKey, wrappedKey)
	if err != nil {
		return nil, fmt.Errorf("kmra unwrap: %w", err)
	}
	return der, nil
}

// Unwrap opens a KMRA blob in software with priv and returns the private
// key it carries (*rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey).
func Unwrap(priv *rsa.PrivateKey, blob []byte) (crypto.PrivateKey, error) {
	der, err := UnwrapPKCS8(priv, blob)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: the unwrapped key is not pkcs#8: %v", ErrMalformed, err)
	}
	return key, nil
}
