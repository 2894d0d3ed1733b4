package deploytest

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestChartRejectsValues(t *testing.T) {
	policyFile := "keyServer.policy.content=config/keyserver/policy.yaml"
	pccs := "keyServer.collateral.pccsURL=" + testPCCSURL
	tests := map[string]struct {
		args []string
		want string
	}{
		"defaults": {
			want: "keyServer.collateral.pccsURL is empty and no offline bundles are given",
		},
		"no policy": {
			args: []string{"--set", pccs},
			want: "keyServer.policy.content is empty",
		},
		"two collateral sources": {
			args: []string{"--set", pccs, "--set", "keyServer.collateral.offlineBundlesConfigMap=bundles",
				"--set-file", policyFile},
			want: "keyServer.collateral.pccsURL and keyServer.collateral.offlineBundlesConfigMap are both set",
		},
		"two policies": {
			args: []string{"--set", pccs, "--set-file", policyFile, "--set", "keyServer.policy.existingConfigMap=p"},
			want: "keyServer.policy.content and keyServer.policy.existingConfigMap are both set",
		},
		"publisher in issuer namespace": {
			args: []string{"--set", pccs, "--set-file", policyFile, "--set", "issuer.caPublisherNamespaces={tcs-issuer}"},
			want: "issuer.caPublisherNamespaces lists tcs-issuer, the issuer's own namespace",
		},
		"pin as value": {
			args: []string{"--set", pccs, "--set-file", policyFile, "--set", "issuer.pkcs11.userPin=1234"},
			want: "additional properties 'userPin' not allowed",
		},
		"unknown quoting backend": {
			args: []string{"--set", pccs, "--set-file", policyFile, "--set", "issuer.quoting.backend=tpm"},
			want: "/issuer/quoting/backend",
		},
		"pkcs11 key store without module": {
			args: []string{"--set", pccs, "--set-file", policyFile, "--set", "keyServer.keyStore.type=pkcs11"},
			want: "keyServer.keyStore.type is pkcs11",
		},
		"dev backend without authority": {
			args: []string{"--set", pccs, "--set-file", policyFile, "--set", "issuer.quoting.backend=dev"},
			want: "issuer.quoting.devAuthoritySecret is empty",
		},
		"pccs url without scheme": {
			args: []string{"--set", "keyServer.collateral.pccsURL=pccs:8081", "--set-file", policyFile},
			want: "/keyServer/collateral/pccsURL",
		},
		"long token label": {
			args: []string{"--set", pccs, "--set-file", policyFile,
				"--set", "issuer.pkcs11.tokenLabel=" + strings.Repeat("x", 33)},
			want: "/issuer/pkcs11/tokenLabel",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := renderChart(t, tt.args...)
			if err == nil {
				t.Fatalf("helm template succeeded with %d bytes of output, want an error containing %q",
					len(out), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("helm template error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// rbacKinds are the kinds that config/rbac defines and the chart must
// render with the same content.
var rbacKinds = []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}

// rbacContent returns the parts of an RBAC object that decide access,
// keyed by kind, namespace and name.
func rbacContent(objects []*unstructured.Unstructured) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, obj := range objects {
		if !slices.Contains(rbacKinds, obj.GetKind()) {
			continue
		}
		content := map[string]any{}
		for _, field := range []string{"rules", "roleRef", "subjects"} {
			if value, ok := obj.Object[field]; ok {
				content[field] = value
			}
		}
		out[describe(obj)] = content
	}
	return out
}

func TestChartRBACMatchesConfig(t *testing.T) {
	want := rbacContent(decodeObjects(t, buildKustomization(t, "config/rbac")))
	chart := renderingNamed(t, "chart minimal")
	got := rbacContent(chart.objects)

	for _, key := range sortedKeys(want) {
		content, ok := got[key]
		if !ok {
			t.Errorf("the chart lacks %s of config/rbac", key)
			continue
		}
		if !reflect.DeepEqual(content, want[key]) {
			t.Errorf("%s differs from config/rbac:\nchart:\n%s\nconfig/rbac:\n%s", key, toYAML(content), toYAML(want[key]))
		}
	}
	for _, key := range sortedKeys(got) {
		if _, ok := want[key]; !ok {
			t.Errorf("the chart renders %s, which config/rbac does not have", key)
		}
	}
}

func TestChartCRDsMatchConfig(t *testing.T) {
	root := repositoryRoot(t)
	bases, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	for _, base := range bases {
		want, err := os.ReadFile(base)
		if err != nil {
			t.Fatal(err)
		}
		chartFile := filepath.Join(root, chartDir, "crds", filepath.Base(base))
		got, err := os.ReadFile(chartFile)
		if err != nil {
			t.Errorf("the chart lacks the CRD %s: %v", filepath.Base(base), err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from %s", chartFile, base)
		}
	}

	chart := renderingNamed(t, "chart minimal")
	if got := len(objectsOfKind(chart.objects, "CustomResourceDefinition")); got != len(bases) {
		t.Errorf("helm template --include-crds rendered %d CRDs, want %d", got, len(bases))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestChartKeepsNamespaces(t *testing.T) {
	chart := renderingNamed(t, "chart minimal")
	namespaces := objectsOfKind(chart.objects, "Namespace")
	if len(namespaces) != 3 {
		t.Errorf("the chart renders %d namespaces, want 3", len(namespaces))
	}
	for _, ns := range namespaces {
		if got := ns.GetAnnotations()["helm.sh/resource-policy"]; got != "keep" {
			t.Errorf("namespace %s has helm.sh/resource-policy %q, want keep: helm uninstall would delete "+
				"the Secrets created in it", ns.GetName(), got)
		}
	}
}

func TestChartRendersOneSide(t *testing.T) {
	tests := map[string]struct {
		args    []string
		present string
		absent  string
	}{
		"issuer only": {
			args:    []string{"--set", "keyServer.enabled=false"},
			present: "tcs-issuer", absent: "tcs-keyserver",
		},
		"key server only": {
			args: []string{"--set", "issuer.enabled=false",
				"--set", "keyServer.collateral.pccsURL=" + testPCCSURL,
				"--set-file", "keyServer.policy.content=config/keyserver/policy.yaml"},
			present: "tcs-keyserver", absent: "tcs-issuer",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := renderChart(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			objects := decodeObjects(t, out)
			deployments := objectsOfKind(objects, "Deployment")
			if len(deployments) != 1 || deployments[0].GetName() != tt.present {
				t.Errorf("Deployments = %d, want only %s", len(deployments), tt.present)
			}
			for _, obj := range objects {
				if obj.GetLabels()["app.kubernetes.io/name"] == tt.absent {
					t.Errorf("%s is rendered although %s is turned off", describe(obj), tt.absent)
				}
			}
		})
	}
}
