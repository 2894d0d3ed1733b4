package policy

import (
	"strings"
	"testing"
	"time"
)

var evalNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

const evalPolicy = `
rules:
  - name: strict
    signers: [tcsissuer.tcs.intel.com/prod.*]
    mrsigner: [` + hexA + `]
    mrenclave: [` + hexB + `]
    isvProdId: 1
    minIsvSvn: 2
    deniedAdvisoryIds: [INTEL-SA-00615]
    maxCollateralAge: 720h
  - name: dev
    signers: ["tcsissuer.tcs.intel.com/dev.*", tcsclusterissuer.tcs.intel.com/dev]
    mrenclave: [` + hexB + `]
    allowDebug: true
    tcbStatuses: [UpToDate, OutOfDate]
`

// goodEvidence passes the strict rule.
func goodEvidence() Evidence {
	return Evidence{
		MRSigner:            fill(0xaa),
		MREnclave:           fill(0xbb),
		ISVProdID:           1,
		ISVSVN:              2,
		TCBStatus:           "UpToDate",
		AdvisoryIDs:         []string{"INTEL-SA-00334"},
		CollateralIssueDate: evalNow.Add(-24 * time.Hour),
	}
}

func mustParse(t *testing.T, text string) *Policy {
	t.Helper()
	p, err := Parse([]byte(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func TestEvaluateReasons(t *testing.T) {
	p := mustParse(t, evalPolicy)
	tests := map[string]struct {
		signer string
		change func(*Evidence)
		reason Reason
		rule   string
		want   string
	}{
		"allowed": {
			reason: ReasonAllowed, rule: "strict", want: "released under rule",
		},
		"unknown signer": {
			signer: "tcsissuer.tcs.intel.com/other.ca", reason: ReasonUnknownSigner,
			want: `"tcsissuer.tcs.intel.com/other.ca" matches no rule`,
		},
		"revoked": {
			change: func(ev *Evidence) { ev.TCBStatus = "Revoked" }, reason: ReasonTCBRevoked,
			want: "Revoked",
		},
		"revoked unknown signer": {
			signer: "nobody", change: func(ev *Evidence) { ev.TCBStatus = "Revoked" },
			reason: ReasonTCBRevoked, want: "Revoked",
		},
		"debug": {
			change: func(ev *Evidence) { ev.Debug = true }, reason: ReasonDebugEnclave, rule: "strict",
			want: "debug enclave",
		},
		"mrsigner": {
			change: func(ev *Evidence) { ev.MRSigner = fill(0x01) }, reason: ReasonEnclaveNotAllowed,
			rule: "strict", want: "MRSIGNER " + strings.Repeat("01", 32),
		},
		"mrenclave": {
			change: func(ev *Evidence) { ev.MREnclave = fill(0x02) }, reason: ReasonEnclaveNotAllowed,
			rule: "strict", want: "MRENCLAVE " + strings.Repeat("02", 32),
		},
		"isvprodid": {
			change: func(ev *Evidence) { ev.ISVProdID = 9 }, reason: ReasonEnclaveNotAllowed,
			rule: "strict", want: "ISVPRODID 9 differs from 1",
		},
		"isvsvn": {
			change: func(ev *Evidence) { ev.ISVSVN = 1 }, reason: ReasonEnclaveNotAllowed,
			rule: "strict", want: "ISVSVN 1 is below 2",
		},
		"isvsvn above minimum": {
			change: func(ev *Evidence) { ev.ISVSVN = 9 }, reason: ReasonAllowed, rule: "strict",
			want: "released",
		},
		"tcb status": {
			change: func(ev *Evidence) { ev.TCBStatus = "OutOfDate" }, reason: ReasonTCBStatusNotAccepted,
			rule: "strict", want: `"OutOfDate" is not accepted`,
		},
		"default accepts sw hardening": {
			change: func(ev *Evidence) { ev.TCBStatus = "SWHardeningNeeded" }, reason: ReasonAllowed,
			rule: "strict", want: "SWHardeningNeeded",
		},
		"default rejects configuration": {
			change: func(ev *Evidence) { ev.TCBStatus = "ConfigurationNeeded" },
			reason: ReasonTCBStatusNotAccepted, rule: "strict", want: "ConfigurationNeeded",
		},
		"advisory": {
			change: func(ev *Evidence) { ev.AdvisoryIDs = []string{"INTEL-SA-00334", "intel-sa-00615"} },
			reason: ReasonAdvisoryDenied, rule: "strict", want: "advisory intel-sa-00615",
		},
		"collateral old": {
			change: func(ev *Evidence) { ev.CollateralIssueDate = evalNow.Add(-721 * time.Hour) },
			reason: ReasonCollateralTooOld, rule: "strict", want: "721h0m0s before",
		},
		"collateral at limit": {
			change: func(ev *Evidence) { ev.CollateralIssueDate = evalNow.Add(-720 * time.Hour) },
			reason: ReasonAllowed, rule: "strict", want: "released",
		},
		"collateral no date": {
			change: func(ev *Evidence) { ev.CollateralIssueDate = time.Time{} },
			reason: ReasonCollateralTooOld, rule: "strict", want: "no issue date",
		},
		"dev rule debug": {
			signer: "tcsclusterissuer.tcs.intel.com/dev",
			change: func(ev *Evidence) { ev.Debug = true; ev.MRSigner = fill(0x09) },
			reason: ReasonAllowed, rule: "dev", want: "released",
		},
		"dev rule out of date no age limit": {
			signer: "tcsissuer.tcs.intel.com/dev.ca",
			change: func(ev *Evidence) { ev.TCBStatus = "OutOfDate"; ev.CollateralIssueDate = time.Time{} },
			reason: ReasonAllowed, rule: "dev", want: "OutOfDate",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ev := goodEvidence()
			if tt.change != nil {
				tt.change(&ev)
			}
			signer := tt.signer
			if signer == "" {
				signer = "tcsissuer.tcs.intel.com/prod.ca"
			}
			got := p.Evaluate(signer, ev, evalNow)
			if got.Reason != tt.reason {
				t.Fatalf("reason = %s, want %s (%s)", got.Reason, tt.reason, got.Message)
			}
			if got.Allowed != (tt.reason == ReasonAllowed) {
				t.Errorf("Allowed = %v with reason %s", got.Allowed, got.Reason)
			}
			if got.Rule != tt.rule {
				t.Errorf("rule = %q, want %q", got.Rule, tt.rule)
			}
			if !strings.Contains(got.Message, tt.want) {
				t.Errorf("message %q does not contain %q", got.Message, tt.want)
			}
			if !strings.HasSuffix(got.Message, ".") {
				t.Errorf("message %q is not a sentence", got.Message)
			}
		})
	}
}

func TestEvaluateFirstRuleWins(t *testing.T) {
	p := mustParse(t, `
rules:
  - name: narrow
    signers: [tcsissuer.tcs.intel.com/default.special]
    mrenclave: [`+hexB+`]
  - name: broad
    signers: ["tcsissuer.tcs.intel.com/*"]
    mrenclave: [`+hexA+`]
`)
	ev := goodEvidence()
	ev.MREnclave = fill(0xaa)

	// The narrow rule matches first and rejects, and the broad rule that
	// would allow this enclave is not tried.
	got := p.Evaluate("tcsissuer.tcs.intel.com/default.special", ev, evalNow)
	if got.Reason != ReasonEnclaveNotAllowed || got.Rule != "narrow" {
		t.Errorf("decision = %s by %q, want EnclaveNotAllowed by narrow", got.Reason, got.Rule)
	}
	got = p.Evaluate("tcsissuer.tcs.intel.com/default.other", ev, evalNow)
	if !got.Allowed || got.Rule != "broad" {
		t.Errorf("decision = %s by %q, want Allowed by broad", got.Reason, got.Rule)
	}
}

func TestEvaluateDevelopmentRootNote(t *testing.T) {
	p := mustParse(t, evalPolicy)
	ev := goodEvidence()
	ev.DevelopmentRoot = true
	ev.TrustedRoot = "TCS Development Root"
	for _, signer := range []string{"tcsissuer.tcs.intel.com/prod.ca", "unknown"} {
		got := p.Evaluate(signer, ev, evalNow)
		if !strings.Contains(got.Message, `development root "TCS Development Root"`) {
			t.Errorf("message %q does not name the development root", got.Message)
		}
	}
}

func TestMatchGlob(t *testing.T) {
	tests := map[string]struct {
		pattern, name string
		match         bool
	}{
		"exact":               {"tcsissuer.tcs.intel.com/default.ca", "tcsissuer.tcs.intel.com/default.ca", true},
		"exact differs":       {"tcsissuer.tcs.intel.com/default.ca", "tcsissuer.tcs.intel.com/default.cb", false},
		"exact prefix":        {"tcsissuer.tcs.intel.com/default.ca", "tcsissuer.tcs.intel.com/default.ca2", false},
		"suffix star":         {"tcsissuer.tcs.intel.com/default.*", "tcsissuer.tcs.intel.com/default.ca", true},
		"suffix star empty":   {"tcsissuer.tcs.intel.com/default.*", "tcsissuer.tcs.intel.com/default.", true},
		"suffix star other":   {"tcsissuer.tcs.intel.com/default.*", "tcsissuer.tcs.intel.com/prod.ca", false},
		"star crosses slash":  {"*/default.ca", "tcsissuer.tcs.intel.com/default.ca", true},
		"middle star":         {"tcs*issuer.tcs.intel.com/*", "tcsclusterissuer.tcs.intel.com/ca", true},
		"middle star miss":    {"tcs*issuer.tcs.intel.com/*", "tcsclusterissuer.example.com/ca", false},
		"only star":           {"*", "anything/at.all", true},
		"double star":         {"a**b", "axxb", true},
		"backtrack":           {"*a.b", "a.a.b", true},
		"backtrack miss":      {"*a.c", "a.a.b", false},
		"question is literal": {"a?c", "abc", false},
		"bracket is literal":  {"a[b]c", "a[b]c", true},
		"empty name":          {"a*", "", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := matchGlob(tt.pattern, tt.name); got != tt.match {
				t.Errorf("matchGlob(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.match)
			}
		})
	}
}
