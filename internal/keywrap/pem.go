package keywrap

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// PEM block types of private and public keys.
const (
	pemPKCS8       = "PRIVATE KEY"
	pemPKCS1       = "RSA PRIVATE KEY"
	pemSEC1        = "EC PRIVATE KEY"
	pemECParams    = "EC PARAMETERS"
	pemEncrypted   = "ENCRYPTED PRIVATE KEY"
	pemPKIXPublic  = "PUBLIC KEY"
	pemPKCS1Public = "RSA PUBLIC KEY"
)

// ParsePrivateKeyPEM parses the first private key in PEM data: PKCS#8
// ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY").
// An "EC PARAMETERS" block before it, as openssl ecparam -genkey writes, is
// skipped. Encrypted keys are rejected.
func ParsePrivateKeyPEM(data []byte) (crypto.PrivateKey, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, fmt.Errorf("the %q block is encrypted; decrypt it first, for example "+
				"with openssl pkey", block.Type)
		}
		switch block.Type {
		case pemECParams:
			continue
		case pemPKCS8:
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse the pkcs#8 private key: %w", err)
			}
			return key, nil
		case pemPKCS1:
			key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse the pkcs#1 rsa private key: %w", err)
			}
			return key, nil
		case pemSEC1:
			key, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse the sec 1 ec private key: %w", err)
			}
			return key, nil
		case pemEncrypted:
			return nil, errors.New("the private key is encrypted pkcs#8; decrypt it first, for " +
				"example with openssl pkey")
		default:
			return nil, fmt.Errorf("PEM block %q is not a private key; expected %q, %q or %q",
				block.Type, pemPKCS8, pemPKCS1, pemSEC1)
		}
	}
}

// ParseRSAPublicKeyPEM parses the first PEM block of data as an RSA public
// key: SubjectPublicKeyInfo ("PUBLIC KEY") or PKCS#1 ("RSA PUBLIC KEY").
func ParseRSAPublicKeyPEM(data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM public key found")
	}
	switch block.Type {
	case pemPKIXPublic:
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse the public key: %w", err)
		}
		pub, ok := key.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("the public key is %T; a kmra blob needs an rsa public key", key)
		}
		return pub, nil
	case pemPKCS1Public:
		pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse the pkcs#1 rsa public key: %w", err)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a public key; expected %q or %q",
		block.Type, pemPKIXPublic, pemPKCS1Public)
}
