package deploytest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tcs-project/tcs/internal/testenv"
)

// fieldOwner is the field manager of every apply in these tests.
const fieldOwner = "tcs-deploytest"

// warnings collects the warnings that the API server sends, such as the
// PodSecurity admission's "would violate PodSecurity" for a Deployment.
type warnings struct {
	mu    sync.Mutex
	texts []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.texts = append(w.texts, text)
}

// take returns the warnings collected so far and clears the list.
func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	texts := w.texts
	w.texts = nil
	return texts
}

// dryRunClient returns a client of env that collects the API server's
// warnings in w.
func dryRunClient(t *testing.T, env *testenv.Env, w *warnings) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = nil
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// describe names an object for messages.
func describe(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", obj.GetKind(), ns, obj.GetName())
	}
	return fmt.Sprintf("%s %s", obj.GetKind(), obj.GetName())
}

// applyDryRun applies every object with server-side apply in dry-run mode
// and fails the test for each object the API server rejects or warns
// about. Namespaces are applied for real first, together with the
// namespaces in extraNamespaces, because the dry run of a Namespace does
// not create it and the namespaced objects need it to exist.
func applyDryRun(t *testing.T, c client.Client, w *warnings, objects []*unstructured.Unstructured,
	extraNamespaces []*corev1.Namespace) {
	t.Helper()
	ctx := context.Background()

	for _, ns := range extraNamespaces {
		ns := ns.DeepCopy()
		ns.SetManagedFields(nil)
		if err := c.Patch(ctx, ns, client.Apply, client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
			t.Fatalf("create namespace %s: %v", ns.Name, err)
		}
	}
	for _, obj := range objects {
		if obj.GetKind() != "Namespace" {
			continue
		}
		if err := c.Patch(ctx, obj.DeepCopy(), client.Apply, client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
			t.Fatalf("create %s: %v", describe(obj), err)
		}
	}
	w.take()

	for _, obj := range objects {
		// Namespaces were applied for real above; apply them again with
		// dry run so that every object goes through the same path.
		err := c.Patch(ctx, obj.DeepCopy(), client.Apply, client.DryRunAll, client.FieldOwner(fieldOwner))
		if err != nil {
			t.Errorf("server-side dry run of %s: %v", describe(obj), err)
		}
		for _, text := range w.take() {
			t.Errorf("server-side dry run of %s: warning: %s", describe(obj), text)
		}
	}
}

// restrictedNamespace returns a namespace that enforces the restricted Pod
// Security Standard, as a cluster administrator would create it.
func restrictedNamespace(name string) *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta: metaType("v1", "Namespace"),
		ObjectMeta: objectMeta(name, "", map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
		}),
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, testenv.Options{})
	w := &warnings{}
	c := dryRunClient(t, env, w)

	for _, r := range renderings(t) {
		t.Run(r.name, func(t *testing.T) {
			applyDryRun(t, c, w, r.objects, r.preexisting)
		})
	}

	t.Run("kustomize samples", func(t *testing.T) {
		applyDryRun(t, c, w, decodeObjects(t, buildKustomization(t, "config/samples")), nil)
	})

	// The PodSecurity admission sends the warnings checked above only when
	// it runs. This control shows that it does, so the check can fail.
	t.Run("pod security control", func(t *testing.T) {
		ns := restrictedNamespace("tcs-deploytest-control")
		applyDryRun(t, c, w, nil, []*corev1.Namespace{ns})
		deployment := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1",
			"kind":       "Deployment",
			"metadata":   map[string]any{"name": "unrestricted", "namespace": ns.Name},
			"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app": "unrestricted"}},
				"template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"app": "unrestricted"}},
					"spec": map[string]any{"containers": []any{
						map[string]any{"name": "app", "image": "app:1"},
					}},
				},
			},
		}}
		if err := c.Patch(context.Background(), deployment, client.Apply, client.DryRunAll,
			client.FieldOwner(fieldOwner)); err != nil {
			t.Fatalf("dry run of an unrestricted Deployment: %v", err)
		}
		texts := w.take()
		if !strings.Contains(strings.Join(texts, "\n"), "violate PodSecurity") {
			t.Errorf("warnings for an unrestricted Deployment = %q, want a PodSecurity violation", texts)
		}
	})
}
