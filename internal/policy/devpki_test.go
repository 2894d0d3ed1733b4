package policy_test

import (
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/verify"
	"github.com/tcs-project/tcs/internal/devpki"
	"github.com/tcs-project/tcs/internal/policy"
)

// TestDevelopmentQuotes runs genuine development quotes through the real
// verifier and the policy, from a policy file whose development root is
// the development PKI's root.
func TestDevelopmentQuotes(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := start.Add(30 * 24 * time.Hour)
	authority, err := devpki.New(devpki.Options{NotBefore: start})
	if err != nil {
		t.Fatalf("devpki.New: %v", err)
	}

	dir := t.TempDir()
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: authority.Root().Raw})
	if err := os.WriteFile(filepath.Join(dir, "dev-root.pem"), rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	policyText := `developmentRoots: [dev-root.pem]
rules:
  - name: fresh
    signers: [tcsissuer.tcs.intel.com/fresh.*]
    mrenclave: [` + hex.EncodeToString(devpki.DevMREnclave[:]) + `]
    maxCollateralAge: 30m
  - name: dev
    signers: ["tcsissuer.tcs.intel.com/*"]
    mrsigner: [` + hex.EncodeToString(devpki.DevMRSigner[:]) + `]
    isvProdId: 1
    deniedAdvisoryIds: [INTEL-SA-00615]
`
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(policyText), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	verifier := verify.New(verify.Config{ExtraRoots: p.DevelopmentRoots})

	level := func(status string, advisories ...string) devpki.CollateralOption {
		return devpki.WithTCBLevels(devpki.TCBLevel{
			Components:  devpki.DefaultTCBComponents,
			PCESVN:      devpki.DefaultPCESVN,
			Date:        start,
			Status:      status,
			AdvisoryIDs: advisories,
		})
	}
	tests := map[string]struct {
		signer     string
		quote      []devpki.QuoteOption
		collateral []devpki.CollateralOption
		reason     policy.Reason
	}{
		"allowed":          {reason: policy.ReasonAllowed},
		"debug":            {quote: []devpki.QuoteOption{devpki.WithDebug()}, reason: policy.ReasonDebugEnclave},
		"other product":    {quote: []devpki.QuoteOption{devpki.WithISVProdID(2)}, reason: policy.ReasonEnclaveNotAllowed},
		"unknown signer":   {signer: "tcsclusterissuer.tcs.intel.com/ca", reason: policy.ReasonUnknownSigner},
		"collateral age":   {signer: "tcsissuer.tcs.intel.com/fresh.ca", reason: policy.ReasonCollateralTooOld},
		"out of date":      {collateral: []devpki.CollateralOption{level("OutOfDate")}, reason: policy.ReasonTCBStatusNotAccepted},
		"advisory":         {collateral: []devpki.CollateralOption{level("SWHardeningNeeded", "INTEL-SA-00615")}, reason: policy.ReasonAdvisoryDenied},
		"revoked":          {collateral: []devpki.CollateralOption{level("Revoked")}, reason: policy.ReasonTCBRevoked},
		"tampered quote":   {quote: []devpki.QuoteOption{devpki.CorruptQuoteSignature()}, reason: policy.ReasonQuoteNotVerified},
		"allowed hardened": {collateral: []devpki.CollateralOption{level("SWHardeningNeeded", "INTEL-SA-00334")}, reason: policy.ReasonAllowed},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			quote, err := authority.Quote([64]byte{1, 2, 3}, tt.quote...)
			if err != nil {
				t.Fatalf("Quote: %v", err)
			}
			bundle, err := authority.Collateral(at, tt.collateral...)
			if err != nil {
				t.Fatalf("Collateral: %v", err)
			}
			res, _ := verifier.Verify(quote, bundle, at)

			signer := tt.signer
			if signer == "" {
				signer = "tcsissuer.tcs.intel.com/default.ca"
			}
			decision := p.EvaluateResult(signer, res, at)
			if decision.Reason != tt.reason {
				t.Fatalf("reason = %s, want %s (%s)", decision.Reason, tt.reason, decision.Message)
			}
			if decision.Reason != policy.ReasonQuoteNotVerified &&
				!strings.Contains(decision.Message, "development root") {
				t.Errorf("message %q does not name the development root", decision.Message)
			}
		})
	}
}
