package apitest

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedFilesAreCurrent fails when the deepcopy code or the CRDs
// under config/crd differ from what `make generate` makes of the API types.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: it builds and runs controller-gen")
	}
	cmd := exec.Command("bash", filepath.Join(env.Root, "hack", "check-generated.sh"))
	cmd.Dir = env.Root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hack/check-generated.sh: %v\n%s", err, out)
	}
}
