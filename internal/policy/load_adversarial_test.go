package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Hostile or broken policy text is rejected with ErrInvalidPolicy and a
// message, never a panic and never a policy.
func TestParseHostileYAML(t *testing.T) {
	rule := "{signers: [a], mrenclave: [" + hexA + "]}"
	cases := map[string]string{
		"deep nesting":         "rules: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		"deep mappings":        "rules:\n- " + strings.Repeat("{a: ", 5000) + "b" + strings.Repeat("}", 5000),
		"alias to itself":      "rules: &r [*r]",
		"unknown alias":        "rules: [*nowhere]",
		"alias as a key":       "x: &k name\nrules:\n- {*k : y, signers: [a], mrenclave: [" + hexA + "]}",
		"merge key":            "base: &b {signers: [a]}\nrules:\n- {<<: *b, mrenclave: [" + hexA + "]}",
		"NUL bytes":            "rules:\n- {signers: [\x00], mrenclave: [" + hexA + "]}",
		"binary garbage":       "\xff\xfe\x00\x01\x02\x03",
		"tabs for indentation": "rules:\n\t- " + rule,
		"two documents":        "rules: [" + rule + "]\n---\nrules: [" + rule + "]",
		"a list at the top":    "- " + rule,
		"a scalar at the top":  "rules",
		"null rules":           "rules: ~",
		"rules as a mapping":   "rules: {a: b}",
		"huge isvProdId":       "rules:\n- {signers: [a], mrenclave: [" + hexA + "], isvProdId: 99999999999999999999}",
		"negative minIsvSvn":   "rules:\n- {signers: [a], mrenclave: [" + hexA + "], minIsvSvn: -1}",
		"measurement too long": "rules:\n- {signers: [a], mrenclave: [" + hexA + "00]}",
		"measurement not hex":  "rules:\n- {signers: [a], mrenclave: [" + strings.Repeat("g", 64) + "]}",
		"bad duration":         "rules:\n- {signers: [a], mrenclave: [" + hexA + "], maxCollateralAge: 1000000000000h}",
		"unknown TCB status":   "rules:\n- {signers: [a], mrenclave: [" + hexA + "], tcbStatuses: [Fine]}",
		"empty signer":         "rules:\n- {signers: [\"\"], mrenclave: [" + hexA + "]}",
		"signer with newline":  "rules:\n- {signers: [\"a\\nb\"], mrenclave: [" + hexA + "]}",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			var p *Policy
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Parse panicked: %v", r)
					}
				}()
				p, err = Parse([]byte(text))
			}()
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("error %v, want one that wraps ErrInvalidPolicy", err)
			}
			if p != nil {
				t.Errorf("Parse returned a policy with %d rules for invalid text", len(p.Rules))
			}
		})
	}
}

// Load rejects paths that are not a readable policy file of bounded size.
func TestLoadHostilePaths(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxPolicySize)), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		path     string
		wantText string
	}{
		"larger than the limit": {big, "larger than the maximum"},
		"endless device":        {"/dev/zero", "not a regular file"},
		"directory":             {dir, "is a directory"},
		"missing":               {filepath.Join(dir, "absent.yaml"), "no such file"},
		"empty":                 {empty, "empty"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := Load(tc.path)
			if err == nil || p != nil {
				t.Fatalf("Load(%s) = %v, %v; want an error", tc.path, p, err)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not say %q", err, tc.wantText)
			}
		})
	}
}
