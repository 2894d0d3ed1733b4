package keyserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
)

// Labels and annotations on provisioned Secrets.
const (
	// AttestationUIDLabel ties a Secret to the QuoteAttestation it answers.
	AttestationUIDLabel = "sgx.intel.com/quoteattestation-uid"
	// AttestationNameAnnotation names that QuoteAttestation.
	AttestationNameAnnotation = "sgx.intel.com/quoteattestation"
	// SecretSignerAnnotation names the signer whose key a Secret carries.
	SecretSignerAnnotation = "sgx.intel.com/signer-name"
)

// decideTimeout bounds one attempt to decide an answer.
const decideTimeout = 2 * time.Minute

// Reconciler verifies QuoteAttestation objects and writes their Secrets and
// status.
type Reconciler struct {
	// Client reads through the manager's cache and writes.
	Client client.Client
	// Reader reads from the API server directly, to check that an object
	// is still unanswered before acting on it.
	Reader   client.Reader
	Decider  *Decider
	Recorder record.EventRecorder
	Metrics  *Metrics
}

// Setup registers a Reconciler with mgr.
func Setup(mgr ctrl.Manager, d *Decider, maxConcurrent int) error {
	r := &Reconciler{
		Client:   mgr.GetClient(),
		Reader:   mgr.GetAPIReader(),
		Decider:  d,
		Recorder: mgr.GetEventRecorderFor("tcs-keyserver"),
		Metrics:  defaultMetrics,
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("quoteattestation").
		For(&sgxv1alpha1.QuoteAttestation{}, builder.WithPredicates(unanswered())).
		WithOptions(controller.Options{MaxConcurrentReconciles: maxConcurrent}).
		Complete(r)
}

// unanswered passes events of objects that have no condition yet.
func unanswered() predicate.Predicate {
	open := func(o client.Object) bool {
		qa, ok := o.(*sgxv1alpha1.QuoteAttestation)
		return ok && qa.Status.Condition == nil
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return open(e.Object) },
		UpdateFunc:  func(e event.UpdateEvent) bool { return open(e.ObjectNew) },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(e event.GenericEvent) bool { return open(e.Object) },
	}
}

// Reconcile loads the object, decides the answer and writes it.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)

	var qa sgxv1alpha1.QuoteAttestation
	if err := r.Reader.Get(ctx, req.NamespacedName, &qa); err != nil {
		// A deleted object needs no answer.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if qa.Status.Condition != nil || !qa.DeletionTimestamp.IsZero() {
		// Answered before, by this or another replica: never answer twice.
		return ctrl.Result{}, nil
	}

	// A hung collateral service or key store must not hold a worker for
	// ever: the attempt ends and is retried with backoff.
	decideCtx, cancel := context.WithTimeout(ctx, decideTimeout)
	defer cancel()
	answer, err := r.Decider.Decide(decideCtx, Request{
		Spec:    &qa.Spec,
		UID:     qa.UID,
		Object:  req.String(),
		Created: qa.CreationTimestamp.Time,
	})
	if err != nil {
		r.Metrics.retries.WithLabelValues("decide").Inc()
		log.Info("Transient error, retrying with backoff", "error", err.Error())
		return ctrl.Result{}, err
	}
	r.Metrics.observe(answer, float64(r.Decider.now().Unix()))

	apiStart := time.Now()
	defer func() { r.Metrics.duration.WithLabelValues("api").Observe(time.Since(apiStart).Seconds()) }()
	if !answer.Failed {
		if err := r.claim(ctx, &qa, answer); err != nil {
			r.Metrics.retries.WithLabelValues("claim").Inc()
			return ctrl.Result{}, err
		}
	}
	if err := r.write(ctx, &qa, answer); err != nil {
		r.Metrics.retries.WithLabelValues("write").Inc()
		return ctrl.Result{}, err
	}

	r.Metrics.answers.WithLabelValues(conditionType(answer), answer.State).Inc()
	log.Info("Wrote the answer", "type", conditionType(answer), "state", answer.State,
		"quoteSHA256", hex.EncodeToString(answer.quoteHash))
	return ctrl.Result{}, nil
}

func conditionType(a *Answer) string {
	if a.Failed {
		return string(sgxv1alpha1.ConditionFailure)
	}
	return string(sgxv1alpha1.ConditionSuccess)
}

// claim takes the one-time claims of the request's public key and quote. A
// claim held by another object turns the answer into a rejection.
func (r *Reconciler) claim(ctx context.Context, qa *sgxv1alpha1.QuoteAttestation, a *Answer) error {
	claims := r.Decider.Claims
	if claims == nil {
		return nil
	}
	for _, c := range []struct {
		kind string
		hash []byte
	}{{ClaimPublicKey, a.publicHash}, {ClaimQuote, a.quoteHash}} {
		err := claims.Claim(ctx, c.kind, c.hash, qa.UID, qa.Namespace+"/"+qa.Name)
		if errors.Is(err, ErrReplayed) {
			owner, _ := claims.Owner(ctx, c.kind, c.hash)
			a.setFailure(replayRejection(c.kind, owner))
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// write stores the answer: first the Secrets, then the status that names
// them. On any failure the Secrets already created are deleted again, so
// no Secret outlives a failed attempt.
func (r *Reconciler) write(ctx context.Context, qa *sgxv1alpha1.QuoteAttestation, a *Answer) error {
	// Secrets left by an attempt that stopped half-way, such as one cut
	// short by a restart, go first.
	if err := r.deleteSecrets(ctx, qa); err != nil {
		return err
	}

	status := sgxv1alpha1.QuoteAttestationStatus{
		Condition: &sgxv1alpha1.QuoteAttestationCondition{
			Type:            sgxv1alpha1.ConditionType(conditionType(a)),
			State:           a.State,
			Message:         a.Message,
			LastUpdatedTime: metav1.NewTime(r.Decider.now()),
		},
	}
	if !a.Failed {
		status.Secrets = map[string]sgxv1alpha1.QuoteAttestationSecret{}
		for _, s := range a.Secrets {
			secret := newSecret(qa, s)
			if err := r.Client.Create(ctx, secret); err != nil {
				return r.rollback(ctx, qa, fmt.Errorf("create Secret %s/%s for %s: %w",
					secret.Namespace, secret.Name, s.Signer, err))
			}
			status.Secrets[s.Signer] = sgxv1alpha1.QuoteAttestationSecret{
				SecretName: secret.Name,
				SecretType: sgxv1alpha1.SecretTypeKMRA,
			}
		}
	}

	updated := qa.DeepCopy()
	updated.Status = status
	if err := r.Client.Status().Update(ctx, updated); err != nil {
		if apierrors.IsConflict(err) {
			// Someone else changed the object; the next attempt rereads it.
			return r.rollback(ctx, qa, fmt.Errorf("write status: %w", err))
		}
		return r.rollback(ctx, qa, fmt.Errorf("write status of %s/%s: %w", qa.Namespace, qa.Name, err))
	}

	if a.Failed {
		r.Recorder.Event(qa, corev1.EventTypeWarning, a.State, a.Message)
	} else {
		r.Recorder.Event(qa, corev1.EventTypeNormal, a.State, a.Message)
	}
	return nil
}

// rollback deletes the Secrets of qa and returns cause.
func (r *Reconciler) rollback(ctx context.Context, qa *sgxv1alpha1.QuoteAttestation, cause error) error {
	if err := r.deleteSecrets(ctx, qa); err != nil {
		return fmt.Errorf("%w (and the rollback failed: %v)", cause, err)
	}
	return cause
}

// deleteSecrets deletes every Secret that answers qa.
func (r *Reconciler) deleteSecrets(ctx context.Context, qa *sgxv1alpha1.QuoteAttestation) error {
	var list corev1.SecretList
	if err := r.Reader.List(ctx, &list, client.InNamespace(qa.Namespace),
		client.MatchingLabels{AttestationUIDLabel: string(qa.UID)}); err != nil {
		return fmt.Errorf("list Secrets of %s/%s: %w", qa.Namespace, qa.Name, err)
	}
	for i := range list.Items {
		err := r.Client.Delete(ctx, &list.Items[i])
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete Secret %s/%s: %w", qa.Namespace, list.Items[i].Name, err)
		}
	}
	return nil
}

// newSecret builds the Secret of one signer, owned by qa so that deleting
// qa deletes it.
func newSecret(qa *sgxv1alpha1.QuoteAttestation, s SignerSecret) *corev1.Secret {
	name := secretName(qa, s.Signer)
	controllerRef := false
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: qa.Namespace,
			Name:      name,
			// A label value has at most 63 characters, so the request's
			// name, which may be longer, is an annotation.
			Labels: map[string]string{AttestationUIDLabel: string(qa.UID)},
			Annotations: map[string]string{
				SecretSignerAnnotation:    s.Signer,
				AttestationNameAnnotation: qa.Name,
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: sgxv1alpha1.GroupVersion.String(),
				Kind:       "QuoteAttestation",
				Name:       qa.Name,
				UID:        qa.UID,
				Controller: &controllerRef,
			}},
		},
		Type: corev1.SecretTypeOpaque,
		Data: s.Data,
	}
}

// secretName returns the name of the Secret for signer: a prefix of the
// request's name and a hash of the request's UID and the signer, so that
// names never collide, even for long request names that share a prefix.
func secretName(qa *sgxv1alpha1.QuoteAttestation, signer string) string {
	sum := sha256.Sum256([]byte(string(qa.UID) + "\x00" + signer))
	suffix := hex.EncodeToString(sum[:6])
	// A Secret name is a DNS subdomain of at most 253 characters.
	prefix := qa.Name
	if max := 253 - len(suffix) - 1; len(prefix) > max {
		prefix = strings.TrimRight(prefix[:max], "-.")
	}
	return prefix + "-" + suffix
}
