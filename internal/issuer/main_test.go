package issuer_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/tcs-project/tcs/internal/issuer"
	"github.com/tcs-project/tcs/internal/manager"
	"github.com/tcs-project/tcs/internal/testenv"
)

// The namespaces of config/rbac: the issuer runs as the service account
// tcs-issuer/tcs-issuer, which may publish CA certificates only in
// issuerNamespace (bound in config/rbac for "default") and in
// clusterSecretNamespace.
const (
	operatorNamespace      = "tcs-issuer"
	issuerNamespace        = "default"
	clusterSecretNamespace = "tcs-cluster-ca"
	keyServerNamespace     = "tcs-keyserver"
)

var (
	env    *testenv.Env
	scheme *runtime.Scheme
	admin  client.Client
)

// TestMain starts one control plane for every test of the package, with
// the cert-manager CRDs of the pinned module and the RBAC of config/rbac.
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// The controllers log only when asked, so that failures stay readable.
	if os.Getenv("TCS_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	crds, err := certManagerCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env, err = testenv.New(testenv.Options{ExtraCRDDirs: []string{crds}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	scheme, err = manager.Scheme()
	if err == nil {
		err = issuer.AddToScheme(scheme)
	}
	if err == nil {
		admin, err = client.New(env.Config, client.Options{Scheme: scheme})
	}
	if err == nil {
		err = env.ApplyKustomization(filepath.Join(env.Root, "config", "rbac"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// certManagerCRDs returns the deploy/crds folder of the cert-manager
// module that go.mod pins.
func certManagerCRDs() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager").Output()
	if err != nil {
		return "", fmt.Errorf("find the cert-manager module (run `go mod download`): %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds")
	if _, err := os.Stat(filepath.Join(dir, "cert-manager.io_certificaterequests.yaml")); err != nil {
		return "", fmt.Errorf("cert-manager CRDs not found: %w", err)
	}
	return dir, nil
}

// serviceAccountConfig returns a connection that impersonates a service
// account, so that the controllers run with exactly the RBAC of
// config/rbac.
func serviceAccountConfig(namespace, name string) *rest.Config {
	cfg := env.ServiceAccountConfig(namespace, name)
	// The benchmark creates requests faster than client-go's default of
	// 5 requests per second allows.
	cfg.QPS, cfg.Burst = 2000, 4000
	return cfg
}

// eventually polls check until it returns true or the timeout ends; the
// failure names what check last reported.
func eventually(t testing.TB, timeout time.Duration, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, msg := check()
		if ok {
			return
		}
		last = msg
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func clientset(t testing.TB) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
