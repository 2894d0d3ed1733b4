package policy

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkEvaluate measures one decision against a policy of 100 glob
// rules where the matching rule is the last.
func BenchmarkEvaluate(b *testing.B) {
	var text strings.Builder
	text.WriteString("rules:\n")
	for i := range 100 {
		fmt.Fprintf(&text, "  - signers: [\"tcsissuer.tcs.intel.com/ns%d.*\"]\n    mrenclave: [%s]\n", i, hexB)
	}
	p, err := Parse([]byte(text.String()))
	if err != nil {
		b.Fatal(err)
	}
	ev := goodEvidence()
	for b.Loop() {
		if d := p.Evaluate("tcsissuer.tcs.intel.com/ns99.ca", ev, evalNow); !d.Allowed {
			b.Fatal(d.Message)
		}
	}
}
