package keywrap

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
)

// ReceiptSecretKey is the key of the Secret data entry that holds the
// encoded release receipt, beside tls.key and tls.crt.
const ReceiptSecretKey = "receipt"

// A release receipt is the key server's signed statement that it released
// one wrapped key, for one quote and enclave key, to one QuoteAttestation
// object. The enclave side verifies it against a pinned key-server public
// key before it imports the key, so a party that can write Secrets cannot
// substitute a key of its own.
//
// The signature is Ed25519 (RFC 8032). It was chosen over ECDSA P-256
// because signing is deterministic, so no per-signature randomness can
// leak the key, and because Go's verifier rejects non-canonical encodings,
// so an encoded receipt has exactly one valid signature form.
//
// Encoding, version 1, integers big-endian:
//
//	offset  size  field
//	0       4     magic "TCSR"
//	4       2     version, 1
//	6       ...   six fields in this order, each a 2-byte length then
//	              the value:
//	                quote hash       32 bytes, SHA-256 of the quote bytes
//	                public key hash  32 bytes, SHA-256 of the enclave public
//	                                 key as DER SubjectPublicKeyInfo
//	                signer name      1..512 bytes, UTF-8
//	                object UID       1..128 bytes, the QuoteAttestation UID
//	                tls.key hash     32 bytes, SHA-256 of the Secret's tls.key
//	                                 value exactly as stored
//	                tls.crt hash     32 bytes, SHA-256 of the Secret's tls.crt
//	                                 value exactly as stored
//	...     2     signature length, 64
//	...     64    Ed25519 signature
//
// Nothing may follow the signature. The signature covers the ASCII domain
// string "tcs-project release receipt v1" and a zero byte, followed by the
// encoding from offset 0 up to, not including, the signature length.
const (
	receiptMagic         = "TCSR"
	receiptVersion       = 1
	receiptMagicSize     = 4
	receiptVersionSize   = 2
	receiptLengthSize    = 2
	receiptHeaderSize    = receiptMagicSize + receiptVersionSize
	receiptDomain        = "tcs-project release receipt v1\x00"
	maxReceiptSignerName = 512
	maxReceiptUID        = 128
)

// Errors that let the enclave side tell why a receipt was rejected.
var (
	// ErrReceiptMalformed reports a receipt that cannot be decoded.
	ErrReceiptMalformed = errors.New("malformed release receipt")
	// ErrReceiptSignature reports a receipt whose signature does not verify
	// under the pinned key-server public key.
	ErrReceiptSignature = errors.New("release receipt signature is invalid")
	// ErrReceiptMismatch reports a validly signed receipt for another
	// delivery; the error is a *ReceiptMismatchError naming the field.
	ErrReceiptMismatch = errors.New("release receipt does not match the delivery")
)

// Receipt is the content of a release receipt.
type Receipt struct {
	QuoteSHA256     [sha256.Size]byte
	PublicKeySHA256 [sha256.Size]byte
	SignerName      string
	UID             string
	TLSKeySHA256    [sha256.Size]byte
	TLSCertSHA256   [sha256.Size]byte
}

// Receipt field names, as ReceiptMismatchError reports them.
const (
	FieldQuote      = "quote"
	FieldPublicKey  = "public key"
	FieldSignerName = "signer name"
	FieldUID        = "uid"
	FieldTLSKey     = "tls.key"
	FieldTLSCert    = "tls.crt"
)

// ReceiptMismatchError names the receipt field that differs from the
// delivery that the enclave side holds.
type ReceiptMismatchError struct {
	Field string
}

func (e *ReceiptMismatchError) Error() string {
	return fmt.Sprintf("release receipt does not match the delivery: the %s differs", e.Field)
}

// Unwrap returns ErrReceiptMismatch.
func (e *ReceiptMismatchError) Unwrap() error { return ErrReceiptMismatch }

// NewReceipt hashes the parts of one delivery into a Receipt. tlsKey and
// tlsCert are the Secret's data values exactly as stored.
func NewReceipt(quote []byte, enclaveKey crypto.PublicKey, signerName, uid string,
	tlsKey, tlsCert []byte) (*Receipt, error) {
	spki, err := x509.MarshalPKIXPublicKey(enclaveKey)
	if err != nil {
		return nil, fmt.Errorf("release receipt: encode the enclave public key: %w", err)
	}
	r := &Receipt{
		QuoteSHA256:     sha256.Sum256(quote),
		PublicKeySHA256: sha256.Sum256(spki),
		SignerName:      signerName,
		UID:             uid,
		TLSKeySHA256:    sha256.Sum256(tlsKey),
		TLSCertSHA256:   sha256.Sum256(tlsCert),
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Receipt) check() error {
	if n := len(r.SignerName); n == 0 || n > maxReceiptSignerName {
		return fmt.Errorf("release receipt: signer name of %d bytes, expected 1 to %d",
			n, maxReceiptSignerName)
	}
	if n := len(r.UID); n == 0 || n > maxReceiptUID {
		return fmt.Errorf("release receipt: uid of %d bytes, expected 1 to %d", n, maxReceiptUID)
	}
	return nil
}

// body returns the encoding up to the signature length.
func (r *Receipt) body() []byte {
	var b bytes.Buffer
	b.WriteString(receiptMagic)
	b.Write(binary.BigEndian.AppendUint16(nil, receiptVersion))
	for _, field := range [][]byte{
		r.QuoteSHA256[:], r.PublicKeySHA256[:], []byte(r.SignerName), []byte(r.UID),
		r.TLSKeySHA256[:], r.TLSCertSHA256[:],
	} {
		b.Write(binary.BigEndian.AppendUint16(nil, uint16(len(field))))
		b.Write(field)
	}
	return b.Bytes()
}

func signedMessage(body []byte) []byte {
	return append([]byte(receiptDomain), body...)
}

// Sign returns the encoded receipt signed with the key server's key.
func (r *Receipt) Sign(key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("release receipt: signing key of %d bytes, expected %d",
			len(key), ed25519.PrivateKeySize)
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	body := r.body()
	sig := ed25519.Sign(key, signedMessage(body))
	out := binary.BigEndian.AppendUint16(body, uint16(len(sig)))
	return append(out, sig...), nil
}

// ParseReceipt decodes an encoded receipt without verifying its signature
// and returns it with the signed body and the signature.
func ParseReceipt(encoded []byte) (r *Receipt, body, sig []byte, err error) {
	if len(encoded) < receiptHeaderSize {
		return nil, nil, nil, fmt.Errorf("%w: %d bytes is shorter than the %d-byte header",
			ErrReceiptMalformed, len(encoded), receiptHeaderSize)
	}
	if string(encoded[:receiptMagicSize]) != receiptMagic {
		return nil, nil, nil, fmt.Errorf("%w: magic %q, expected %q", ErrReceiptMalformed,
			encoded[:receiptMagicSize], receiptMagic)
	}
	if v := binary.BigEndian.Uint16(encoded[receiptMagicSize:receiptHeaderSize]); v != receiptVersion {
		return nil, nil, nil, fmt.Errorf("%w: version %d, expected %d", ErrReceiptMalformed,
			v, receiptVersion)
	}

	rest := encoded[receiptHeaderSize:]
	next := func(name string, min, max int) ([]byte, error) {
		if len(rest) < receiptLengthSize {
			return nil, fmt.Errorf("%w: truncated before the %s length", ErrReceiptMalformed, name)
		}
		n := int(binary.BigEndian.Uint16(rest))
		rest = rest[receiptLengthSize:]
		if n < min || n > max {
			return nil, fmt.Errorf("%w: %s of %d bytes, expected %d to %d", ErrReceiptMalformed,
				name, n, min, max)
		}
		if len(rest) < n {
			return nil, fmt.Errorf("%w: %s of %d bytes, but only %d bytes remain",
				ErrReceiptMalformed, name, n, len(rest))
		}
		value := rest[:n]
		rest = rest[n:]
		return value, nil
	}

	r = &Receipt{}
	hashes := []struct {
		name string
		dst  *[sha256.Size]byte
	}{
		{FieldQuote, &r.QuoteSHA256}, {FieldPublicKey, &r.PublicKeySHA256},
		{FieldTLSKey, &r.TLSKeySHA256}, {FieldTLSCert, &r.TLSCertSHA256},
	}
	readHash := func(i int) error {
		v, err := next(hashes[i].name+" hash", sha256.Size, sha256.Size)
		if err != nil {
			return err
		}
		copy(hashes[i].dst[:], v)
		return nil
	}
	for i := 0; i < 2; i++ {
		if err := readHash(i); err != nil {
			return nil, nil, nil, err
		}
	}
	name, err := next(FieldSignerName, 1, maxReceiptSignerName)
	if err != nil {
		return nil, nil, nil, err
	}
	uid, err := next(FieldUID, 1, maxReceiptUID)
	if err != nil {
		return nil, nil, nil, err
	}
	r.SignerName, r.UID = string(name), string(uid)
	for i := 2; i < 4; i++ {
		if err := readHash(i); err != nil {
			return nil, nil, nil, err
		}
	}
	body = encoded[:len(encoded)-len(rest)]

	sig, err = next("signature", ed25519.SignatureSize, ed25519.SignatureSize)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(rest) != 0 {
		return nil, nil, nil, fmt.Errorf("%w: %d bytes follow the signature", ErrReceiptMalformed,
			len(rest))
	}
	return r, body, sig, nil
}

// VerifyReceipt checks an encoded receipt against the pinned key-server
// public key and then against the delivery that the enclave side holds.
// It returns an error wrapping ErrReceiptMalformed, ErrReceiptSignature or
// ErrReceiptMismatch; the last is a *ReceiptMismatchError.
func VerifyReceipt(encoded []byte, keyServer ed25519.PublicKey, expected *Receipt) error {
	if len(keyServer) != ed25519.PublicKeySize {
		return fmt.Errorf("release receipt: pinned key-server public key of %d bytes, expected %d",
			len(keyServer), ed25519.PublicKeySize)
	}
	got, body, sig, err := ParseReceipt(encoded)
	if err != nil {
		return err
	}
	if !ed25519.Verify(keyServer, signedMessage(body), sig) {
		return ErrReceiptSignature
	}

	switch {
	case got.QuoteSHA256 != expected.QuoteSHA256:
		return &ReceiptMismatchError{Field: FieldQuote}
	case got.PublicKeySHA256 != expected.PublicKeySHA256:
		return &ReceiptMismatchError{Field: FieldPublicKey}
	case got.SignerName != expected.SignerName:
		return &ReceiptMismatchError{Field: FieldSignerName}
	case got.UID != expected.UID:
		return &ReceiptMismatchError{Field: FieldUID}
	case got.TLSKeySHA256 != expected.TLSKeySHA256:
		return &ReceiptMismatchError{Field: FieldTLSKey}
	case got.TLSCertSHA256 != expected.TLSCertSHA256:
		return &ReceiptMismatchError{Field: FieldTLSCert}
	}
	return nil
}
