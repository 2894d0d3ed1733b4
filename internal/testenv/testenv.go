// Package testenv starts a real etcd and kube-apiserver for integration
// tests, built from source by `make controlplane`, with the project's CRDs
// installed.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
)

// Env is a running control plane.
type Env struct {
	// Config connects as a cluster administrator.
	Config *rest.Config
	// Client is a controller-runtime client for Config with Scheme.
	Client client.Client
	// Scheme knows the built-in types and the project's APIs.
	Scheme *runtime.Scheme
	// Root is the repository's root folder.
	Root string

	env *envtest.Environment
}

// Options adjusts the control plane.
type Options struct {
	// ExtraCRDDirs are folders of further CRDs to install, such as
	// cert-manager's.
	ExtraCRDDirs []string
}

// Start starts etcd and kube-apiserver, installs the CRDs under
// config/crd/bases, and stops everything when the test ends. It fails the
// test with the command to run when the binaries are missing.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	env, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop control plane: %v", err)
		}
	})
	return env
}

// New starts a control plane for a whole test binary, as TestMain needs;
// the caller must call Stop.
func New(opts Options) (*Env, error) {
	root, err := RepositoryRoot()
	if err != nil {
		return nil, err
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin")
	}
	for _, name := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(assets, name)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run `make controlplane` first (or `make test`, which does)",
				name, assets)
		}
	}

	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme,
		sgxv1alpha1.AddToScheme, tcsv1alpha1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("build scheme: %w", err)
		}
	}

	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths: append([]string{filepath.Join(root, "config", "crd", "bases")},
			opts.ExtraCRDDirs...),
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start control plane from %s: %w", assets, err)
	}

	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("create client: %w", err)
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, Root: root, env: env}, nil
}

// Stop stops kube-apiserver and etcd.
func (e *Env) Stop() error {
	return e.env.Stop()
}

// ClientAs returns a client that impersonates a service account, with the
// groups the API server gives service accounts.
func (e *Env) ClientAs(t testing.TB, namespace, name string) client.Client {
	t.Helper()
	c, err := client.New(e.ServiceAccountConfig(namespace, name), client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatalf("create client for %s/%s: %v", namespace, name, err)
	}
	return c
}

// RepositoryRoot returns the folder of the project's go.mod, found by
// walking up from the working directory.
func RepositoryRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "config", "crd", "bases")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("repository root not found above the working directory: run the tests from inside the repository")
		}
		dir = parent
	}
}
