package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseBoundsAliasAmplification(t *testing.T) {
	const n = 500
	mrenclave := strings.Repeat("ab", 32)
	var b strings.Builder
	b.WriteString("rules:\n- {signers: &s [")
	b.WriteString(strings.Repeat(`" a",`, n))
	b.WriteString("], mrenclave: [" + mrenclave + "]}\n")
	for range n - 1 {
		b.WriteString("- {signers: *s, mrenclave: [" + mrenclave + "]}\n")
	}
	_, err := Parse([]byte(b.String()))
	if err == nil {
		t.Fatal("Parse accepted 500 invalid signer patterns")
	}
	if got := len(FieldErrors(err)); got > maxFieldErrors {
		t.Errorf("Parse listed %d field errors, want at most %d", got, maxFieldErrors)
	}
	if len(err.Error()) > 64<<10 {
		t.Errorf("the error message has %d bytes", len(err.Error()))
	}
}

func TestParseBoundsListItems(t *testing.T) {
	mrenclave := strings.Repeat("ab", 32)
	var b strings.Builder
	b.WriteString("rules:\n- {signers: &s [")
	b.WriteString(strings.Repeat(`a,`, 2000))
	b.WriteString("], mrenclave: [" + mrenclave + "]}\n")
	for range 100 {
		b.WriteString("- {signers: *s, mrenclave: [" + mrenclave + "]}\n")
	}
	_, err := Parse([]byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "list items") {
		t.Errorf("err = %v, want the list item limit", err)
	}
}

func TestLoadRejectsHugeDevelopmentRoot(t *testing.T) {
	dir := t.TempDir()
	huge := filepath.Join(dir, "root.pem")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	path := filepath.Join(dir, "policy.yaml")
	text := "developmentRoots: [" + huge + "]\nrules:\n- {signers: [a], mrenclave: [" + strings.Repeat("ab", 32) + "]}\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v, want a size limit error", err)
	}
}
