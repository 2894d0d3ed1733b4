// Package cmd_test builds the project's binaries and checks that each one
// starts, prints its help and version, and that the servers come up
// against a real API server.
package cmd_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
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

	"github.com/tcs-project/tcs/internal/devpki"
	"github.com/tcs-project/tcs/internal/enclave/token/softhsmtest"
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

	serverFlags := map[string][]string{
		"tcs-issuer":    issuerFlags(t),
		"tcs-keyserver": keyserverFlags(t),
	}
	for _, b := range []string{"tcs-issuer", "tcs-keyserver"} {
		t.Run(b, func(t *testing.T) {
			probe, metrics := freeAddress(t), freeAddress(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			args := append([]string{"--kubeconfig", kubeconfig,
				"--health-probe-bind-address", probe, "--metrics-bind-address", metrics,
				"--leader-elect", "--leader-election-namespace", "default"}, serverFlags[b]...)
			cmd := exec.Command(filepath.Join(dir, b), args...)
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

// keyserverFlags returns the flags tcs-keyserver needs to start: a policy,
// a receipt key, a key folder and a collateral source that is never asked
// because no request arrives.
func keyserverFlags(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	rule := "rules:\n  - signers: [\"tcsclusterissuer.tcs.intel.com/*\"]\n    mrenclave: [" +
		strings.Repeat("ab", 32) + "]\n"
	if err := os.WriteFile(policy, []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	receipt := filepath.Join(dir, "receipt.pem")
	if err := os.WriteFile(receipt, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--namespaces", "default", "--claims-namespace", "default", "--policy", policy,
		"--collateral-dir", dir, "--key-dir", dir, "--receipt-key", receipt}
}

// issuerFlags returns the flags tcs-issuer needs to start: a fresh
// SoftHSM2 token and the development quoting backend. softhsmtest points
// SOFTHSM2_CONF at the token for this test, and the child process inherits
// it.
func issuerFlags(t *testing.T) []string {
	t.Helper()
	tok := softhsmtest.New(t)
	authority, err := devpki.New(devpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	authorityDir := filepath.Join(t.TempDir(), "authority")
	if err := authority.Save(authorityDir); err != nil {
		t.Fatal(err)
	}
	return []string{"--pkcs11-module", tok.Module, "--token-label", "smoke-test",
		"--user-pin-file", tok.UserPINFile, "--so-pin-file", tok.SOPINFile,
		"--quoting", "dev", "--dev-authority", authorityDir,
		"--namespace", "default", "--cert-manager=false"}
}
