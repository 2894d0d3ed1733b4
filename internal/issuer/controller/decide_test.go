package controller

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
)

func TestDecideIssuer(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := map[string]struct {
		in        issuerInput
		action    issuerAction
		ready     metav1.ConditionStatus
		reason    string
		inMessage string
	}{
		"self-signed with CA": {
			in:     issuerInput{SelfSign: true, HaveCA: true},
			action: actionPublish, ready: metav1.ConditionTrue, reason: ReasonSelfSigned,
		},
		"self-signed without CA": {
			in:     issuerInput{SelfSign: true},
			action: actionGenerate, ready: metav1.ConditionTrue, reason: ReasonSelfSigned,
		},
		"provisioned CA in token": {
			in:     issuerInput{HaveCA: true},
			action: actionPublish, ready: metav1.ConditionTrue, reason: ReasonProvisioned,
		},
		"provisioned CA without quoting": {
			in:     issuerInput{HaveCA: true, CanQuote: false},
			action: actionPublish, ready: metav1.ConditionTrue, reason: ReasonProvisioned,
		},
		"no quoting backend": {
			in:     issuerInput{},
			action: actionWait, ready: metav1.ConditionFalse, reason: ReasonProvisioningFailure,
			inMessage: "--quoting",
		},
		"nothing requested yet": {
			in:     issuerInput{CanQuote: true},
			action: actionWait, ready: metav1.ConditionFalse, reason: ReasonPending,
		},
		"request pending": {
			in: issuerInput{CanQuote: true, Namespace: "ops",
				Progress: Progress{Phase: PhaseRequested, Request: "tcs-issuer-1"}},
			action: actionWait, ready: metav1.ConditionFalse, reason: ReasonPending,
			inMessage: "ops/tcs-issuer-1",
		},
		"key server failure": {
			in: issuerInput{CanQuote: true, Now: now, Progress: Progress{Phase: PhaseFailed,
				Reason: sgxv1alpha1.StatePolicyDenied, Message: "The key server rejected the request: no.",
				Attempts: 2, RetryAt: now.Add(20 * time.Second)}},
			action: actionWait, ready: metav1.ConditionFalse, reason: sgxv1alpha1.StatePolicyDenied,
			inMessage: "attempt 2, next request in 20s",
		},
		"failure past retry time": {
			in: issuerInput{CanQuote: true, Now: now, Progress: Progress{Phase: PhaseFailed,
				Reason: ReasonDeliveryRejected, Message: "Bad receipt.", Attempts: 1, RetryAt: now.Add(-time.Second)}},
			action: actionWait, ready: metav1.ConditionFalse, reason: ReasonDeliveryRejected,
			inMessage: "next request in 0s",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := decideIssuer(tc.in)
			if d.Action != tc.action {
				t.Errorf("action = %v, want %v", d.Action, tc.action)
			}
			if d.Ready != tc.ready {
				t.Errorf("ready = %s, want %s", d.Ready, tc.ready)
			}
			if d.Reason != tc.reason {
				t.Errorf("reason = %s, want %s", d.Reason, tc.reason)
			}
			if !strings.Contains(d.Message, tc.inMessage) {
				t.Errorf("message = %q, want it to contain %q", d.Message, tc.inMessage)
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	tests := map[string]struct {
		attempts int
		want     time.Duration
	}{
		"first":      {1, 10 * time.Second},
		"second":     {2, 20 * time.Second},
		"fourth":     {4, 80 * time.Second},
		"capped":     {10, 2 * time.Minute},
		"many":       {1000, 2 * time.Minute},
		"zero count": {0, 10 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := retryDelay(tc.attempts, 10*time.Second, 2*time.Minute); got != tc.want {
				t.Errorf("retryDelay(%d) = %s, want %s", tc.attempts, got, tc.want)
			}
		})
	}
}

func TestPlanProvisioning(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	success := &sgxv1alpha1.QuoteAttestationCondition{Type: sgxv1alpha1.ConditionSuccess}
	failure := &sgxv1alpha1.QuoteAttestationCondition{Type: sgxv1alpha1.ConditionFailure}
	tests := map[string]struct {
		in          provisionInput
		discard     []string
		deliver     []string
		fail        []string
		newRequests [][]string
		requeue     time.Duration
	}{
		"nothing needed": {},
		"one request for all": {
			in:          provisionInput{Needed: []string{"b", "a", "a"}},
			newRequests: [][]string{{"a", "b"}},
		},
		"pending covers its signers": {
			in: provisionInput{Needed: []string{"a", "b"},
				Requests: []requestState{{Name: "r1", SignerNames: []string{"a"}, HasQuoteKey: true}}},
			newRequests: [][]string{{"b"}},
		},
		"lost quote key is replaced": {
			in: provisionInput{Needed: []string{"a"},
				Requests: []requestState{{Name: "r1", SignerNames: []string{"a"}}}},
			discard:     []string{"r1"},
			newRequests: [][]string{{"a"}},
		},
		"success is delivered, not requested again": {
			in: provisionInput{Needed: []string{"a"},
				Requests: []requestState{{Name: "r1", SignerNames: []string{"a"}, Condition: success, HasQuoteKey: true}}},
			deliver: []string{"r1"},
		},
		"failure waits for the retry": {
			in: provisionInput{Needed: []string{"a"},
				Requests: []requestState{{Name: "r1", SignerNames: []string{"a"}, Condition: failure, HasQuoteKey: true}}},
			fail: []string{"r1"},
		},
		"backoff holds a failed signer": {
			in: provisionInput{Needed: []string{"a", "b"}, Now: now,
				Progress: map[string]Progress{"a": {Phase: PhaseFailed, RetryAt: now.Add(30 * time.Second)}}},
			newRequests: [][]string{{"b"}},
			requeue:     30 * time.Second,
		},
		"retry time has come": {
			in: provisionInput{Needed: []string{"a"}, Now: now,
				Progress: map[string]Progress{"a": {Phase: PhaseFailed, RetryAt: now}}},
			newRequests: [][]string{{"a"}},
		},
		"pending request for deleted issuers": {
			in: provisionInput{Needed: []string{"b"}, Requests: []requestState{
				{Name: "r1", SignerNames: []string{"a"}, HasQuoteKey: true}}},
			discard:     []string{"r1"},
			newRequests: [][]string{{"b"}},
		},
		"pending request partly needed": {
			in: provisionInput{Needed: []string{"b"}, Requests: []requestState{
				{Name: "r1", SignerNames: []string{"a", "b"}, HasQuoteKey: true}}},
		},
		"answered request for a signer no longer needed": {
			in: provisionInput{Requests: []requestState{
				{Name: "r1", SignerNames: []string{"gone"}, Condition: success, HasQuoteKey: true}}},
			deliver: []string{"r1"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := planProvisioning(tc.in)
			if !slices.Equal(p.Discard, tc.discard) {
				t.Errorf("discard = %v, want %v", p.Discard, tc.discard)
			}
			if !slices.Equal(p.Deliver, tc.deliver) {
				t.Errorf("deliver = %v, want %v", p.Deliver, tc.deliver)
			}
			if !slices.Equal(p.Fail, tc.fail) {
				t.Errorf("fail = %v, want %v", p.Fail, tc.fail)
			}
			if !slices.EqualFunc(p.NewRequests, tc.newRequests, slices.Equal) {
				t.Errorf("new requests = %v, want %v", p.NewRequests, tc.newRequests)
			}
			if p.RequeueAfter != tc.requeue {
				t.Errorf("requeue after = %s, want %s", p.RequeueAfter, tc.requeue)
			}
		})
	}
}

func TestPlanProvisioningSplitsLargeGroups(t *testing.T) {
	var needed []string
	for i := range sgxv1alpha1.MaxSignerNames + 3 {
		needed = append(needed, string(rune('A'+i/26))+string(rune('a'+i%26)))
	}
	p := planProvisioning(provisionInput{Needed: needed})
	if len(p.NewRequests) != 2 {
		t.Fatalf("%d requests, want 2", len(p.NewRequests))
	}
	if n := len(p.NewRequests[0]); n != sgxv1alpha1.MaxSignerNames {
		t.Errorf("first request has %d signers, want %d", n, sgxv1alpha1.MaxSignerNames)
	}
	if n := len(p.NewRequests[1]); n != 3 {
		t.Errorf("second request has %d signers, want 3", n)
	}
}

func TestParseSignerName(t *testing.T) {
	tests := map[string]struct {
		name string
		want IssuerKey
		ok   bool
	}{
		"issuer":             {"tcsissuer.tcs.intel.com/ns.ca", IssuerKey{"TCSIssuer", types.NamespacedName{Namespace: "ns", Name: "ca"}}, true},
		"issuer dotted name": {"tcsissuer.tcs.intel.com/ns.ca.v2", IssuerKey{"TCSIssuer", types.NamespacedName{Namespace: "ns", Name: "ca.v2"}}, true},
		"cluster issuer":     {"tcsclusterissuer.tcs.intel.com/ca", IssuerKey{"TCSClusterIssuer", types.NamespacedName{Name: "ca"}}, true},
		"issuer no dot":      {"tcsissuer.tcs.intel.com/ca", IssuerKey{}, false},
		"issuer empty name":  {"tcsissuer.tcs.intel.com/ns.", IssuerKey{}, false},
		"cluster empty":      {"tcsclusterissuer.tcs.intel.com/", IssuerKey{}, false},
		"cluster slash":      {"tcsclusterissuer.tcs.intel.com/a/b", IssuerKey{}, false},
		"other signer":       {"kubernetes.io/kube-apiserver-client", IssuerKey{}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := ParseSignerName(tc.name)
			if ok != tc.ok || got != tc.want {
				t.Errorf("ParseSignerName(%q) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestSentence(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"lower case": {"token failed", "Token failed."},
		"full stop":  {"already a sentence.", "Already a sentence."},
		"upper case": {"PKCS#11 failed", "PKCS#11 failed."},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := sentence(errString(tc.in)); got != tc.want {
				t.Errorf("sentence(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }
