package quoting

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/tcs-project/tcs/internal/devpki"
)

var (
	ctkKeyOnce sync.Once
	ctkKey     *rsa.PrivateKey
)

// memoryQuoteKey returns an RSA-3072 key made once per test binary, for
// tests of the byte layouts that need no token.
func memoryQuoteKey(t *testing.T) *rsa.PublicKey {
	t.Helper()
	ctkKeyOnce.Do(func() {
		var err error
		if ctkKey, err = rsa.GenerateKey(rand.Reader, 3072); err != nil {
			panic(err)
		}
	})
	return &ctkKey.PublicKey
}

// ctkOutput builds output in the toolkit's C_WrapKey layout.
func ctkOutput(exponent, modulus, quote []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(exponent)))
	out = binary.LittleEndian.AppendUint64(out, uint64(len(modulus)))
	out = append(out, exponent...)
	out = append(out, modulus...)
	return append(out, quote...)
}

func TestEncodeCTKParams(t *testing.T) {
	nonce := [NonceSize]byte{0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xaf}
	got := EncodeCTKParams(QLPolicyPersistent, nonce)
	want := append(make([]byte, 8), nonce[:]...)
	if !bytes.Equal(got, want) {
		t.Errorf("EncodeCTKParams(persistent) = %x, want %x", got, want)
	}
	got = EncodeCTKParams(1, nonce)
	if len(got) != 24 || got[0] != 1 || !bytes.Equal(got[1:8], make([]byte, 7)) {
		t.Errorf("EncodeCTKParams(1) = %x, want policy 1 as 8 bytes little-endian", got)
	}
	if got := EncodeCTKParams(-1, nonce); !bytes.Equal(got[:8], bytes.Repeat([]byte{0xff}, 8)) {
		t.Errorf("EncodeCTKParams(-1) policy bytes = %x, want a two's complement CK_LONG", got[:8])
	}
}

func TestParseCTKOutput(t *testing.T) {
	pub := memoryQuoteKey(t)
	exponent := big.NewInt(int64(pub.E)).Bytes()
	modulus := pub.N.Bytes()
	quote := []byte("quote bytes")
	good := ctkOutput(exponent, modulus, quote)

	gotKey, gotQuote, err := ParseCTKOutput(good)
	if err != nil {
		t.Fatalf("ParseCTKOutput: %v", err)
	}
	if !gotKey.Equal(pub) {
		t.Error("ParseCTKOutput returned another public key")
	}
	if !bytes.Equal(gotQuote, quote) {
		t.Errorf("ParseCTKOutput quote = %q, want %q", gotQuote, quote)
	}

	withLengths := func(e, m uint64) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint64(b[0:8], e)
		binary.LittleEndian.PutUint64(b[8:16], m)
		return b
	}
	tests := map[string][]byte{
		"empty":                nil,
		"short header":         good[:15],
		"header only":          good[:16],
		"zero exponent length": withLengths(0, uint64(len(modulus))),
		"huge exponent length": withLengths(1<<63, uint64(len(modulus))),
		"max exponent length":  withLengths(^uint64(0), uint64(len(modulus))),
		"zero modulus length":  withLengths(3, 0),
		"huge modulus length":  withLengths(3, ^uint64(0)),
		"modulus past the end": withLengths(3, uint64(len(good))),
		"no quote":             ctkOutput(exponent, modulus, nil),
		"even exponent":        ctkOutput([]byte{0x01, 0x00, 0x00}, modulus, quote),
		"exponent one":         ctkOutput([]byte{0x01}, modulus, quote),
		"zero modulus":         ctkOutput(exponent, make([]byte, 8), quote),
		"exponent above 2^31":  ctkOutput(bytes.Repeat([]byte{0xff}, 8), modulus, quote),
	}
	for name, out := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := ParseCTKOutput(out)
			if !errors.Is(err, ErrMalformedCTKOutput) {
				t.Errorf("ParseCTKOutput error = %v, want ErrMalformedCTKOutput", err)
			}
		})
	}
}

func TestCheckCTKOutput(t *testing.T) {
	pub := memoryQuoteKey(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	authority, err := devpki.New(devpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nonce := [NonceSize]byte{1, 2, 3}
	bound, err := authority.Quote(devpki.ReportDataForRSAKey(pub, nonce))
	if err != nil {
		t.Fatal(err)
	}
	otherNonce, err := authority.Quote(devpki.ReportDataForRSAKey(pub, devpki.DefaultNonce))
	if err != nil {
		t.Fatal(err)
	}
	exponent := big.NewInt(int64(pub.E)).Bytes()

	result, err := checkCTKOutput(ctkOutput(exponent, pub.N.Bytes(), bound), pub, nonce)
	if err != nil {
		t.Fatalf("checkCTKOutput: %v", err)
	}
	if !bytes.Equal(result.Quote, bound) || result.Nonce != nonce || !result.PublicKey.Equal(pub) {
		t.Error("checkCTKOutput returned another quote, nonce or key")
	}

	tests := map[string]struct {
		out  []byte
		want string
	}{
		"other public key":  {ctkOutput(exponent, other.N.Bytes(), bound), "another public key"},
		"other nonce":       {ctkOutput(exponent, pub.N.Bytes(), otherNonce), "report data"},
		"malformed quote":   {ctkOutput(exponent, pub.N.Bytes(), bound[:100]), "malformed quote"},
		"malformed framing": {bound, "malformed crypto-api-toolkit"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := checkCTKOutput(tc.out, pub, nonce)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("checkCTKOutput error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestCTKQuoteOnSoftHSM runs the real C_WrapKey call against SoftHSM2,
// which does not know the toolkit's mechanism, and checks that the error
// names the mechanism.
func TestCTKQuoteOnSoftHSM(t *testing.T) {
	key := testQuoteKey(t)
	for name, backend := range map[string]*CTK{
		"current": {},
		"legacy":  {Mechanism: MechanismExportECDSAQuoteLegacy},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := backend.Quote(key)
			if err == nil {
				t.Fatal("Quote succeeded on SoftHSM2")
			}
			if !strings.Contains(err.Error(), "CKR_MECHANISM_INVALID") {
				t.Errorf("Quote error = %v, want CKR_MECHANISM_INVALID", err)
			}
		})
	}
}

func FuzzParseCTKOutput(f *testing.F) {
	f.Add(ctkOutput([]byte{1, 0, 1}, []byte{0xc5, 0x11}, []byte("q")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, out []byte) {
		key, quote, err := ParseCTKOutput(out)
		if err != nil {
			return
		}
		if key == nil || len(quote) == 0 {
			t.Fatal("ParseCTKOutput succeeded without a key or quote")
		}
	})
}
