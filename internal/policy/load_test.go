package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hexB = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
)

func TestParseFull(t *testing.T) {
	p, err := Parse([]byte(`
developmentRoots:
  - /etc/tcs/dev-root.pem
rules:
  - name: default issuers
    signers:
      - tcsissuer.tcs.intel.com/default.*
      - tcsclusterissuer.tcs.intel.com/ca
    mrsigner: [` + hexA + `]
    mrenclave:
      - ` + hexB + `
    isvProdId: 7
    minIsvSvn: 3
    allowDebug: true
    tcbStatuses: [UpToDate, OutOfDate, UpToDate]
    deniedAdvisoryIds: [intel-sa-00615, INTEL-SA-00334]
    maxCollateralAge: 720h
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(p.Rules) != 1 {
		t.Fatalf("%d rules, want 1", len(p.Rules))
	}
	rule := p.Rules[0]
	if rule.Name != "default issuers" {
		t.Errorf("Name = %q", rule.Name)
	}
	if rule.Line != 5 {
		t.Errorf("Line = %d, want 5", rule.Line)
	}
	wantSigners := []string{"tcsissuer.tcs.intel.com/default.*", "tcsclusterissuer.tcs.intel.com/ca"}
	if !slices.Equal(rule.Signers, wantSigners) {
		t.Errorf("Signers = %v, want %v", rule.Signers, wantSigners)
	}
	if len(rule.MRSigners) != 1 || rule.MRSigners[0] != fill(0xaa) {
		t.Errorf("MRSigners = %x", rule.MRSigners)
	}
	if len(rule.MREnclaves) != 1 || rule.MREnclaves[0] != fill(0xbb) {
		t.Errorf("MREnclaves = %x", rule.MREnclaves)
	}
	if rule.ISVProdID == nil || *rule.ISVProdID != 7 {
		t.Errorf("ISVProdID = %v, want 7", rule.ISVProdID)
	}
	if rule.MinISVSVN != 3 {
		t.Errorf("MinISVSVN = %d, want 3", rule.MinISVSVN)
	}
	if !rule.AllowDebug {
		t.Errorf("AllowDebug = false")
	}
	if want := []string{"UpToDate", "OutOfDate"}; !slices.Equal(rule.TCBStatuses, want) {
		t.Errorf("TCBStatuses = %v, want %v", rule.TCBStatuses, want)
	}
	if want := []string{"INTEL-SA-00615", "INTEL-SA-00334"}; !slices.Equal(rule.DeniedAdvisoryIDs, want) {
		t.Errorf("DeniedAdvisoryIDs = %v, want %v", rule.DeniedAdvisoryIDs, want)
	}
	if rule.MaxCollateralAge != 720*time.Hour {
		t.Errorf("MaxCollateralAge = %s, want 720h", rule.MaxCollateralAge)
	}
	if want := []string{"/etc/tcs/dev-root.pem"}; !slices.Equal(p.DevelopmentRootPaths, want) {
		t.Errorf("DevelopmentRootPaths = %v, want %v", p.DevelopmentRootPaths, want)
	}
	if len(p.DevelopmentRoots) != 0 {
		t.Errorf("Parse read %d development roots, want none", len(p.DevelopmentRoots))
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "debug enclaves") {
		t.Errorf("Warnings = %q, want one about debug enclaves", p.Warnings)
	}
}

func TestParseDefaults(t *testing.T) {
	p, err := Parse([]byte(`
rules:
  - signers: [a]
    mrenclave: [` + hexA + `]
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	rule := p.Rules[0]
	if rule.Name != "rules[0]" {
		t.Errorf("Name = %q, want rules[0]", rule.Name)
	}
	if !slices.Equal(rule.TCBStatuses, DefaultTCBStatuses) {
		t.Errorf("TCBStatuses = %v, want %v", rule.TCBStatuses, DefaultTCBStatuses)
	}
	if rule.AllowDebug {
		t.Errorf("AllowDebug = true, want false")
	}
	if rule.ISVProdID != nil {
		t.Errorf("ISVProdID = %d, want unset", *rule.ISVProdID)
	}
	if rule.MinISVSVN != 0 {
		t.Errorf("MinISVSVN = %d, want 0", rule.MinISVSVN)
	}
	if rule.MaxCollateralAge != 0 {
		t.Errorf("MaxCollateralAge = %s, want 0", rule.MaxCollateralAge)
	}
	if len(p.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", p.Warnings)
	}

	// The default list is copied, so changing one rule's list leaves the
	// default alone.
	rule.TCBStatuses[0] = "changed"
	if DefaultTCBStatuses[0] != "UpToDate" {
		t.Errorf("DefaultTCBStatuses changed through a rule")
	}
}

func TestParseAliases(t *testing.T) {
	p, err := Parse([]byte(`
rules:
  - signers: [a]
    mrsigner: &signers [` + hexA + `]
    isvProdId: 1
  - signers: [b]
    mrsigner: *signers
    isvProdId: 2
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(p.Rules[1].MRSigners) != 1 || p.Rules[1].MRSigners[0] != fill(0xaa) {
		t.Errorf("alias MRSigners = %x", p.Rules[1].MRSigners)
	}
}

// validRule is a valid policy of one rule that ends inside the rule, so an
// error case can append one more rule field at line 5.
const validRule = `
rules:
  - signers: [tcsissuer.tcs.intel.com/default.*]
    mrenclave: [` + hexA + `]
`

func TestParseErrors(t *testing.T) {
	tests := map[string]struct {
		yaml  string
		line  int
		field string
		want  string
	}{
		"unknown top field": {
			yaml: "rule:\n  - signers: [a]\n", line: 1, field: "rule", want: "unknown field",
		},
		"unknown rule field": {
			yaml: validRule + "    mrsigners: [" + hexA + "]\n", line: 5, field: "rules[0].mrsigners",
			want: "unknown field",
		},
		"bad hex": {
			yaml: validRule + "    mrsigner: [" + strings.Repeat("zz", 32) + "]\n    isvProdId: 1\n",
			line: 5, field: "rules[0].mrsigner[0]", want: "not hex",
		},
		"short hex": {
			yaml: "rules:\n  - signers: [a]\n    mrenclave:\n      - abcd\n",
			line: 4, field: "rules[0].mrenclave[0]", want: "expected 64 hex digits",
		},
		"unknown status": {
			yaml: validRule + "    tcbStatuses: [UpToDate, Fine]\n", line: 5,
			field: "rules[0].tcbStatuses[1]", want: `unknown TCB status "Fine"`,
		},
		"status case": {
			yaml: validRule + "    tcbStatuses: [uptodate]\n", line: 5,
			field: "rules[0].tcbStatuses[0]", want: "did you mean UpToDate?",
		},
		"revoked listed": {
			yaml: validRule + "    tcbStatuses:\n      - UpToDate\n      - Revoked\n", line: 7,
			field: "rules[0].tcbStatuses[1]", want: "Revoked can never be accepted",
		},
		"empty statuses": {
			yaml: validRule + "    tcbStatuses: []\n", line: 5, field: "rules[0].tcbStatuses",
			want: "accept no platform",
		},
		"prod id range": {
			yaml: validRule + "    isvProdId: 70000\n", line: 5, field: "rules[0].isvProdId",
			want: "70000 is out of range",
		},
		"prod id negative": {
			yaml: validRule + "    isvProdId: -1\n", line: 5, field: "rules[0].isvProdId",
			want: "out of range",
		},
		"svn string": {
			yaml: validRule + "    minIsvSvn: two\n", line: 5, field: "rules[0].minIsvSvn",
			want: `"two" is not an integer`,
		},
		"debug yes": {
			yaml: validRule + "    allowDebug: yes\n", line: 5, field: "rules[0].allowDebug",
			want: "expected true or false",
		},
		"bad duration": {
			yaml: validRule + "    maxCollateralAge: 30d\n", line: 5, field: "rules[0].maxCollateralAge",
			want: `"30d" is not a positive duration`,
		},
		"negative duration": {
			yaml: validRule + "    maxCollateralAge: -1h\n", line: 5, field: "rules[0].maxCollateralAge",
			want: "not a positive duration",
		},
		"bad advisory": {
			yaml: validRule + "    deniedAdvisoryIds: [SA 615]\n", line: 5,
			field: "rules[0].deniedAdvisoryIds[0]", want: "not an advisory ID",
		},
		"missing signers": {
			yaml: "rules:\n  - mrenclave: [" + hexA + "]\n", line: 2, field: "rules[0].signers",
			want: "missing",
		},
		"empty signers": {
			yaml: "rules:\n  - signers: []\n    mrenclave: [" + hexA + "]\n", line: 2,
			field: "rules[0].signers", want: "empty",
		},
		"signers scalar": {
			yaml: "rules:\n  - signers: a\n    mrenclave: [" + hexA + "]\n", line: 2,
			field: "rules[0].signers", want: "expected a list",
		},
		"pattern space": {
			yaml: "rules:\n  - signers: [\"a b\"]\n    mrenclave: [" + hexA + "]\n", line: 2,
			field: "rules[0].signers[0]", want: "white space",
		},
		"no identity": {
			yaml: "rules:\n  - signers: [a]\n    minIsvSvn: 1\n", line: 2, field: "rules[0]",
			want: "no mrsigner and no mrenclave",
		},
		"mrsigner without prod id": {
			yaml: "rules:\n  - signers: [a]\n    mrsigner: [" + hexA + "]\n", line: 2,
			field: "rules[0].isvProdId", want: "must set isvProdId",
		},
		"duplicate field": {
			yaml: validRule + "    mrenclave: [" + hexA + "]\n", line: 5, field: "rules[0].mrenclave",
			want: "duplicate field, first set on line 4",
		},
		"merge key": {
			yaml: "rules:\n  - &first\n    signers: [a]\n    mrenclave: [" + hexA + "]\n" +
				"  - <<: *first\n    signers: [b]\n",
			line: 5, field: "rules[1]", want: "merge keys",
		},
		"rule not mapping": {
			yaml: "rules:\n  - just a string\n", line: 2, field: "rules[0]", want: "expected a mapping",
		},
		"rules not list": {
			yaml: "rules: {}\n", line: 1, field: "rules", want: "expected a list",
		},
		"no rules": {
			yaml: "rules: []\n", line: 1, field: "rules", want: "no rules",
		},
		"empty name": {
			yaml: validRule + "    name: \"\"\n", line: 5, field: "rules[0].name", want: "empty",
		},
		"null name": {
			yaml: validRule + "    name:\n", line: 5, field: "rules[0].name", want: "null",
		},
		"root path not string": {
			yaml: validRule + "developmentRoots: [[a]]\n", line: 5, field: "developmentRoots[0]",
			want: "expected a string",
		},
		"top scalar": {
			yaml: "just text\n", line: 1, want: "expected a mapping",
		},
		"second document": {
			yaml: validRule + "---\nrules: []\n", line: 5, want: "second YAML document",
		},
		"empty file": {
			yaml: "", want: "empty",
		},
		"comment only": {
			yaml: "# nothing yet\n", want: "empty",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want an error containing %q", tt.want)
			}
			fieldErrs := FieldErrors(err)
			if len(fieldErrs) != 1 {
				t.Fatalf("%d field errors, want 1: %v", len(fieldErrs), err)
			}
			got := fieldErrs[0]
			if got.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", got.Line, tt.line, got)
			}
			if got.Field != tt.field {
				t.Errorf("field = %q, want %q (%v)", got.Field, tt.field, got)
			}
			if !strings.Contains(got.Message, tt.want) {
				t.Errorf("message %q does not contain %q", got.Message, tt.want)
			}
			if tt.line > 0 && !strings.Contains(err.Error(), "line ") {
				t.Errorf("error %q does not name the line", err)
			}
		})
	}
}

func TestParseSyntaxError(t *testing.T) {
	_, err := Parse([]byte("rules:\n  - signers: [a\n    mrenclave: x\n"))
	if err == nil {
		t.Fatal("Parse succeeded on broken YAML")
	}
	if !strings.Contains(err.Error(), "line ") {
		t.Errorf("error %q does not name the line", err)
	}
}

func TestParseAllErrors(t *testing.T) {
	_, err := Parse([]byte(`
rules:
  - signers: [a]
    mrenclave: [nothex]
    colour: blue
  - signers: [b]
    mrenclave: [` + hexA + `]
    tcbStatuses: [Revoked]
`))
	var lines []int
	for _, fieldErr := range FieldErrors(err) {
		lines = append(lines, fieldErr.Line)
	}
	if want := []int{4, 5, 8}; !slices.Equal(lines, want) {
		t.Errorf("error lines = %v, want %v: %v", lines, want, err)
	}
}

func TestFieldErrorMessage(t *testing.T) {
	err := &FieldError{File: "policy.yaml", Line: 12, Field: "rules[0].mrsigner[1]", Message: "bad"}
	if got, want := err.Error(), "policy.yaml:12: rules[0].mrsigner[1]: bad"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	err = &FieldError{Line: 3, Field: "rules", Message: "bad"}
	if got, want := err.Error(), "line 3: rules: bad"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	err = &FieldError{Message: "the policy is empty"}
	if got, want := err.Error(), "policy: the policy is empty"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(validRule))
	f.Add([]byte("rules:\n  - signers: [a]\n    mrsigner: &x [" + hexA + "]\n    isvProdId: 1\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err == nil && len(p.Rules) == 0 {
			t.Fatalf("accepted a policy without rules")
		}
	})
}

func fill(b byte) [32]byte {
	var v [32]byte
	for i := range v {
		v[i] = b
	}
	return v
}
