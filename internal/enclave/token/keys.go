package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"
)

// KeyAlgorithm names a key type and size that the token generates.
type KeyAlgorithm string

// Key algorithms for generated CA keys.
const (
	RSA3072   KeyAlgorithm = "RSA-3072"
	ECDSAP256 KeyAlgorithm = "ECDSA-P256"
	ECDSAP384 KeyAlgorithm = "ECDSA-P384"
)

// rsaPublicExponent is F4, 65537, big-endian.
var rsaPublicExponent = []byte{0x01, 0x00, 0x01}

// Named curve OIDs (RFC 5480 section 2.1.1.1), DER-encoded as CKA_EC_PARAMS
// expects them.
var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
)

func curveParams(curve elliptic.Curve) ([]byte, error) {
	var oid asn1.ObjectIdentifier
	switch curve {
	case elliptic.P256():
		oid = oidP256
	case elliptic.P384():
		oid = oidP384
	default:
		return nil, fmt.Errorf("%w: elliptic curve %s; use P-256 or P-384",
			ErrUnsupportedKey, curve.Params().Name)
	}
	return asn1.Marshal(oid)
}

// keyTypeOf returns the CKA_KEY_TYPE for a CA public key and checks that
// the key is one the token layer handles: RSA of 2048 bits or more, ECDSA
// on P-256 or P-384.
func keyTypeOf(pub crypto.PublicKey) (uint, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return 0, fmt.Errorf("%w: %d-bit rsa key; use 2048 bits or more", ErrUnsupportedKey,
				k.N.BitLen())
		}
		return pkcs11.CKK_RSA, nil
	case *ecdsa.PublicKey:
		if _, err := curveParams(k.Curve); err != nil {
			return 0, err
		}
		return pkcs11.CKK_EC, nil
	}
	return 0, fmt.Errorf("%w: public key of type %T; use rsa or ecdsa", ErrUnsupportedKey, pub)
}

// readRSAPublicKey reads the modulus and public exponent of an RSA key
// object, which a private key object exposes too.
func (t *Token) readRSAPublicKey(s pkcs11.SessionHandle, h pkcs11.ObjectHandle) (*rsa.PublicKey, error) {
	attrs, err := t.ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil),
		pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("read the rsa public key of object %d: %w", h, err)
	}
	n := new(big.Int).SetBytes(attrs[0].Value)
	e := new(big.Int).SetBytes(attrs[1].Value)
	if n.Sign() <= 0 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, fmt.Errorf("object %d has an invalid rsa public key", h)
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

// readECPublicKey reads an EC public key object, whose CKA_EC_POINT is the
// DER OCTET STRING of the uncompressed point.
func (t *Token) readECPublicKey(s pkcs11.SessionHandle, h pkcs11.ObjectHandle,
	curve elliptic.Curve) (*ecdsa.PublicKey, error) {
	v, err := t.attribute(s, h, pkcs11.CKA_EC_POINT)
	if err != nil {
		return nil, err
	}
	var point []byte
	if rest, err := asn1.Unmarshal(v, &point); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("object %d has a CKA_EC_POINT that is not a DER octet string", h)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("object %d has an invalid ec point: %w", h, err)
	}
	return pub, nil
}
