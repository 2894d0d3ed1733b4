package keywrap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// AES key wrap with padding (KWP) as specified in RFC 5649, built on the
// wrapping process W of RFC 3394 section 2.2.1.
const (
	// kwpSemiblock is the 64-bit unit that RFC 3394 and RFC 5649 work in.
	kwpSemiblock = 8
	// kwpICV2 is the constant high half of the alternative initial value
	// (RFC 5649 section 3); the low half is the message length indicator.
	kwpICV2 = 0xA65959A6
	// kwpMaxPlaintext is the maximum plaintext length: the message length
	// indicator is a 32-bit unsigned integer.
	kwpMaxPlaintext = math.MaxUint32
	// kwpRounds is the number of passes of RFC 3394's wrapping process.
	kwpRounds = 6
)

// ErrIntegrity reports that an AES-KWP ciphertext failed its integrity
// check (RFC 5649 section 3): the wrong key-encryption key, or corrupted or
// truncated ciphertext.
var ErrIntegrity = errors.New("aes key wrap integrity check failed")

// WrapPad wraps plaintext under the AES key kek (16, 24 or 32 bytes) with
// the AES key wrap with padding algorithm of RFC 5649.
func WrapPad(kek, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("aes key wrap: invalid key-encryption key: %w", err)
	}
	if len(plaintext) == 0 {
		return nil, errors.New("aes key wrap: plaintext is empty")
	}
	if uint64(len(plaintext)) > kwpMaxPlaintext {
		return nil, fmt.Errorf("aes key wrap: plaintext of %d bytes exceeds the 2^32-1 byte maximum",
			len(plaintext))
	}

	// Pad with zeros to a multiple of 64 bits (RFC 5649 section 4.1, step 1).
	padded := (len(plaintext) + kwpSemiblock - 1) / kwpSemiblock * kwpSemiblock
	out := make([]byte, kwpSemiblock+padded)
	binary.BigEndian.PutUint32(out[0:4], kwpICV2)
	binary.BigEndian.PutUint32(out[4:8], uint32(len(plaintext)))
	copy(out[kwpSemiblock:], plaintext)

	// A single padded semiblock is encrypted as one AES block together with
	// the initial value (RFC 5649 section 4.1, step 2, case n = 1).
	if padded == kwpSemiblock {
		block.Encrypt(out, out)
		return out, nil
	}
	wrapRFC3394(block, out)
	return out, nil
}

// UnwrapPad reverses WrapPad. It returns ErrIntegrity when the initial
// value, the message length indicator or the padding does not check out.
func UnwrapPad(kek, ciphertext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("aes key unwrap: invalid key-encryption key: %w", err)
	}
	// The smallest ciphertext is two semiblocks (RFC 5649 section 4.2).
	if len(ciphertext) < 2*kwpSemiblock || len(ciphertext)%kwpSemiblock != 0 {
		return nil, fmt.Errorf("aes key unwrap: ciphertext of %d bytes is not a multiple of %d "+
			"bytes of at least %d: %w", len(ciphertext), kwpSemiblock, 2*kwpSemiblock, ErrIntegrity)
	}

	buf := make([]byte, len(ciphertext))
	copy(buf, ciphertext)
	if len(buf) == 2*kwpSemiblock {
		block.Decrypt(buf, buf)
	} else {
		unwrapRFC3394(block, buf)
	}

	// Check the alternative initial value (RFC 5649 section 3): the constant,
	// a length that lies within the last semiblock, and zero padding. The
	// comparisons run in constant time so that a failure reveals no detail.
	padded := len(buf) - kwpSemiblock
	length := int(binary.BigEndian.Uint32(buf[4:8]))
	var icv [4]byte
	binary.BigEndian.PutUint32(icv[:], kwpICV2)
	ok := subtle.ConstantTimeCompare(buf[0:4], icv[:])
	inRange := length > padded-kwpSemiblock && length <= padded
	if ok == 0 || !inRange {
		return nil, ErrIntegrity
	}
	var nonZero byte
	for _, b := range buf[kwpSemiblock+length:] {
		nonZero |= b
	}
	if nonZero != 0 {
		return nil, ErrIntegrity
	}
	return buf[kwpSemiblock : kwpSemiblock+length], nil
}

// wrapRFC3394 runs the wrapping process W of RFC 3394 section 2.2.1 in
// place: buf holds the initial value A followed by the n >= 2 semiblocks R.
func wrapRFC3394(block cipher.Block, buf []byte) {
	n := len(buf)/kwpSemiblock - 1
	var b [aes.BlockSize]byte
	for j := 0; j < kwpRounds; j++ {
		for i := 1; i <= n; i++ {
			r := buf[i*kwpSemiblock : (i+1)*kwpSemiblock]
			copy(b[:kwpSemiblock], buf[:kwpSemiblock])
			copy(b[kwpSemiblock:], r)
			block.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(buf[:kwpSemiblock], binary.BigEndian.Uint64(b[:kwpSemiblock])^t)
			copy(r, b[kwpSemiblock:])
		}
	}
}

// unwrapRFC3394 runs the unwrapping process W^-1 of RFC 3394 section
// 2.2.2 in place, leaving the recovered initial value in the first semiblock.
func unwrapRFC3394(block cipher.Block, buf []byte) {
	n := len(buf)/kwpSemiblock - 1
	var b [aes.BlockSize]byte
	for j := kwpRounds - 1; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			r := buf[i*kwpSemiblock : (i+1)*kwpSemiblock]
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:kwpSemiblock], binary.BigEndian.Uint64(buf[:kwpSemiblock])^t)
			copy(b[kwpSemiblock:], r)
			block.Decrypt(b[:], b[:])
			copy(buf[:kwpSemiblock], b[:kwpSemiblock])
			copy(r, b[kwpSemiblock:])
		}
	}
}
