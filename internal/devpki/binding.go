package devpki

import (
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
)

// DefaultNonce is the nonce that Intel's crypto-api-toolkit applies when the
// caller gives none: the bytes 0x00 to 0x0F.
var DefaultNonce = [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// ReportDataForRSAKey returns the report data that binds an RSA public key
// to a quote the way crypto-api-toolkit's
// CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY does: the first 32 bytes are
// SHA-256(exponent || modulus || nonce) and the last 32 are zero.
//
// Exponent and modulus are big-endian without leading zero bytes, the form
// in which a PKCS#11 token returns CKA_PUBLIC_EXPONENT and CKA_MODULUS: the
// exponent 65537 is the three bytes 01 00 01.
func ReportDataForRSAKey(pub *rsa.PublicKey, nonce [16]byte) [64]byte {
	var out [64]byte
	if pub == nil || pub.N == nil {
		// A missing key binds nothing; the zero report data matches no
		// key's binding.
		return out
	}
	h := sha256.New()
	h.Write(big.NewInt(int64(pub.E)).Bytes())
	h.Write(pub.N.Bytes())
	h.Write(nonce[:])
	copy(out[:sha256.Size], h.Sum(nil))
	return out
}
