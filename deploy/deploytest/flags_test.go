package deploytest

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildServers builds tcs-issuer and tcs-keyserver from this tree and
// returns their folder.
func buildServers(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"./cmd/tcs-issuer", "./cmd/tcs-keyserver")
	cmd.Dir = repositoryRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the servers: %v\n%s", err, out)
	}
	return dir
}

// TestServersAcceptFlags runs each server binary with the arguments of its
// rendered container and --version, which the servers handle only after
// parsing every flag: an unknown flag or a malformed value makes them exit
// with status 2 before they connect anywhere.
func TestServersAcceptFlags(t *testing.T) {
	t.Parallel()
	bin := buildServers(t)
	for _, r := range renderings(t) {
		t.Run(r.name, func(t *testing.T) {
			for _, d := range []struct{ namespace, name string }{
				{r.want.issuerNamespace, "tcs-issuer"},
				{r.want.keyServerNamespace, "tcs-keyserver"},
			} {
				dep := deployment(t, r, d.namespace, d.name)
				c := dep.Spec.Template.Spec.Containers[0]
				args := append(expandArgs(t, r, dep, c), "--version")
				out, err := exec.Command(filepath.Join(bin, d.name), args...).CombinedOutput()
				if err != nil {
					// The first line names the bad flag; the usage text follows.
					first, _, _ := strings.Cut(string(out), "\n")
					t.Errorf("%s %s: %v: %s", d.name, strings.Join(args, " "), err, first)
					continue
				}
				if !strings.HasPrefix(string(out), d.name+" ") {
					t.Errorf("%s --version printed %q, want the version line", d.name, out)
				}
			}
		})
	}
}
