package policy

import (
	"fmt"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/dcap/verify"
)

// EvidenceFromResult copies what the policy checks from a verification
// result. A nil result gives zero Evidence.
func EvidenceFromResult(res *verify.Result) Evidence {
	if res == nil {
		return Evidence{}
	}
	return Evidence{
		MREnclave:           res.Enclave.MREnclave,
		MRSigner:            res.Enclave.MRSigner,
		ISVProdID:           res.Enclave.ISVProdID,
		ISVSVN:              res.Enclave.ISVSVN,
		Debug:               res.Enclave.Debug,
		TCBStatus:           res.TCBStatus,
		AdvisoryIDs:         res.AdvisoryIDs,
		CollateralIssueDate: res.CollateralIssueDate,
		DevelopmentRoot:     res.DevelopmentRoot,
		TrustedRoot:         res.TrustedRoot,
	}
}

// EvaluateResult evaluates a verification result. A result that did not
// verify is rejected: with ReasonTCBRevoked when its TCB status is Revoked
// (the verifier fails such quotes with verify.ErrTCBRevoked), and with
// ReasonQuoteNotVerified otherwise.
func (p *Policy) EvaluateResult(signerName string, res *verify.Result, now time.Time) Decision {
	if res == nil {
		return Decision{Reason: ReasonQuoteNotVerified,
			Message: fmt.Sprintf("no verification result for signer %q: verify the quote first.", signerName)}
	}
	if !res.Verified && res.TCBStatus != collateral.StatusRevoked {
		step := string(res.Step)
		if step == "" {
			step = "an unknown step"
		}
		return Decision{Reason: ReasonQuoteNotVerified,
			Message: fmt.Sprintf("the quote for signer %q failed verification at %s, so the policy "+
				"was not applied: fix the verification error first.", signerName, step)}
	}
	return p.Evaluate(signerName, EvidenceFromResult(res), now)
}
