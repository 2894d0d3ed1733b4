package token

import (
	"errors"
	"testing"

	"github.com/miekg/pkcs11"
)

func TestQuoteKeyLifecycle(t *testing.T) {
	tok := openToken(t, testConfig(t))
	k, err := tok.GenerateQuoteKey("attestation-1")
	if err != nil {
		t.Fatalf("GenerateQuoteKey: %v", err)
	}
	if got := k.Public.N.BitLen(); got != QuoteKeyBits {
		t.Errorf("quote key has %d bits, want %d", got, QuoteKeyBits)
	}
	if got := countObjects(t, tok); got != 2 {
		t.Errorf("token holds %d objects after generation, want 2", got)
	}
	checkQuoteKeyAttributes(t, tok, k)

	if _, err := tok.GenerateQuoteKey("attestation-1"); !errors.Is(err, ErrExists) {
		t.Errorf("second GenerateQuoteKey error = %v, want ErrExists", err)
	}

	found, err := tok.FindQuoteKey("attestation-1")
	if err != nil {
		t.Fatalf("FindQuoteKey: %v", err)
	}
	if !found.Public.Equal(k.Public) {
		t.Error("FindQuoteKey returned another public key")
	}
	if _, err := tok.FindQuoteKey("attestation-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindQuoteKey of a missing key error = %v, want ErrNotFound", err)
	}
	// A signer of the same name is not a quote key.
	if _, err := tok.FindSigner("attestation-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindSigner of a quote key name error = %v, want ErrNotFound", err)
	}

	if err := tok.DeleteQuoteKey("attestation-1"); err != nil {
		t.Fatalf("DeleteQuoteKey: %v", err)
	}
	if got := countObjects(t, tok); got != 0 {
		t.Errorf("token holds %d objects after deletion, want 0", got)
	}
	if err := tok.DeleteQuoteKey("attestation-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteQuoteKey error = %v, want ErrNotFound", err)
	}
}

// checkQuoteKeyAttributes checks that the private quote key can only
// unwrap and never leaves the token.
func checkQuoteKeyAttributes(t *testing.T, tok *Token, k *QuoteKey) {
	t.Helper()
	want := map[uint]bool{
		pkcs11.CKA_TOKEN:       true,
		pkcs11.CKA_PRIVATE:     true,
		pkcs11.CKA_SENSITIVE:   true,
		pkcs11.CKA_EXTRACTABLE: false,
		pkcs11.CKA_UNWRAP:      true,
		pkcs11.CKA_SIGN:        false,
		pkcs11.CKA_DECRYPT:     false,
	}
	err := tok.withSession(func(s pkcs11.SessionHandle) error {
		for typ, value := range want {
			got, err := tok.boolAttribute(s, k.priv, typ)
			if err != nil {
				return err
			}
			if got != value {
				t.Errorf("private quote key attribute 0x%x = %v, want %v", typ, got, value)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestQuoteKeyRejectsNames(t *testing.T) {
	tok := openToken(t, testConfig(t))
	for name, value := range map[string]string{
		"empty":       "",
		"invalid utf": "\xff",
		"too long":    string(make([]byte, maxNameSize+1)),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := tok.GenerateQuoteKey(value); err == nil {
				t.Error("GenerateQuoteKey accepted the name")
			}
		})
	}
}
