package demo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcs-project/tcs/internal/testenv"
)

// TestDemoRuns builds the binaries and runs the whole demo, as `make demo`
// does, so that the README's first command keeps working.
func TestDemoRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: it runs the whole demo")
	}
	if _, err := os.Stat(softhsmModule); err != nil {
		t.Fatalf("SoftHSM2 is missing at %s: run `make softhsm`", softhsmModule)
	}
	root, err := testenv.RepositoryRoot()
	if err != nil {
		t.Fatal(err)
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin")
	}

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/tcs-issuer", "./cmd/tcs-keyserver", "./cmd/tcsctl")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, name := range []string{"etcd", "kube-apiserver"} {
		if err := os.Symlink(filepath.Join(assets, name), filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	list := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager")
	list.Dir = root
	certManager, err := list.Output()
	if err != nil {
		t.Fatalf("find the cert-manager module: %v", err)
	}

	out := t.TempDir()
	var report bytes.Buffer
	err = Run(Options{
		BinDir:     bin,
		OutDir:     out,
		CRDDirs:    []string{filepath.Join(root, "config", "crd", "bases"), filepath.Join(strings.TrimSpace(string(certManager)), "deploy", "crds")},
		RealQuotes: os.Getenv("TCS_REAL_QUOTES"),
		Timeout:    4 * time.Minute,
		Out:        &report,
	})
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, report.String())
	}
	for _, name := range []string{"ca.pem", "leaf-csr.pem", "leaf-cr.pem", "quoteattestation.yaml"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("demo output %s is missing: %v", name, err)
		}
	}
	if !strings.Contains(report.String(), "[7/7]") {
		t.Errorf("the report does not reach step 7:\n%s", report.String())
	}
}
