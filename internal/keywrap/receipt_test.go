package keywrap

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"
)

func testReceipt(t testing.TB) *Receipt {
	t.Helper()
	enclave, _ := testEnclaveKeys(t)
	r, err := NewReceipt([]byte("quote bytes"), &enclave.PublicKey,
		"tcsissuer.tcs.intel.com/sandbox.ca", "6f1c0b8e-5a0b-4a43-9b2f-2c1f0e6d9a11",
		[]byte("dGxzLmtleQ=="), []byte("dGxzLmNydA=="))
	if err != nil {
		t.Fatalf("NewReceipt: %v", err)
	}
	return r
}

func TestReceiptVerify(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r := testReceipt(t)
	encoded, err := r.Sign(priv)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if err := VerifyReceipt(encoded, pub, r); err != nil {
		t.Errorf("VerifyReceipt: %v", err)
	}
	parsed, _, _, err := ParseReceipt(encoded)
	if err != nil {
		t.Fatalf("ParseReceipt: %v", err)
	}
	if *parsed != *r {
		t.Errorf("ParseReceipt = %+v, want %+v", parsed, r)
	}
}

// TestReceiptLayout checks the documented byte layout field by field.
func TestReceiptLayout(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r := testReceipt(t)
	encoded, err := r.Sign(priv)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	want = append(want, "TCSR"...)
	want = binary.BigEndian.AppendUint16(want, 1)
	for _, f := range [][]byte{r.QuoteSHA256[:], r.PublicKeySHA256[:], []byte(r.SignerName),
		[]byte(r.UID), r.TLSKeySHA256[:], r.TLSCertSHA256[:]} {
		want = binary.BigEndian.AppendUint16(want, uint16(len(f)))
		want = append(want, f...)
	}
	want = binary.BigEndian.AppendUint16(want, ed25519.SignatureSize)
	if !bytes.Equal(encoded[:len(want)], want) {
		t.Fatalf("encoding before the signature differs from the documented layout")
	}
	if len(encoded) != len(want)+ed25519.SignatureSize {
		t.Errorf("encoded length = %d, want %d", len(encoded), len(want)+ed25519.SignatureSize)
	}
	msg := append([]byte("tcs-project release receipt v1\x00"), want[:len(want)-2]...)
	if !ed25519.Verify(priv.Public().(ed25519.PublicKey), msg, encoded[len(want):]) {
		t.Error("signature does not cover the domain string and the body")
	}
	if got := sha256.Sum256([]byte("quote bytes")); got != r.QuoteSHA256 {
		t.Error("quote hash is not SHA-256 of the quote")
	}
}

func TestReceiptRejects(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r := testReceipt(t)
	encoded, err := r.Sign(priv)
	if err != nil {
		t.Fatal(err)
	}
	changed := func(edit func(*Receipt)) *Receipt {
		c := *r
		edit(&c)
		return &c
	}
	flipped := bytes.Clone(encoded)
	flipped[10] ^= 1
	badSig := bytes.Clone(encoded)
	badSig[len(badSig)-1] ^= 1
	badVersion := bytes.Clone(encoded)
	badVersion[5] = 2

	tests := map[string]struct {
		encoded  []byte
		pub      ed25519.PublicKey
		expected *Receipt
		want     error
		field    string
	}{
		"other key-server key": {encoded, otherPub, r, ErrReceiptSignature, ""},
		"body byte flipped":    {flipped, pub, r, ErrReceiptSignature, ""},
		"signature flipped":    {badSig, pub, r, ErrReceiptSignature, ""},
		"empty":                {nil, pub, r, ErrReceiptMalformed, ""},
		"truncated":            {encoded[:len(encoded)-1], pub, r, ErrReceiptMalformed, ""},
		"trailing byte":        {append(bytes.Clone(encoded), 0), pub, r, ErrReceiptMalformed, ""},
		"version 2":            {badVersion, pub, r, ErrReceiptMalformed, ""},
		"wrong magic":          {append([]byte("XXXX"), encoded[4:]...), pub, r, ErrReceiptMalformed, ""},
		"quote": {encoded, pub, changed(func(c *Receipt) { c.QuoteSHA256[0] ^= 1 }),
			ErrReceiptMismatch, FieldQuote},
		"public key": {encoded, pub, changed(func(c *Receipt) { c.PublicKeySHA256[0] ^= 1 }),
			ErrReceiptMismatch, FieldPublicKey},
		"signer name": {encoded, pub, changed(func(c *Receipt) { c.SignerName += "x" }),
			ErrReceiptMismatch, FieldSignerName},
		"uid": {encoded, pub, changed(func(c *Receipt) { c.UID = "other" }),
			ErrReceiptMismatch, FieldUID},
		"tls.key": {encoded, pub, changed(func(c *Receipt) { c.TLSKeySHA256[31] ^= 1 }),
			ErrReceiptMismatch, FieldTLSKey},
		"tls.crt": {encoded, pub, changed(func(c *Receipt) { c.TLSCertSHA256[31] ^= 1 }),
			ErrReceiptMismatch, FieldTLSCert},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := VerifyReceipt(tc.encoded, tc.pub, tc.expected)
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyReceipt error = %v, want %v", err, tc.want)
			}
			var mismatch *ReceiptMismatchError
			if tc.field != "" {
				if !errors.As(err, &mismatch) {
					t.Fatalf("VerifyReceipt error %v is not a *ReceiptMismatchError", err)
				}
				if mismatch.Field != tc.field {
					t.Errorf("mismatched field = %q, want %q", mismatch.Field, tc.field)
				}
			}
		})
	}
}

func TestNewReceiptRejectsInput(t *testing.T) {
	enclave, _ := testEnclaveKeys(t)
	tests := map[string]struct {
		signer, uid string
	}{
		"empty signer": {"", "uid"},
		"empty uid":    {"signer", ""},
		"long signer":  {string(bytes.Repeat([]byte{'a'}, 513)), "uid"},
		"long uid":     {"signer", string(bytes.Repeat([]byte{'a'}, 129))},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := NewReceipt(nil, &enclave.PublicKey, tc.signer, tc.uid, nil, nil); err == nil {
				t.Error("NewReceipt accepted the input")
			}
		})
	}
}

func FuzzParseReceipt(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	r := &Receipt{SignerName: "s", UID: "u"}
	encoded, err := r.Sign(priv)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encoded)
	f.Fuzz(func(t *testing.T, b []byte) {
		got, body, _, err := ParseReceipt(b)
		if err != nil {
			return
		}
		// A receipt that parses re-encodes to the same body.
		if !bytes.Equal(got.body(), body) {
			t.Fatal("parse then encode did not return the input body")
		}
	})
}
