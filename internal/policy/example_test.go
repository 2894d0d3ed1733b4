package policy_test

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/tcs-project/tcs/internal/policy"
)

func ExamplePolicy_Evaluate() {
	p, err := policy.Parse([]byte(`
rules:
  - name: default issuers
    signers: [tcsissuer.tcs.intel.com/default.*]
    mrsigner: [00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff]
    isvProdId: 1
    minIsvSvn: 2
    deniedAdvisoryIds: [INTEL-SA-00615]
    maxCollateralAge: 720h
`))
	if err != nil {
		fmt.Println(err)
		return
	}

	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var ev policy.Evidence
	hex.Decode(ev.MRSigner[:], []byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"))
	ev.ISVProdID = 1
	ev.ISVSVN = 1
	ev.TCBStatus = "UpToDate"
	ev.CollateralIssueDate = now.Add(-48 * time.Hour)

	decision := p.Evaluate("tcsissuer.tcs.intel.com/default.ca", ev, now)
	fmt.Println(decision.Allowed, decision.Reason)
	fmt.Println(decision.Message)

	ev.ISVSVN = 2
	decision = p.Evaluate("tcsissuer.tcs.intel.com/default.ca", ev, now)
	fmt.Println(decision.Allowed, decision.Reason)
	// Output:
	// false EnclaveNotAllowed
	// ISVSVN 1 is below 2, the minimum of rule "default issuers" (line 3): update the enclave to a newer security version.
	// true Allowed
}
