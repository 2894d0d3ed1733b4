package keywrap

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// Data keys of a key server Secret that delivers one CA key.
const (
	// TLSKeySecretKey is the entry of the base64-encoded KMRA blob.
	TLSKeySecretKey = "tls.key"
	// TLSCertSecretKey is the entry of the PEM certificate chain, CA
	// certificate first, plain or base64-encoded.
	TLSCertSecretKey = "tls.crt"
)

// DecodeTLSKey decodes the tls.key value of a Secret: a KMRA blob in
// standard base64, surrounding white space allowed.
func DecodeTLSKey(value []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(value)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrMalformed, TLSKeySecretKey)
	}
	blob, err := base64.StdEncoding.AppendDecode(nil, trimmed)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not standard base64: %v", ErrMalformed, TLSKeySecretKey, err)
	}
	return blob, nil
}

// ParseTLSCert parses the tls.crt value of a Secret: a PEM certificate
// chain, CA certificate first, either plain or base64-encoded as the
// original tools write it.
func ParseTLSCert(value []byte) ([]*x509.Certificate, error) {
	data := bytes.TrimSpace(value)
	if !bytes.HasPrefix(data, []byte("-----BEGIN")) {
		decoded, err := base64.StdEncoding.AppendDecode(nil, data)
		if err != nil {
			return nil, fmt.Errorf("%s is neither PEM nor base64-encoded PEM: %w",
				TLSCertSecretKey, err)
		}
		data = decoded
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s contains a PEM block %q; expected only CERTIFICATE blocks",
				TLSCertSecretKey, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: parse certificate %d: %w", TLSCertSecretKey, len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s contains no PEM certificate", TLSCertSecretKey)
	}
	return certs, nil
}

// ParseReceiptKeyPEM parses the pinned key-server public key that verifies
// release receipts: an Ed25519 key in a PEM "PUBLIC KEY" block.
func ParseReceiptKeyPEM(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM public key found")
	}
	if block.Type != pemPKIXPublic {
		return nil, fmt.Errorf("PEM block %q is not a public key; expected %q", block.Type,
			pemPKIXPublic)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse the key-server public key: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the key-server public key is %T; release receipts need an "+
			"ed25519 key", key)
	}
	return pub, nil
}
