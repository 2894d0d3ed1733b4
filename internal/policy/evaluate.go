package policy

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
)

// Evaluate decides whether the enclave and platform described by ev may
// receive the CA key of signerName at time now. The first rule whose
// signers match decides. See the package documentation for the order of
// the checks.
func (p *Policy) Evaluate(signerName string, ev Evidence, now time.Time) Decision {
	// A revoked platform gets no key from any rule, so this comes first.
	if ev.TCBStatus == collateral.StatusRevoked {
		return reject(ReasonTCBRevoked, nil, ev, "the platform's TCB status is Revoked, so no key "+
			"is released for signer %q: the platform needs a microcode and SGX software update "+
			"that Intel has not revoked", signerName)
	}

	rule := p.Match(signerName)
	if rule == nil {
		return reject(ReasonUnknownSigner, nil, ev, "signer %q matches no rule of the release policy: "+
			"add a rule whose signers pattern matches it", signerName)
	}
	if ev.Debug && !rule.AllowDebug {
		return reject(ReasonDebugEnclave, rule, ev, "the enclave is a debug enclave, which rule %s "+
			"rejects: run a production-signed enclave", rule.label())
	}
	if decision, failed := checkEnclave(rule, ev); failed {
		return decision
	}
	if !slices.Contains(rule.TCBStatuses, ev.TCBStatus) {
		return reject(ReasonTCBStatusNotAccepted, rule, ev, "TCB status %q is not accepted by rule %s, "+
			"which accepts %s: update the platform's firmware and SGX software, or accept the "+
			"status in tcbStatuses", ev.TCBStatus, rule.label(), strings.Join(rule.TCBStatuses, ", "))
	}
	if id, found := deniedAdvisory(rule, ev); found {
		return reject(ReasonAdvisoryDenied, rule, ev, "advisory %s applies to the platform and rule %s "+
			"denies it: apply the platform update that fixes it", id, rule.label())
	}
	if decision, failed := checkCollateralAge(rule, ev, now); failed {
		return decision
	}

	return Decision{
		Allowed: true,
		Reason:  ReasonAllowed,
		Rule:    rule.Name,
		Message: withRootNote(ev, fmt.Sprintf("signer %q is released under rule %s with TCB status %s",
			signerName, rule.label(), ev.TCBStatus)),
	}
}

// Match returns the first rule whose signers match signerName, or nil.
func (p *Policy) Match(signerName string) *Rule {
	for i := range p.Rules {
		for _, pattern := range p.Rules[i].Signers {
			if matchGlob(pattern, signerName) {
				return &p.Rules[i]
			}
		}
	}
	return nil
}

func checkEnclave(rule *Rule, ev Evidence) (Decision, bool) {
	if len(rule.MRSigners) > 0 && !slices.Contains(rule.MRSigners, ev.MRSigner) {
		return reject(ReasonEnclaveNotAllowed, rule, ev, "MRSIGNER %s is not in the mrsigner list of "+
			"rule %s: sign the enclave with an allowed key or add its MRSIGNER",
			hex.EncodeToString(ev.MRSigner[:]), rule.label()), true
	}
	if len(rule.MREnclaves) > 0 && !slices.Contains(rule.MREnclaves, ev.MREnclave) {
		return reject(ReasonEnclaveNotAllowed, rule, ev, "MRENCLAVE %s is not in the mrenclave list of "+
			"rule %s: run an allowed enclave build or add its MRENCLAVE",
			hex.EncodeToString(ev.MREnclave[:]), rule.label()), true
	}
	if rule.ISVProdID != nil && ev.ISVProdID != *rule.ISVProdID {
		return reject(ReasonEnclaveNotAllowed, rule, ev, "ISVPRODID %d differs from %d, which rule %s "+
			"requires: run the enclave of that product", ev.ISVProdID, *rule.ISVProdID, rule.label()), true
	}
	if ev.ISVSVN < rule.MinISVSVN {
		return reject(ReasonEnclaveNotAllowed, rule, ev, "ISVSVN %d is below %d, the minimum of rule %s: "+
			"update the enclave to a newer security version", ev.ISVSVN, rule.MinISVSVN, rule.label()), true
	}
	return Decision{}, false
}

func deniedAdvisory(rule *Rule, ev Evidence) (string, bool) {
	for _, id := range ev.AdvisoryIDs {
		for _, denied := range rule.DeniedAdvisoryIDs {
			if strings.EqualFold(id, denied) {
				return id, true
			}
		}
	}
	return "", false
}

func checkCollateralAge(rule *Rule, ev Evidence, now time.Time) (Decision, bool) {
	if rule.MaxCollateralAge == 0 {
		return Decision{}, false
	}
	if ev.CollateralIssueDate.IsZero() {
		return reject(ReasonCollateralTooOld, rule, ev, "the collateral has no issue date, so its age "+
			"cannot be checked against the maximum of %s of rule %s: verify with complete collateral",
			rule.MaxCollateralAge, rule.label()), true
	}
	// A negative age, collateral issued after now, means the clocks
	// differ; the verifier has already checked the validity window.
	age := now.Sub(ev.CollateralIssueDate)
	if age > rule.MaxCollateralAge {
		return reject(ReasonCollateralTooOld, rule, ev, "the collateral was issued at %s, %s before the "+
			"evaluation, more than the maximum of %s of rule %s: fetch fresh collateral",
			ev.CollateralIssueDate.UTC().Format(time.RFC3339), age.Round(time.Second),
			rule.MaxCollateralAge, rule.label()), true
	}
	return Decision{}, false
}

func reject(reason Reason, rule *Rule, ev Evidence, format string, args ...any) Decision {
	decision := Decision{
		Reason:  reason,
		Message: withRootNote(ev, fmt.Sprintf(format, args...)),
	}
	if rule != nil {
		decision.Rule = rule.Name
	}
	return decision
}

// withRootNote ends message with a sentence naming the development root
// that anchored the quote, if one did, so that no decision hides it.
func withRootNote(ev Evidence, message string) string {
	if !ev.DevelopmentRoot {
		return message + "."
	}
	root := ev.TrustedRoot
	if root == "" {
		root = "unnamed"
	}
	return fmt.Sprintf("%s. The quote was verified under development root %q, "+
		"not the Intel SGX Root CA.", message, root)
}

// matchGlob reports whether name matches pattern, in which each * matches
// any run of characters, including none, and every other character
// matches itself.
func matchGlob(pattern, name string) bool {
	// Backtracking only to the last star is enough for a pattern whose one
	// wildcard is *, and it bounds the work by len(pattern)*len(name).
	p, n := 0, 0
	star, starName := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, starName = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			starName++
			p, n = star+1, starName
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
