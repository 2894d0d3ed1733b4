package signing

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

const (
	// MaxCSRSize bounds the bytes ParseCSR reads. A CSR with an 8192-bit
	// RSA key and hundreds of SANs stays far below it, and the bound keeps
	// a hostile request from costing more than a small parse.
	MaxCSRSize = 64 << 10

	// MinRSAKeyBits is the smallest RSA modulus accepted: 2048 bits give
	// 112 bits of security in NIST SP 800-57 Part 1, the lowest level NIST
	// still approves.
	MinRSAKeyBits = 2048

	// MaxRSAKeyBits is the largest RSA modulus accepted, the largest key
	// size cert-manager v1 offers.
	MaxRSAKeyBits = 8192
)

// pemTypes are the PEM block types of a PKCS#10 request: the RFC 7468
// label and the older label OpenSSL and Netscape tools still write.
var pemTypes = map[string]bool{
	"CERTIFICATE REQUEST":     true,
	"NEW CERTIFICATE REQUEST": true,
}

// ParseCSR parses a PKCS#10 certificate request in PEM or DER form, checks
// its self-signature and checks that its public key is one this CA signs:
// RSA from MinRSAKeyBits to MaxRSAKeyBits bits, ECDSA on P-256, P-384 or
// P-521, or Ed25519. Every error wraps ErrInvalidRequest.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: the CSR is empty", ErrInvalidRequest)
	}
	if len(data) > MaxCSRSize {
		return nil, fmt.Errorf("%w: the CSR is %d bytes, more than the maximum of %d",
			ErrInvalidRequest, len(data), MaxCSRSize)
	}

	der, err := csrDER(data)
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: parse CSR: %w", ErrInvalidRequest, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: the CSR signature does not verify with its own public key "+
			"(regenerate the CSR with its private key): %w", ErrInvalidRequest, err)
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return csr, nil
}

// csrDER returns the DER bytes of data, decoding the first PEM block when
// data is PEM.
func csrDER(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		return data, nil
	}

	block, _ := pem.Decode(trimmed)
	if block == nil {
		return nil, fmt.Errorf("%w: the CSR starts like PEM but has no valid PEM block",
			ErrInvalidRequest)
	}
	if !pemTypes[block.Type] {
		return nil, fmt.Errorf("%w: the PEM block is of type %q, expected %q",
			ErrInvalidRequest, block.Type, "CERTIFICATE REQUEST")
	}
	return block.Bytes, nil
}

// checkPublicKey checks that pub is a key type and size this package signs
// for and signs with.
func checkPublicKey(pub any) error {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		bits := pub.N.BitLen()
		if bits < MinRSAKeyBits || bits > MaxRSAKeyBits {
			return fmt.Errorf("the RSA key has %d bits, expected %d to %d bits",
				bits, MinRSAKeyBits, MaxRSAKeyBits)
		}
		return nil
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("the ECDSA key is on curve %s, expected P-256, P-384 or P-521",
			pub.Curve.Params().Name)
	case ed25519.PublicKey:
		return nil
	default:
		return fmt.Errorf("the public key type %T is not supported, use RSA, ECDSA or Ed25519", pub)
	}
}
