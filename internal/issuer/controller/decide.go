package controller

import (
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
)

// Phase is the provisioning state of one signer.
type Phase int

const (
	// PhaseNone: no request has been made for the signer yet.
	PhaseNone Phase = iota
	// PhaseRequested: a QuoteAttestation waits for the key server.
	PhaseRequested
	// PhaseFailed: the last attempt failed; the next waits until RetryAt.
	PhaseFailed
)

// Progress is the provisioning state of one signer, kept in memory: after a
// restart a pending request is found again in the API server, and a failed
// signer is retried at once.
type Progress struct {
	Phase Phase
	// Request is the name of the QuoteAttestation of the last attempt.
	Request string
	// Reason and Message explain a failure: the key server's state and
	// message, or why the delivery was rejected.
	Reason, Message string
	// Attempts counts the failed attempts in a row.
	Attempts int
	// RetryAt is when a failed signer may be requested again.
	RetryAt time.Time
}

type issuerAction int

const (
	// actionPublish: the CA is in the token, so publish it and be Ready.
	actionPublish issuerAction = iota
	// actionGenerate: make a self-signed CA in the token, then publish.
	actionGenerate
	// actionWait: the CA comes from the key server; report progress.
	actionWait
)

type issuerInput struct {
	SelfSign  bool
	HaveCA    bool
	CanQuote  bool
	Progress  Progress
	Namespace string
	Now       time.Time
}

type issuerDecision struct {
	Action       issuerAction
	Ready        metav1.ConditionStatus
	Reason       string
	Message      string
	RequeueAfter time.Duration
}

// decideIssuer chooses what to do with an issuer that is not being deleted,
// and the Ready condition that follows when the action succeeds.
func decideIssuer(in issuerInput) issuerDecision {
	switch {
	case in.HaveCA && in.SelfSign:
		return issuerDecision{Action: actionPublish, Ready: metav1.ConditionTrue,
			Reason: ReasonSelfSigned, Message: "The CA key is in the enclave and the CA certificate is published."}
	case in.HaveCA:
		return issuerDecision{Action: actionPublish, Ready: metav1.ConditionTrue,
			Reason: ReasonProvisioned, Message: "The CA key from the key server is in the enclave and the CA certificate is published."}
	case in.SelfSign:
		// NOTE: every replica has an enclave token of its own, so after a
		// change of leader a self-signed issuer gets a new CA. Run one
		// replica for self-signed issuers or provision the CA key.
		return issuerDecision{Action: actionGenerate, Ready: metav1.ConditionTrue,
			Reason: ReasonSelfSigned, Message: "The CA key is in the enclave and the CA certificate is published."}
	case !in.CanQuote:
		return issuerDecision{Action: actionWait, Ready: metav1.ConditionFalse,
			Reason: ReasonProvisioningFailure,
			Message: "No quoting backend is configured, so the CA key cannot be requested from a key server: " +
				"start tcs-issuer with --quoting or use selfSign: true."}
	}

	p := in.Progress
	switch p.Phase {
	case PhaseRequested:
		return issuerDecision{Action: actionWait, Ready: metav1.ConditionFalse, Reason: ReasonPending,
			Message: fmt.Sprintf("Waiting for the key server to respond to QuoteAttestation %s/%s.", in.Namespace, p.Request)}
	case PhaseFailed:
		wait := p.RetryAt.Sub(in.Now).Round(time.Second)
		if wait < 0 {
			wait = 0
		}
		return issuerDecision{Action: actionWait, Ready: metav1.ConditionFalse, Reason: p.Reason,
			Message: fmt.Sprintf("%s (attempt %d, next request in %s)", p.Message, p.Attempts, wait)}
	}
	return issuerDecision{Action: actionWait, Ready: metav1.ConditionFalse, Reason: ReasonPending,
		Message: "Requesting the CA key from the key server."}
}

// retryDelay is the wait after the given number of failed attempts in a
// row: initial, doubled for each further failure, at most max.
func retryDelay(attempts int, initial, max time.Duration) time.Duration {
	d := initial
	for i := 1; i < attempts; i++ {
		d *= 2
		if d >= max {
			return max
		}
	}
	return min(d, max)
}

// requestState contains what the provisioner uses of one QuoteAttestation
// of this operator.
type requestState struct {
	Name        string
	SignerNames []string
	Condition   *sgxv1alpha1.QuoteAttestationCondition
	// HasQuoteKey reports whether the token still holds the request's
	// quote key, without which no delivered key can be unwrapped.
	HasQuoteKey bool
}

type provisionInput struct {
	// Needed are the signers of issuers with selfSign false whose CA is
	// not in the token.
	Needed   []string
	Requests []requestState
	Progress map[string]Progress
	Now      time.Time
}

type provisionPlan struct {
	// Discard are requests to delete without using them: their quote key
	// is gone, or none of their signers needs a CA any more.
	Discard []string
	// Deliver are requests with the condition Success.
	Deliver []string
	// Fail are requests with the condition Failure.
	Fail []string
	// Pending maps signers to the pending request that covers them.
	Pending map[string]string
	// NewRequests are groups of signers to request now, each group one
	// QuoteAttestation of at most MaxSignerNames signers.
	NewRequests [][]string
	// RequeueAfter is the wait until the earliest retry, zero for none.
	RequeueAfter time.Duration
}

// planProvisioning decides what the provisioner does with the requests it
// finds. A signer is covered by at most one pending request: a new request
// is made only for signers that no pending request lists, that are not
// being handled in this pass and whose retry time has come.
func planProvisioning(in provisionInput) provisionPlan {
	plan := provisionPlan{Pending: make(map[string]string)}
	answered := make(map[string]bool)
	needed := func(s string) bool { return slices.Contains(in.Needed, s) }
	for _, r := range in.Requests {
		switch {
		case !r.HasQuoteKey:
			plan.Discard = append(plan.Discard, r.Name)
		case r.Condition == nil && !slices.ContainsFunc(r.SignerNames, needed):
			// Its issuers were deleted or got their CA another way.
			plan.Discard = append(plan.Discard, r.Name)
		case r.Condition == nil:
			for _, s := range r.SignerNames {
				if _, ok := plan.Pending[s]; !ok {
					plan.Pending[s] = r.Name
				}
			}
		case r.Condition.Type == sgxv1alpha1.ConditionSuccess:
			plan.Deliver = append(plan.Deliver, r.Name)
			for _, s := range r.SignerNames {
				answered[s] = true
			}
		default:
			plan.Fail = append(plan.Fail, r.Name)
			for _, s := range r.SignerNames {
				answered[s] = true
			}
		}
	}

	var group []string
	for _, s := range sortedUnique(in.Needed) {
		if _, ok := plan.Pending[s]; ok || answered[s] {
			continue
		}
		if p, ok := in.Progress[s]; ok && p.Phase == PhaseFailed && p.RetryAt.After(in.Now) {
			wait := p.RetryAt.Sub(in.Now)
			if plan.RequeueAfter == 0 || wait < plan.RequeueAfter {
				plan.RequeueAfter = wait
			}
			continue
		}
		group = append(group, s)
		if len(group) == sgxv1alpha1.MaxSignerNames {
			plan.NewRequests = append(plan.NewRequests, group)
			group = nil
		}
	}
	if len(group) > 0 {
		plan.NewRequests = append(plan.NewRequests, group)
	}
	return plan
}

func sortedUnique(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out)
}
