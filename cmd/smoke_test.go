// Package cmd_test builds the project's binaries and checks that each one
// starts, prints its help and version, and that the servers come up
// against a real API server.
package cmd_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/tcs-project/tcs/internal/testenv"
)

var binaries = []string{"tcs-issuer", "tcs-keyserver", "tcsctl"}

// build compiles the binaries into a temporary folder.
func build(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + "/"}
	for _, b := range binaries {
		args = append(args, "./"+b)
	}
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

func TestBinariesPrintHelpAndVersion(t *testing.T) {
	dir := build(t)
	for _, b := range binaries {
		out, err := exec.Command(filepath.Join(dir, b), "--version").CombinedOutput()
		if err != nil {
			t.Errorf("%s --version: %v\n%s", b, err, out)
		} else if !strings.HasPrefix(string(out), b+" ") {
			t.Errorf("%s --version printed %q, want it to start with the binary name", b, out)
		}

		out, _ = exec.Command(filepath.Join(dir, b), "--help").CombinedOutput()
		if !strings.Contains(string(out), "Usage") && !strings.Contains(string(out), "Flags") {
			t.Errorf("%s --help printed no usage:\n%s", b, out)
		}
	}
}

// freeAddress returns a loopback address with a port that was free.
func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// writeKubeconfig writes a kubeconfig for the control plane's admin user.
func writeKubeconfig(t *testing.T, env *testenv.Env) string {
	t.Helper()
	cfg := env.Config
	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["test"] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
	}
	kubeconfig.AuthInfos["test"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
	}
	kubeconfig.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kubeconfig.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitReady polls url until it returns 200 or the deadline passes.
func waitReady(ctx context.Context, url string) error {
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: last error %v", url, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func TestServersStartAgainstAPIServer(t *testing.T) {
	dir := build(t)
	env := testenv.Start(t, testenv.Options{})
	kubeconfig := writeKubeconfig(t, env)

	for _, b := range []string{"tcs-issuer", "tcs-keyserver"} {
		t.Run(b, func(t *testing.T) {
			probe, metrics := freeAddress(t), freeAddress(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.Command(filepath.Join(dir, b), "--kubeconfig", kubeconfig,
				"--health-probe-bind-address", probe, "--metrics-bind-address", metrics,
				"--leader-elect", "--leader-election-namespace", "default")
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = cmd.Process.Signal(os.Interrupt)
				_ = cmd.Wait()
			}()
			for _, path := range []string{"/healthz", "/readyz"} {
				if err := waitReady(ctx, "http://"+probe+path); err != nil {
					t.Fatal(err)
				}
			}
			if err := waitReady(ctx, "http://"+metrics+"/metrics"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
