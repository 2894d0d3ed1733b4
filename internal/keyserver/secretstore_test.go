package keyserver_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/keyserver"
)

// keyStoreSecret returns a kubernetes.io/tls Secret in the key server's
// namespace with the folder store's key and certificate of signer.
func keyStoreSecret(t *testing.T, w *world, name, signer string) *corev1.Secret {
	t.Helper()
	base := filepath.Join(w.keyDir, keyserver.FileBase(signer))
	key, err := os.ReadFile(base + ".key")
	if err != nil {
		t.Fatal(err)
	}
	crt, err := os.ReadFile(base + ".crt")
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   claimsNamespace,
			Name:        name,
			Annotations: map[string]string{keyserver.SignerAnnotation: signer},
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSPrivateKeyKey: key, corev1.TLSCertKey: crt},
	}
}

func TestProvisionFromSecretStore(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for name, signer := range map[string]string{
		"ca-ec": signerEC, "ca-strict-1": signerStrict, "ca-strict-2": signerStrict,
	} {
		if err := env.Client.Create(ctx, keyStoreSecret(t, w, name, signer)); err != nil {
			t.Fatal(err)
		}
	}
	// The key server reads its key store as its service account: the Role
	// in its own namespace allows reading Secrets.
	w.startKeyServer(t, false, func(d *keyserver.Decider) {
		d.Keys = keyserver.SecretStore{Reader: env.ClientAs(t, claimsNamespace, "tcs-keyserver"), Namespace: claimsNamespace}
	})

	e := newEnclave(t)
	quote := e.quote(t, w.platforms["main"])
	qa := request(t, "from-secret-store", e, quote, signerEC)
	checkProvisioned(t, w, e, waitAnswer(t, qa, 30*time.Second), quote)

	t.Run("two Secrets for one signer", func(t *testing.T) {
		e := newEnclave(t)
		qa := request(t, "secret-store-ambiguous", e, e.quote(t, w.platforms["main"]), signerStrict)
		got := waitAnswer(t, qa, 30*time.Second)
		if got.Status.Condition.State != sgxv1alpha1.StateKeyStoreFailure {
			t.Errorf("state = %s, want %s: %s", got.Status.Condition.State,
				sgxv1alpha1.StateKeyStoreFailure, got.Status.Condition.Message)
		}
	})

	t.Run("no Secret for a signer", func(t *testing.T) {
		e := newEnclave(t)
		qa := request(t, "secret-store-missing", e, e.quote(t, w.platforms["main"]), signerRSA)
		got := waitAnswer(t, qa, 30*time.Second)
		if got.Status.Condition.State != sgxv1alpha1.StateUnknownSigner {
			t.Errorf("state = %s, want %s: %s", got.Status.Condition.State,
				sgxv1alpha1.StateUnknownSigner, got.Status.Condition.Message)
		}
	})
}
