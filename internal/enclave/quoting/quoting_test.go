package quoting

import (
	"testing"

	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/enclave/token/softhsmtest"
)

// testQuoteKey opens a fresh SoftHSM2 token and generates a quote key.
func testQuoteKey(t *testing.T) *token.QuoteKey {
	t.Helper()
	hsm := softhsmtest.New(t)
	tok, err := token.Open(token.Config{ModulePath: hsm.Module, TokenLabel: "tcs-quoting-test",
		UserPIN: softhsmtest.UserPIN, SOPIN: softhsmtest.SOPIN})
	if err != nil {
		t.Fatalf("open the token: %v", err)
	}
	t.Cleanup(func() { _ = tok.Close() })
	key, err := tok.GenerateQuoteKey("attestation-1")
	if err != nil {
		t.Fatalf("generate the quote key: %v", err)
	}
	return key
}
