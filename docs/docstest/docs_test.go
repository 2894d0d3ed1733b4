// Package docstest checks that the operator documentation under docs/
// matches the code it describes: the state codes, the metrics, the policy
// examples and the links between pages.
package docstest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tcs-project/tcs/internal/policy"
	"github.com/tcs-project/tcs/internal/testenv"
)

func root(t *testing.T) string {
	t.Helper()
	dir, err := testenv.RepositoryRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func readDoc(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root(t), "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// stringConstants returns the values of the string constants in a Go file
// of the repository whose names start with prefix.
func stringConstants(t *testing.T, relPath, prefix string) []string {
	t.Helper()
	path := filepath.Join(root(t), relPath)
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			value := spec.(*ast.ValueSpec)
			for i, name := range value.Names {
				if !strings.HasPrefix(name.Name, prefix) || i >= len(value.Values) {
					continue
				}
				lit, ok := value.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s is not a string literal", name.Name)
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				states = append(states, s)
			}
		}
	}
	if len(states) == 0 {
		t.Fatalf("no %s constants in %s", prefix, path)
	}
	return states
}

func TestStatesDocumented(t *testing.T) {
	want := stringConstants(t, "api/sgx/v1alpha1/states.go", "State")
	var got []string
	for _, line := range strings.Split(readDoc(t, "states.md"), "\n") {
		if name, ok := strings.CutPrefix(line, "### "); ok {
			got = append(got, strings.TrimSpace(name))
		}
	}
	for _, s := range want {
		if n := count(got, s); n != 1 {
			t.Errorf("docs/states.md has %d sections for state %s, want 1", n, s)
		}
	}
	for _, s := range got {
		if !slices.Contains(want, s) {
			t.Errorf("docs/states.md documents %s, which api/sgx/v1alpha1/states.go does not define", s)
		}
	}
}

func TestIssuerReasonsDocumented(t *testing.T) {
	doc := readDoc(t, "states.md")
	for _, reason := range stringConstants(t, "internal/issuer/controller/config.go", "Reason") {
		if !strings.Contains(doc, "| `"+reason+"` |") {
			t.Errorf("docs/states.md has no table row for the issuer reason %s", reason)
		}
	}
}

// Patterns over the text of one prometheus.New... call, up to the next
// one: the metric's name and, for vectors, its label names.
var (
	metricName   = regexp.MustCompile(`Name:\s+"(tcs_[a-z_]+)"`)
	metricLabels = regexp.MustCompile(`\[\]string\{([^}]*)\}`)
	quoted       = regexp.MustCompile(`"([^"]*)"`)
)

// sourceMetrics returns each metric defined in the file with its sorted
// label names.
func sourceMetrics(t *testing.T, file string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root(t), file))
	if err != nil {
		t.Fatal(err)
	}
	metrics := map[string][]string{}
	for _, block := range strings.Split(string(data), "prometheus.New")[1:] {
		name := metricName.FindStringSubmatch(block)
		if name == nil {
			continue
		}
		labels := []string{}
		if m := metricLabels.FindStringSubmatch(block); m != nil {
			for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
				labels = append(labels, q[1])
			}
		}
		sort.Strings(labels)
		metrics[name[1]] = labels
	}
	if len(metrics) == 0 {
		t.Fatalf("no metrics found in %s", file)
	}
	return metrics
}

var backticked = regexp.MustCompile("`([^`]+)`")

// withoutParentheses drops every parenthesized part, nested ones included.
func withoutParentheses(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// documentedMetrics returns the metrics of the table rows of docs/metrics.md
// with their sorted label names.
func documentedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	metrics := map[string][]string{}
	for _, line := range strings.Split(readDoc(t, "metrics.md"), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`tcs_") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		labels := []string{}
		for _, m := range backticked.FindAllStringSubmatch(withoutParentheses(cells[3]), -1) {
			labels = append(labels, m[1])
		}
		sort.Strings(labels)
		metrics[name] = labels
	}
	return metrics
}

func TestMetricsDocumented(t *testing.T) {
	want := sourceMetrics(t, "internal/keyserver/metrics.go")
	for name, labels := range sourceMetrics(t, "internal/issuer/metrics/metrics.go") {
		want[name] = labels
	}
	got := documentedMetrics(t)
	for name, labels := range want {
		doc, ok := got[name]
		if !ok {
			t.Errorf("docs/metrics.md does not document %s", name)
			continue
		}
		if !slices.Equal(doc, labels) {
			t.Errorf("docs/metrics.md gives %s the labels %v, the code %v", name, doc, labels)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("docs/metrics.md documents %s, which no metrics.go defines", name)
		}
	}
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

func TestPolicyExamplesParse(t *testing.T) {
	blocks := yamlBlock.FindAllStringSubmatch(readDoc(t, "policy.md"), -1)
	valid, invalid := 0, 0
	for i, block := range blocks {
		if !strings.Contains(block[1], "rules:") {
			continue
		}
		_, err := policy.Parse([]byte(block[1]))
		// The example of an invalid policy names an MRSIGNER of 8 digits.
		if strings.Contains(block[1], "[83d719e7]") {
			invalid++
			if err == nil {
				t.Errorf("the invalid policy example %d in docs/policy.md parses", i+1)
			}
			continue
		}
		valid++
		if err != nil {
			t.Errorf("policy example %d in docs/policy.md does not parse: %v", i+1, err)
		}
	}
	if valid < 2 || invalid != 1 {
		t.Errorf("docs/policy.md has %d valid and %d invalid policy examples, want at least 2 and 1",
			valid, invalid)
	}
}

var markdownLink = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)

func TestDocLinksResolve(t *testing.T) {
	docs := filepath.Join(root(t), "docs")
	pages, err := filepath.Glob(filepath.Join(docs, "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages in %s: %v", docs, err)
	}
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range markdownLink.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") {
				continue
			}
			if _, err := os.Stat(filepath.Join(docs, target)); err != nil {
				t.Errorf("%s links to %s, which does not exist", filepath.Base(page), target)
			}
		}
	}
}

func count(list []string, s string) int {
	n := 0
	for _, item := range list {
		if item == s {
			n++
		}
	}
	return n
}
