package controller

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tcs-project/tcs/internal/issuer/castore"
)

// errSecretConflict reports a Secret of the issuer's secretName that
// another owner made.
var errSecretConflict = errors.New("secret belongs to another owner")

// secretKey returns where the issuer publishes its CA certificate: the
// issuer's namespace for a TCSIssuer, the cluster resource namespace for a
// TCSClusterIssuer.
func (r *IssuerReconciler) secretKey(v issuerView) types.NamespacedName {
	ns := v.object.GetNamespace()
	if v.kind == "TCSClusterIssuer" {
		ns = r.cfg.ClusterIssuerSecretNamespace
	}
	return types.NamespacedName{Namespace: ns, Name: v.spec.SecretName}
}

// publishedSecret builds the Secret that publishes ca: type
// kubernetes.io/tls with the chain in tls.crt, the root in ca.crt and an
// empty tls.key, because the private key never leaves the token. The API
// server returns a warning for each write because tls.key contains no
// PEM key, and controller-runtime logs it.
func publishedSecret(key types.NamespacedName, v issuerView, ca *castore.CA) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   key.Namespace,
			Name:        key.Name,
			Labels:      maps.Clone(v.spec.Labels),
			Annotations: map[string]string{SignerAnnotation: v.signerName},
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       castore.EncodePEM(ca.Chain...),
			corev1.TLSPrivateKeyKey: {},
			"ca.crt":                castore.EncodePEM(ca.Root()),
		},
	}
}

// publish creates or updates the CA certificate Secret. It never takes
// over a Secret that another owner made.
func (r *IssuerReconciler) publish(ctx context.Context, v issuerView, ca *castore.CA) error {
	key := r.secretKey(v)
	want := publishedSecret(key, v, ca)
	var have corev1.Secret
	err := r.apiReader.Get(ctx, key, &have)
	if apierrors.IsNotFound(err) {
		if err := r.client.Create(ctx, want); err != nil {
			return fmt.Errorf("create CA certificate secret %s: %w", key, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read CA certificate secret %s: %w", key, err)
	}

	if have.Annotations[SignerAnnotation] != v.signerName {
		return fmt.Errorf("%w: secret %s is not annotated %s=%s; delete it or choose another secretName",
			errSecretConflict, key, SignerAnnotation, v.signerName)
	}
	if have.Type == want.Type && secretDataEqual(have.Data, want.Data) && maps.Equal(have.Labels, want.Labels) {
		return nil
	}

	if have.Type != want.Type {
		// The type of a Secret is immutable, so replace it.
		if err := r.client.Delete(ctx, &have); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("replace CA certificate secret %s: %w", key, err)
		}
		if err := r.client.Create(ctx, want); err != nil {
			return fmt.Errorf("create CA certificate secret %s: %w", key, err)
		}
		return nil
	}

	have.Labels = want.Labels
	have.Data = want.Data
	if err := r.client.Update(ctx, &have); err != nil {
		return fmt.Errorf("update CA certificate secret %s: %w", key, err)
	}
	return nil
}

func secretDataEqual(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, bytes.Equal)
}

// unpublish deletes the CA certificate Secret when it is the issuer's own.
func (r *IssuerReconciler) unpublish(ctx context.Context, v issuerView) error {
	key := r.secretKey(v)
	var have corev1.Secret
	err := r.apiReader.Get(ctx, key, &have)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read CA certificate secret %s: %w", key, err)
	}
	if have.Annotations[SignerAnnotation] != v.signerName {
		return nil
	}
	if err := r.client.Delete(ctx, &have); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete CA certificate secret %s: %w", key, err)
	}
	return nil
}

// publishedChain returns the chain in the issuer's published Secret when it
// starts with cert, so that a restart keeps the chain of a provisioned CA,
// which the token does not store. Otherwise it returns cert alone.
func (r *IssuerReconciler) publishedChain(ctx context.Context, v issuerView,
	cert *x509.Certificate) []*x509.Certificate {
	var have corev1.Secret
	if err := r.apiReader.Get(ctx, r.secretKey(v), &have); err != nil {
		return []*x509.Certificate{cert}
	}
	if have.Annotations[SignerAnnotation] != v.signerName {
		return []*x509.Certificate{cert}
	}
	chain, err := parsePEMChain(have.Data[corev1.TLSCertKey])
	if err != nil || !chain[0].Equal(cert) {
		return []*x509.Certificate{cert}
	}
	return chain
}
