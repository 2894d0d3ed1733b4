package policy

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/verify"
)

func TestEvidenceFromResult(t *testing.T) {
	issued := evalNow.Add(-time.Hour)
	res := &verify.Result{
		Verified:            true,
		TCBStatus:           "SWHardeningNeeded",
		AdvisoryIDs:         []string{"INTEL-SA-00615"},
		CollateralIssueDate: issued,
		Enclave: verify.EnclaveIdentity{
			MREnclave: fill(0xbb), MRSigner: fill(0xaa), ISVProdID: 1, ISVSVN: 4, Debug: true,
		},
		TrustedRoot:     "Dev Root",
		DevelopmentRoot: true,
	}
	ev := EvidenceFromResult(res)
	if ev.MREnclave != fill(0xbb) || ev.MRSigner != fill(0xaa) {
		t.Errorf("measurements = %x, %x", ev.MREnclave, ev.MRSigner)
	}
	if ev.ISVProdID != 1 || ev.ISVSVN != 4 || !ev.Debug {
		t.Errorf("ISVPRODID %d, ISVSVN %d, debug %v", ev.ISVProdID, ev.ISVSVN, ev.Debug)
	}
	if ev.TCBStatus != "SWHardeningNeeded" || len(ev.AdvisoryIDs) != 1 {
		t.Errorf("TCB status %q, advisories %v", ev.TCBStatus, ev.AdvisoryIDs)
	}
	if !ev.CollateralIssueDate.Equal(issued) {
		t.Errorf("collateral issue date = %s, want %s", ev.CollateralIssueDate, issued)
	}
	if !ev.DevelopmentRoot || ev.TrustedRoot != "Dev Root" {
		t.Errorf("development root %v %q", ev.DevelopmentRoot, ev.TrustedRoot)
	}
	if zero := EvidenceFromResult(nil); !reflect.DeepEqual(zero, Evidence{}) {
		t.Errorf("EvidenceFromResult(nil) = %+v, want zero", zero)
	}
}

func TestEvaluateResult(t *testing.T) {
	p := mustParse(t, evalPolicy)
	good := goodEvidence()
	verified := verify.Result{
		Verified:            true,
		TCBStatus:           good.TCBStatus,
		CollateralIssueDate: good.CollateralIssueDate,
		Enclave: verify.EnclaveIdentity{
			MREnclave: good.MREnclave, MRSigner: good.MRSigner,
			ISVProdID: good.ISVProdID, ISVSVN: good.ISVSVN,
		},
	}
	revoked := verified
	revoked.Verified = false
	revoked.TCBStatus = "Revoked"
	revoked.Step = verify.StepTCBEvaluation
	failed := verify.Result{Verified: false, Step: verify.StepQuoteSignature}

	tests := map[string]struct {
		res    *verify.Result
		reason Reason
		want   string
	}{
		"verified": {res: &verified, reason: ReasonAllowed, want: "released"},
		"revoked":  {res: &revoked, reason: ReasonTCBRevoked, want: "Revoked"},
		"failed":   {res: &failed, reason: ReasonQuoteNotVerified, want: string(verify.StepQuoteSignature)},
		"nil":      {res: nil, reason: ReasonQuoteNotVerified, want: "no verification result"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := p.EvaluateResult("tcsissuer.tcs.intel.com/prod.ca", tt.res, evalNow)
			if got.Reason != tt.reason {
				t.Fatalf("reason = %s, want %s (%s)", got.Reason, tt.reason, got.Message)
			}
			if got.Allowed != (tt.reason == ReasonAllowed) {
				t.Errorf("Allowed = %v", got.Allowed)
			}
			if !strings.Contains(got.Message, tt.want) {
				t.Errorf("message %q does not contain %q", got.Message, tt.want)
			}
		})
	}
}
