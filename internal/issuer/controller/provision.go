package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/issuer/metrics"
)

// provisionKey is the only request the provisioner reconciles: every
// change of an issuer or a QuoteAttestation looks at the whole picture,
// so that one request can serve several issuers.
var provisionKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "provisioning"}}

// Provisioner requests CA keys for issuers with selfSign false through
// QuoteAttestations and imports the delivered keys into the token.
type Provisioner struct {
	client    client.Client
	apiReader client.Reader
	// requests reads QuoteAttestations from a cache of the operator's
	// namespace alone, the only one where the issuer may list them.
	requests client.Reader
	cfg      *Config
	locks    *signerLocks
	events   eventRecorder

	// created and deleted are the provisioner's own writes that the cache
	// may not show yet. Only Reconcile uses them, and the controller runs
	// one Reconcile at a time.
	created map[string]struct{}
	deleted map[types.UID]bool

	mu       sync.Mutex
	progress map[string]Progress
	// notify wakes the issuer reconcilers, one channel per kind.
	notify map[string]chan event.GenericEvent
}

// Progress returns the provisioning state of a signer.
func (p *Provisioner) Progress(signerName string) Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.progress[signerName]
}

// Forget drops the state of a deleted issuer's signer.
func (p *Provisioner) Forget(signerName string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.progress, signerName)
}

func (p *Provisioner) setProgress(signerName string, pr Progress) {
	p.mu.Lock()
	old, had := p.progress[signerName]
	p.progress[signerName] = pr
	p.mu.Unlock()
	if !had || old != pr {
		p.wake(signerName)
	}
}

// fail records a failed attempt for the signer and schedules its retry.
func (p *Provisioner) fail(signerName, request, reason, message string) {
	p.mu.Lock()
	attempts := p.progress[signerName].Attempts + 1
	p.mu.Unlock()
	delay := retryDelay(attempts, p.cfg.RetryInitial, p.cfg.RetryMax)
	metrics.ProvisioningResults.WithLabelValues(reason).Inc()
	p.setProgress(signerName, Progress{
		Phase: PhaseFailed, Request: request, Reason: reason, Message: message,
		Attempts: attempts, RetryAt: p.cfg.Now().Add(delay),
	})
}

// wake enqueues the issuer of a signer name with its reconciler.
func (p *Provisioner) wake(signerName string) {
	key, ok := ParseSignerName(signerName)
	if !ok {
		return
	}
	ch := p.notify[key.Kind]
	if ch == nil {
		return
	}
	obj, _ := NewIssuerObject(key.Kind)
	obj.SetNamespace(key.Key.Namespace)
	obj.SetName(key.Key.Name)
	select {
	case ch <- event.GenericEvent{Object: obj}:
	default:
		// The channel is full; the issuer's periodic resync and its
		// own watch events still reach it.
	}
}

// Reconcile finds the signers that need a CA, looks at every
// QuoteAttestation of this operator, and acts on planProvisioning's plan.
func (p *Provisioner) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	needed, err := p.neededSigners(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	requests, err := p.loadRequests(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	byName := make(map[string]*sgxv1alpha1.QuoteAttestation)
	states := make([]requestState, 0, len(requests))
	for _, qa := range requests {
		_, err := p.cfg.Token.FindQuoteKey(qa.Name)
		if err != nil && !errors.Is(err, token.ErrNotFound) {
			return reconcile.Result{}, fmt.Errorf("find quote key %s: %w", qa.Name, err)
		}
		byName[qa.Name] = qa
		states = append(states, requestState{
			Name: qa.Name, SignerNames: qa.Spec.SignerNames,
			Condition: qa.Status.Condition, HasQuoteKey: err == nil,
		})
	}
	slices.SortFunc(states, func(a, b requestState) int {
		return byName[a.Name].CreationTimestamp.Compare(byName[b.Name].CreationTimestamp.Time)
	})

	p.mu.Lock()
	progress := maps.Clone(p.progress)
	p.mu.Unlock()
	plan := planProvisioning(provisionInput{Needed: needed, Requests: states, Progress: progress, Now: p.cfg.Now()})

	var errs []error
	for _, name := range plan.Discard {
		log.FromContext(ctx).Info("Deleting a request that can no longer be used", "quoteAttestation", name)
		errs = append(errs, p.cleanup(ctx, byName[name]))
	}
	for signer, name := range plan.Pending {
		if slices.Contains(needed, signer) {
			p.setProgress(signer, Progress{Phase: PhaseRequested, Request: name,
				Attempts: progress[signer].Attempts})
		}
	}
	for _, name := range plan.Fail {
		p.recordFailure(ctx, byName[name], needed)
		errs = append(errs, p.cleanup(ctx, byName[name]))
	}
	for _, name := range plan.Deliver {
		if err := p.deliverAll(ctx, byName[name], needed); err != nil {
			// Keep the request, so that the next attempt can still
			// import what it delivered.
			errs = append(errs, err)
			continue
		}
		errs = append(errs, p.cleanup(ctx, byName[name]))
	}
	for _, group := range plan.NewRequests {
		errs = append(errs, p.request(ctx, group))
	}
	if err := errors.Join(errs...); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: plan.RequeueAfter}, nil
}

// loadRequests returns this operator's QuoteAttestations. The cache may
// lag behind this provisioner's own writes, so requests it created are read
// from the API server until the cache has them, and requests it deleted are
// skipped until the cache drops them. Without that, a request would be made
// twice or a Failure counted twice.
func (p *Provisioner) loadRequests(ctx context.Context) ([]*sgxv1alpha1.QuoteAttestation, error) {
	var list sgxv1alpha1.QuoteAttestationList
	if err := p.requests.List(ctx, &list, client.InNamespace(p.cfg.Namespace),
		client.MatchingLabels{ManagedByLabel: ManagedByValue}); err != nil {
		return nil, fmt.Errorf("list QuoteAttestations in %s: %w", p.cfg.Namespace, err)
	}
	var out []*sgxv1alpha1.QuoteAttestation
	listed := make(map[string]bool)
	stillDeleted := make(map[types.UID]bool)
	for i := range list.Items {
		qa := &list.Items[i]
		listed[qa.Name] = true
		if p.deleted[qa.UID] {
			stillDeleted[qa.UID] = true
			continue
		}
		if qa.DeletionTimestamp.IsZero() {
			out = append(out, qa)
		}
	}
	p.deleted = stillDeleted

	for name := range p.created {
		if listed[name] {
			delete(p.created, name)
			continue
		}
		var qa sgxv1alpha1.QuoteAttestation
		err := p.apiReader.Get(ctx, types.NamespacedName{Namespace: p.cfg.Namespace, Name: name}, &qa)
		if apierrors.IsNotFound(err) {
			delete(p.created, name)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read QuoteAttestation %s/%s: %w", p.cfg.Namespace, name, err)
		}
		if !p.deleted[qa.UID] && qa.DeletionTimestamp.IsZero() {
			out = append(out, &qa)
		}
	}
	return out, nil
}

// neededSigners lists the signers of issuers with selfSign false, not
// being deleted, whose CA is not in the token.
func (p *Provisioner) neededSigners(ctx context.Context) ([]string, error) {
	var views []issuerView
	var issuers tcsv1alpha1.TCSIssuerList
	if err := p.client.List(ctx, &issuers); err != nil {
		return nil, fmt.Errorf("list TCSIssuers: %w", err)
	}
	for i := range issuers.Items {
		v, _ := viewIssuer(&issuers.Items[i])
		views = append(views, v)
	}
	var clusterIssuers tcsv1alpha1.TCSClusterIssuerList
	if err := p.client.List(ctx, &clusterIssuers); err != nil {
		return nil, fmt.Errorf("list TCSClusterIssuers: %w", err)
	}
	for i := range clusterIssuers.Items {
		v, _ := viewIssuer(&clusterIssuers.Items[i])
		views = append(views, v)
	}

	var needed []string
	for _, v := range views {
		if v.spec.SelfSigned() || !v.object.GetDeletionTimestamp().IsZero() {
			continue
		}
		have, err := p.haveCA(v.signerName)
		if err != nil {
			return nil, err
		}
		if !have {
			needed = append(needed, v.signerName)
		}
	}
	return needed, nil
}

func (p *Provisioner) haveCA(signerName string) (bool, error) {
	if _, ok := p.cfg.CAs.Get(signerName); ok {
		return true, nil
	}
	_, err := p.cfg.Token.FindSigner(signerName)
	if errors.Is(err, token.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find signer %s in the token: %w", signerName, err)
	}
	return true, nil
}

// recordFailure passes the key server's state and message to every signer
// of the request that still needs a CA.
func (p *Provisioner) recordFailure(ctx context.Context, qa *sgxv1alpha1.QuoteAttestation, needed []string) {
	c := qa.Status.Condition
	reason := c.State
	if reason == "" {
		reason = ReasonProvisioningFailure
	}
	message := c.Message
	if message == "" {
		message = "The key server set Failure without a message."
	}
	log.FromContext(ctx).Info("The key server rejected a request",
		"quoteAttestation", qa.Name, "state", c.State, "message", c.Message)
	for _, s := range qa.Spec.SignerNames {
		if slices.Contains(needed, s) {
			p.fail(s, qa.Name, reason, "The key server rejected the request: "+message)
		}
	}
}

// cleanup deletes a request's Secrets, then the request, then its quote
// key, in that order so that a restart in between finds what is left.
func (p *Provisioner) cleanup(ctx context.Context, qa *sgxv1alpha1.QuoteAttestation) error {
	for _, ref := range qa.Status.Secrets {
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: qa.Namespace, Name: ref.SecretName}}
		if err := p.client.Delete(ctx, secret); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete delivered secret %s/%s: %w", qa.Namespace, ref.SecretName, err)
		}
	}
	if err := p.client.Delete(ctx, qa, client.Preconditions{UID: &qa.UID}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete QuoteAttestation %s/%s: %w", qa.Namespace, qa.Name, err)
	}
	p.deleted[qa.UID] = true
	delete(p.created, qa.Name)
	if err := p.cfg.Token.DeleteQuoteKey(qa.Name); err != nil && !errors.Is(err, token.ErrNotFound) {
		return fmt.Errorf("delete quote key %s: %w", qa.Name, err)
	}
	return nil
}
