// Package deploytest checks the deployment manifests: the kustomize bases
// under config/ and the Helm chart under charts/. It renders them with the
// helm and kustomize binaries that `make tools` builds, applies every object
// with server-side dry run to a real API server, and checks properties of
// the rendered objects that the API server does not enforce.
package deploytest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/tcs-project/tcs/internal/testenv"
)

const chartDir = "charts/trusted-certificate-service"

// repositoryRoot returns the repository's root folder or fails the test.
func repositoryRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepositoryRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// tool returns the path of a binary that `make tools` builds into bin/.
func tool(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(repositoryRoot(t), "bin", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s not found at %s: run make tools (or make test, which does)", name, path)
	}
	return path
}

// run runs a command in the repository root and returns its standard
// output, or its standard error as the error when it fails.
func run(t *testing.T, name string, args ...string) ([]byte, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(name, args...)
	cmd.Dir = repositoryRoot(t)
	// Keep helm away from the user's repositories, plugins and caches.
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// renderChart runs helm template on the chart with the given extra
// arguments, CRDs included.
func renderChart(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	all := append([]string{"template", "tcs", chartDir, "--include-crds"}, args...)
	return run(t, tool(t, "helm"), all...)
}

// buildKustomization runs kustomize build on dir.
func buildKustomization(t *testing.T, dir string) []byte {
	t.Helper()
	out, err := run(t, tool(t, "kustomize"), "build", dir)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// decodeObjects splits a multi-document YAML stream into objects and
// drops empty documents.
func decodeObjects(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objects []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		err := decoder.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("decode rendered YAML: %v", err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		objects = append(objects, obj)
	}
	if len(objects) == 0 {
		t.Fatal("the rendered output has no objects")
	}
	return objects
}

// writeFile writes content to name in dir and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
