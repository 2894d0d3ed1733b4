package quoting

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/quote"
	"github.com/tcs-project/tcs/internal/dcap/verify"
	"github.com/tcs-project/tcs/internal/devpki"
)

func TestDevQuote(t *testing.T) {
	key := testQuoteKey(t)
	authority, err := devpki.New(devpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dev := &Dev{Authority: authority}
	var backend Backend = dev
	first, err := backend.Quote(key)
	if err != nil {
		t.Fatalf("Quote: %v", err)
	}
	second, err := backend.Quote(key)
	if err != nil {
		t.Fatalf("second Quote: %v", err)
	}
	if first.Nonce == second.Nonce {
		t.Error("two quotes share a nonce")
	}
	if !first.PublicKey.Equal(key.Public) {
		t.Error("result carries another public key than the quote key's")
	}

	parsed, err := quote.Parse(first.Quote)
	if err != nil {
		t.Fatalf("quote.Parse: %v", err)
	}
	if parsed.Body.ReportData != devpki.ReportDataForRSAKey(key.Public, first.Nonce) {
		t.Error("report data does not bind the quote key and nonce")
	}
	if parsed.Body.MREnclave != devpki.DevMREnclave || parsed.Body.MRSigner != devpki.DevMRSigner {
		t.Error("quote does not carry the documented development enclave identity")
	}

	at := time.Now()
	bundle, err := dev.Collateral(at)
	if err != nil {
		t.Fatal(err)
	}

	trusting := verify.New(verify.Config{ExtraRoots: []*x509.Certificate{authority.Root()}})
	result, err := trusting.Verify(first.Quote, bundle, at)
	if err != nil {
		t.Fatalf("Verify with the development root trusted: %v", err)
	}
	if !result.Verified || !result.DevelopmentRoot {
		t.Errorf("Verified %v, DevelopmentRoot %v, want both true", result.Verified,
			result.DevelopmentRoot)
	}
	if result.TCBStatus != devpki.StatusUpToDate {
		t.Errorf("TCBStatus = %q, want %q", result.TCBStatus, devpki.StatusUpToDate)
	}
	if result.Enclave.MREnclave != devpki.DevMREnclave {
		t.Error("verified MRENCLAVE is not the development enclave's")
	}
	if result.Enclave.ReportData != parsed.Body.ReportData {
		t.Error("verified report data differs from the quote's")
	}

	intelOnly := verify.New(verify.Config{})
	result, err = intelOnly.Verify(first.Quote, bundle, at)
	if !errors.Is(err, verify.ErrUntrustedPCKChain) {
		t.Errorf("Verify with the Intel root only error = %v, want ErrUntrustedPCKChain", err)
	}
	if result == nil || result.Verified {
		t.Error("Verify with the Intel root only reported the quote verified")
	}
}

func TestDevQuoteRejects(t *testing.T) {
	key := testQuoteKey(t)
	if _, err := (&Dev{}).Quote(key); err == nil {
		t.Error("Quote without an authority succeeded")
	}
	if _, err := (&Dev{}).Collateral(time.Now()); err == nil {
		t.Error("Collateral without an authority succeeded")
	}
	authority, err := devpki.New(devpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Dev{Authority: authority}).Quote(nil); err == nil {
		t.Error("Quote without a key succeeded")
	}
}
