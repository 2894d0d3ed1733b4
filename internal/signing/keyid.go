package signing

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// keyIDSize is the length of a key identifier: the leftmost 160 bits of a
// SHA-256 hash (RFC 7093 section 2, method 1).
const keyIDSize = 20

// subjectPublicKeyInfo is the SubjectPublicKeyInfo structure of RFC 5280
// section 4.1.
type subjectPublicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// SubjectKeyID returns the key identifier of pub by RFC 7093 section 2
// method 1: the leftmost 160 bits of the SHA-256 hash of the value of the
// subjectPublicKey BIT STRING, without its tag, length and unused-bits
// octet.
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("compute subject key identifier: %w", err)
	}
	return subjectKeyIDFromSPKI(spki)
}

func subjectKeyIDFromSPKI(der []byte) ([]byte, error) {
	var info subjectPublicKeyInfo
	rest, err := asn1.Unmarshal(der, &info)
	if err != nil {
		return nil, fmt.Errorf("compute subject key identifier: parse public key: %w", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("compute subject key identifier: %d trailing bytes after the public key",
			len(rest))
	}
	sum := sha256.Sum256(info.PublicKey.Bytes)
	return sum[:keyIDSize], nil
}
