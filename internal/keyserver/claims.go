package keyserver

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ErrReplayed means a public key or quote was already answered for another
// QuoteAttestation.
var ErrReplayed = errors.New("replayed request")

// Claims records which QuoteAttestation a public key or a quote was
// answered for, so that neither is answered twice. A claim survives
// restarts and is shared by replicas.
type Claims interface {
	// Owner returns the UID that holds the claim on a hash, or "" when
	// there is none.
	Owner(ctx context.Context, kind string, hash []byte) (types.UID, error)
	// Claim takes the claim on a hash for uid. It returns ErrReplayed when
	// another UID holds it and succeeds when uid already does.
	Claim(ctx context.Context, kind string, hash []byte, uid types.UID, object string) error
}

// Kinds of claims.
const (
	ClaimPublicKey = "publickey"
	ClaimQuote     = "quote"
)

// ConfigMapClaims keeps each claim as a ConfigMap named after the hash in
// the key server's own namespace. Creation is atomic in the API server, so
// two replicas cannot both take one claim.
type ConfigMapClaims struct {
	Client    client.Client
	Reader    client.Reader
	Namespace string
}

const (
	claimUIDKey    = "uid"
	claimObjectKey = "object"
	claimTimeKey   = "claimed"
	// claimLabel lets an operator list or prune the claims.
	claimLabel = "tcs.intel.com/claim"
)

// claimName returns the ConfigMap name of a claim: the kind and the first
// 160 bits of the hash in hex.
func claimName(kind string, hash []byte) string {
	if len(hash) > 20 {
		hash = hash[:20]
	}
	return fmt.Sprintf("tcs-claim-%s-%s", kind, hex.EncodeToString(hash))
}

// Owner implements Claims.
func (c ConfigMapClaims) Owner(ctx context.Context, kind string, hash []byte) (types.UID, error) {
	var cm corev1.ConfigMap
	key := client.ObjectKey{Namespace: c.Namespace, Name: claimName(kind, hash)}
	err := c.Reader.Get(ctx, key, &cm)
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read claim %s: %w", key, err)
	}
	return types.UID(cm.Data[claimUIDKey]), nil
}

// Claim implements Claims.
func (c ConfigMapClaims) Claim(ctx context.Context, kind string, hash []byte, uid types.UID, object string) error {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: c.Namespace,
			Name:      claimName(kind, hash),
			Labels:    map[string]string{claimLabel: kind},
		},
		Data: map[string]string{
			claimUIDKey:    string(uid),
			claimObjectKey: object,
			claimTimeKey:   time.Now().UTC().Format(time.RFC3339),
		},
	}
	err := c.Client.Create(ctx, cm)
	if err == nil {
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("record claim %s/%s: %w", c.Namespace, cm.Name, err)
	}
	owner, err := c.Owner(ctx, kind, hash)
	if err != nil {
		return err
	}
	if owner != uid {
		return fmt.Errorf("%w: the %s was already answered for QuoteAttestation UID %s", ErrReplayed, kind, owner)
	}
	return nil
}
