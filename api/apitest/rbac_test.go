package apitest

import (
	"context"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
)

// check records whether err matches the expected permission.
func check(t *testing.T, who, action string, err error, allowed bool) {
	t.Helper()
	switch {
	case allowed && err != nil:
		t.Errorf("%s: %s: err = %v, want allowed", who, action, err)
	case !allowed && !apierrors.IsForbidden(err):
		t.Errorf("%s: %s: err = %v, want Forbidden", who, action, err)
	}
}

func TestRBACManifests(t *testing.T) {
	ctx := context.Background()
	if err := env.ApplyKustomization(filepath.Join(env.Root, "config", "rbac")); err != nil {
		t.Fatal(err)
	}

	const ns = "tcs-issuer"
	issuer := env.ClientAs(t, ns, "tcs-issuer")
	keyserver := env.ClientAs(t, "tcs-keyserver", "tcs-keyserver")
	stranger := env.ClientAs(t, ns, "default")

	// An object made by the administrator that the others act on.
	seed := newAttestation(t, ns, "seed")
	if err := env.Client.Create(ctx, seed); err != nil {
		t.Fatalf("create seed object: %v", err)
	}

	type actor struct {
		name   string
		client client.Client
		// mayRequest: create, update and delete QuoteAttestation objects.
		mayRequest bool
		// mayAnswer: write their status and create Secrets in ns.
		mayAnswer bool
	}
	actors := []actor{
		{"issuer", issuer, true, false},
		{"key server", keyserver, false, true},
		{"other service account", stranger, false, false},
	}

	for _, a := range actors {
		t.Run(a.name, func(t *testing.T) {
			qa := newAttestation(t, ns, "by-"+map[string]string{
				"issuer": "issuer", "key server": "keyserver", "other service account": "other",
			}[a.name])
			check(t, a.name, "create QuoteAttestation", a.client.Create(ctx, qa.DeepCopy()), a.mayRequest)

			current := &sgxv1alpha1.QuoteAttestation{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(seed), current); err != nil {
				t.Fatal(err)
			}
			labelled := current.DeepCopy()
			labelled.Labels = map[string]string{"updated-by": "test"}
			check(t, a.name, "update QuoteAttestation", a.client.Update(ctx, labelled), a.mayRequest)

			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(seed), current); err != nil {
				t.Fatal(err)
			}
			// A status write that the status rules accept, so that only RBAC
			// can refuse it. The condition stays unset until the last actor.
			answered := current.DeepCopy()
			answered.Status.Secrets = map[string]sgxv1alpha1.QuoteAttestationSecret{
				current.Spec.SignerNames[0]: {SecretName: "seed-" + a.name[:1], SecretType: sgxv1alpha1.SecretTypeKMRA},
			}
			check(t, a.name, "update QuoteAttestation status", a.client.Status().Update(ctx, answered), a.mayAnswer)

			secret := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wrapped-" + a.name[:1]},
				Type:       corev1.SecretTypeOpaque,
				Data:       map[string][]byte{"tls.key": []byte("test")},
			}
			check(t, a.name, "create Secret in "+ns, a.client.Create(ctx, secret), a.mayAnswer)

			// The issuer reads and deletes the answers; the key server
			// rolls back its own.
			list := &corev1.SecretList{}
			check(t, a.name, "list Secrets in "+ns, a.client.List(ctx, list, client.InNamespace(ns)),
				a.mayRequest || a.mayAnswer)

			if a.mayRequest {
				delete := &sgxv1alpha1.QuoteAttestation{}
				delete.Namespace, delete.Name = ns, qa.Name
				check(t, a.name, "delete QuoteAttestation", a.client.Delete(ctx, delete), true)
			} else {
				check(t, a.name, "delete QuoteAttestation", a.client.Delete(ctx, seed.DeepCopy()), false)
			}
		})
	}

	t.Run("issuer publishes CA certificates where bound", func(t *testing.T) {
		for namespace, allowed := range map[string]bool{"default": true, "tcs-cluster-ca": true, ns: false} {
			secret := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "ca-cert"},
				Type:       corev1.SecretTypeTLS,
				Data:       map[string][]byte{"tls.crt": []byte("cert"), "tls.key": {}},
			}
			check(t, "issuer", "create Secret in "+namespace, issuer.Create(ctx, secret), allowed)
		}
	})

	t.Run("key server deletes Secrets it made", func(t *testing.T) {
		secret := &corev1.Secret{}
		secret.Namespace, secret.Name = ns, "wrapped-k"
		check(t, "key server", "delete Secret", keyserver.Delete(ctx, secret), true)
	})

	t.Run("key server records claims in its own namespace", func(t *testing.T) {
		claim := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "tcs-keyserver", Name: "tcs-claim-test"},
			Data:       map[string]string{"uid": "test"},
		}
		check(t, "key server", "create ConfigMap in tcs-keyserver", keyserver.Create(ctx, claim), true)
		got := &corev1.ConfigMap{}
		check(t, "key server", "get ConfigMap in tcs-keyserver",
			keyserver.Get(ctx, client.ObjectKeyFromObject(claim), got), true)
		check(t, "issuer", "create ConfigMap in tcs-keyserver", issuer.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "tcs-keyserver", Name: "forged-claim"},
		}), false)
	})

	t.Run("key server cannot touch other namespaces", func(t *testing.T) {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "stray"},
			Data:       map[string][]byte{"x": []byte("y")},
		}
		check(t, "key server", "create Secret in default", keyserver.Create(ctx, secret), false)
	})
}
