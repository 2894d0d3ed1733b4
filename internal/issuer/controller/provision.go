package controller

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
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
	"github.com/tcs-project/tcs/internal/issuer/castore"
	"github.com/tcs-project/tcs/internal/issuer/metrics"
)

// requestNamePrefix starts the name of every QuoteAttestation and of its
// quote key in the token, which share the name.
const requestNamePrefix = "tcs-issuer-"

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

// request makes a quote key and a quote and creates one QuoteAttestation
// for the signers.
func (p *Provisioner) request(ctx context.Context, signers []string) error {
	if p.cfg.Quoter == nil {
		return nil
	}
	name, err := newRequestName()
	if err != nil {
		return err
	}
	for _, s := range signers {
		p.setProgress(s, Progress{Phase: PhaseRequested, Request: name, Attempts: p.Progress(s).Attempts})
	}
	qa, err := p.newRequest(ctx, name, signers)
	if err != nil {
		for _, s := range signers {
			p.fail(s, name, ReasonProvisioningFailure, sentence(err))
		}
		return err
	}
	if err := p.client.Create(ctx, qa); err != nil {
		_ = p.cfg.Token.DeleteQuoteKey(name)
		err = fmt.Errorf("create QuoteAttestation %s/%s: %w", p.cfg.Namespace, name, err)
		for _, s := range signers {
			p.fail(s, name, ReasonProvisioningFailure, sentence(err))
		}
		return err
	}
	p.created[name] = struct{}{}
	metrics.ProvisioningRequests.Inc()
	log.FromContext(ctx).Info("Requested CA keys from the key server",
		"quoteAttestation", name, "signerNames", signers)
	return nil
}

func (p *Provisioner) newRequest(ctx context.Context, name string, signers []string) (
	*sgxv1alpha1.QuoteAttestation, error) {
	qk, err := p.cfg.Token.GenerateQuoteKey(name)
	if err != nil {
		return nil, fmt.Errorf("generate quote key %s: %w", name, err)
	}
	quote, err := p.cfg.Quoter.Quote(qk)
	if err != nil {
		_ = p.cfg.Token.DeleteQuoteKey(name)
		return nil, fmt.Errorf("make a quote for quote key %s: %w", name, err)
	}
	der, err := x509.MarshalPKIXPublicKey(qk.Public)
	if err != nil {
		_ = p.cfg.Token.DeleteQuoteKey(name)
		return nil, fmt.Errorf("encode quote key %s: %w", name, err)
	}
	return &sgxv1alpha1.QuoteAttestation{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: p.cfg.Namespace,
			Name:      name,
			Labels:    p.requestLabels(ctx, signers),
		},
		Spec: sgxv1alpha1.QuoteAttestationSpec{
			Quote:        quote.Quote,
			QuoteVersion: sgxv1alpha1.ECDSAQuoteVersion3,
			ServiceID:    p.cfg.ServiceID,
			PublicKey:    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
			SignerNames:  signers,
			Nonce:        quote.Nonce[:],
		},
	}, nil
}

// requestLabels merges the spec.labels of the issuers of a request; the
// managed-by label wins over any of them.
func (p *Provisioner) requestLabels(ctx context.Context, signers []string) map[string]string {
	labels := make(map[string]string)
	for _, s := range signers {
		key, ok := ParseSignerName(s)
		if !ok {
			continue
		}
		obj, _ := NewIssuerObject(key.Kind)
		if err := p.client.Get(ctx, key.Key, obj); err != nil {
			continue
		}
		v, _ := viewIssuer(obj)
		for k, val := range v.spec.Labels {
			if _, exists := labels[k]; !exists {
				labels[k] = val
			}
		}
	}
	labels[ManagedByLabel] = ManagedByValue
	return labels
}

func newRequestName() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make a request name: %w", err)
	}
	return requestNamePrefix + hex.EncodeToString(b[:]), nil
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

// deliverAll imports the keys that a request with Success delivered, for
// each signer that still needs a CA. A signer whose delivery is rejected
// fails and is requested again after its backoff. It returns an error only
// when reading from the API server failed, and then the request is kept.
func (p *Provisioner) deliverAll(ctx context.Context, qa *sgxv1alpha1.QuoteAttestation, needed []string) error {
	qk, findErr := p.cfg.Token.FindQuoteKey(qa.Name)
	var transient []error
	for _, s := range qa.Spec.SignerNames {
		if !slices.Contains(needed, s) {
			continue
		}
		err := findErr
		if err == nil {
			err = p.deliver(ctx, qa, qk, s)
		}
		if errors.Is(err, errTransient) {
			transient = append(transient, err)
			continue
		}
		if errors.Is(err, errNotNeeded) {
			p.Forget(s)
			continue
		}
		if err != nil {
			log.FromContext(ctx).Error(err, "Rejected a delivery", "quoteAttestation", qa.Name, "signerName", s)
			p.fail(s, qa.Name, ReasonDeliveryRejected, sentence(err))
			p.events.Eventf(qa, nil, "Warning", ReasonDeliveryRejected, "Import", "%s: %s", s, err.Error())
			continue
		}
		p.setProgress(s, Progress{})
		metrics.ProvisioningResults.WithLabelValues("Imported").Inc()
		log.FromContext(ctx).Info("Imported a CA key into the token", "quoteAttestation", qa.Name, "signerName", s)
	}
	return errors.Join(transient...)
}

// errTransient marks a failed read from the API server during a delivery,
// which is worth retrying with the same request.
var errTransient = errors.New("temporary failure")

// errNotNeeded reports a delivery for an issuer that was deleted meanwhile.
var errNotNeeded = errors.New("issuer no longer exists")

// deliver verifies and imports one signer's Secret.
func (p *Provisioner) deliver(ctx context.Context, qa *sgxv1alpha1.QuoteAttestation, qk *token.QuoteKey,
	signerName string) error {
	ref, ok := qa.Status.Secrets[signerName]
	if !ok {
		return fmt.Errorf("the key server set Success but status.secrets has no entry for %s", signerName)
	}
	var secret corev1.Secret
	key := types.NamespacedName{Namespace: qa.Namespace, Name: ref.SecretName}
	err := p.apiReader.Get(ctx, key, &secret)
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("delivered secret %s named in status.secrets does not exist", key)
	}
	if err != nil {
		return fmt.Errorf("%w: read delivered secret %s: %w", errTransient, key, err)
	}
	d, err := decodeDelivery(ref, &secret)
	if err != nil {
		return err
	}
	if p.cfg.KeyServerPublicKey != nil {
		if err := verifyReceipt(p.cfg.KeyServerPublicKey, qa, qk, signerName, &secret); err != nil {
			return err
		}
	}

	unlock := p.locks.lock(signerName)
	defer unlock()
	if still, err := p.stillNeeded(ctx, signerName); err != nil {
		return fmt.Errorf("%w: %w", errTransient, err)
	} else if !still {
		return errNotNeeded
	}
	s, err := p.cfg.Token.ImportKMRA(qk, signerName, d.blob, d.chain[0])
	if errors.Is(err, token.ErrExists) {
		// An earlier process imported it and stopped before cleaning up.
		s, err = p.cfg.Token.FindSigner(signerName)
		if err == nil && !s.Certificate().Equal(d.chain[0]) {
			err = fmt.Errorf("the token already has another CA for %s", signerName)
		}
	}
	if err != nil {
		return fmt.Errorf("import the CA key of %s into the token: %w", signerName, err)
	}
	p.cfg.CAs.Put(&castore.CA{SignerName: signerName, Signer: s, Chain: d.chain})
	return nil
}

// stillNeeded reads from the API server, not the cache, whether the signer's
// issuer exists and is not being deleted, so that no key is imported for
// an issuer whose finalizer already ran.
func (p *Provisioner) stillNeeded(ctx context.Context, signerName string) (bool, error) {
	key, ok := ParseSignerName(signerName)
	if !ok {
		return false, nil
	}
	obj, _ := NewIssuerObject(key.Kind)
	err := p.apiReader.Get(ctx, key.Key, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s %s: %w", key.Kind, key.Key, err)
	}
	return obj.GetDeletionTimestamp().IsZero(), nil
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
