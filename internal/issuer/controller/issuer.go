package controller

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/issuer/castore"
)

// IssuerReconciler reconciles one issuer kind, TCSIssuer or
// TCSClusterIssuer: it keeps the issuer's CA in the token, in the CA store
// and in the published Secret, and reports it in the Ready condition.
type IssuerReconciler struct {
	client    client.Client
	apiReader client.Reader
	cfg       *Config
	kind      string
	prov      *Provisioner
	locks     *signerLocks
	events    eventRecorder
}

// Reconcile loads the issuer, decides with decideIssuer and applies the
// decision.
func (r *IssuerReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	obj, _ := NewIssuerObject(r.kind)
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		// A deleted issuer was cleaned up by its finalizer.
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	v, err := viewIssuer(obj)
	if err != nil {
		return reconcile.Result{}, reconcile.TerminalError(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return reconcile.Result{}, r.finalize(ctx, v)
	}
	if controllerutil.AddFinalizer(obj, Finalizer) {
		if err := r.client.Update(ctx, obj); err != nil {
			return reconcile.Result{}, fmt.Errorf("add finalizer to %s %s: %w", v.kind, req.NamespacedName, err)
		}
	}

	ca, err := r.loadCA(ctx, v)
	if err != nil {
		return reconcile.Result{}, r.fail(ctx, v, ReasonTokenFailure, err)
	}
	now := r.cfg.Now()
	d := decideIssuer(issuerInput{
		SelfSign:  v.spec.SelfSigned(),
		HaveCA:    ca != nil,
		CanQuote:  r.cfg.Quoter != nil,
		Progress:  r.prov.Progress(v.signerName),
		Namespace: r.cfg.Namespace,
		Now:       now,
	})

	switch d.Action {
	case actionGenerate:
		ca, err = r.generate(v)
		if errors.Is(err, token.ErrUnsupportedKey) {
			// The configured key algorithm cannot work until an operator
			// changes it, so retrying is pointless.
			return reconcile.Result{}, reconcile.TerminalError(r.fail(ctx, v, ReasonTokenFailure, err))
		}
		if err != nil {
			return reconcile.Result{}, r.fail(ctx, v, ReasonTokenFailure, err)
		}
		r.events.Eventf(obj, nil, "Normal", ReasonSelfSigned, "GenerateCA",
			"Generated a self-signed CA in token %s", r.cfg.Token.Label())
		fallthrough
	case actionPublish:
		if err := r.publish(ctx, v, ca); err != nil {
			reason := ReasonProvisioningFailure
			if errors.Is(err, errSecretConflict) {
				reason = ReasonSecretConflict
			}
			return reconcile.Result{}, r.fail(ctx, v, reason, err)
		}
		if cur, ok := r.cfg.CAs.Get(v.signerName); !ok || cur != ca {
			r.cfg.CAs.Put(ca)
		}
	}
	if err := r.setReady(ctx, v, d.Ready, d.Reason, d.Message); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: d.RequeueAfter}, nil
}

// loadCA returns the issuer's CA from the store or, after a restart, from
// the token. It returns nil when the token has no signer of that name.
func (r *IssuerReconciler) loadCA(ctx context.Context, v issuerView) (*castore.CA, error) {
	if ca, ok := r.cfg.CAs.Get(v.signerName); ok {
		return ca, nil
	}
	s, err := r.cfg.Token.FindSigner(v.signerName)
	if errors.Is(err, token.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find signer %s in the token: %w", v.signerName, err)
	}
	chain := r.publishedChain(ctx, v, s.Certificate())
	return &castore.CA{SignerName: v.signerName, Signer: s, Chain: chain}, nil
}

func (r *IssuerReconciler) generate(v issuerView) (*castore.CA, error) {
	unlock := r.locks.lock(v.signerName)
	defer unlock()
	s, err := r.cfg.Token.GenerateSelfSignedCA(v.signerName, r.cfg.CAOptions)
	if errors.Is(err, token.ErrExists) {
		// A provisioned key came first; keep it.
		s, err = r.cfg.Token.FindSigner(v.signerName)
	}
	if err != nil {
		return nil, fmt.Errorf("generate the CA of %s in the token: %w", v.signerName, err)
	}
	return &castore.CA{SignerName: v.signerName, Signer: s, Chain: []*x509.Certificate{s.Certificate()}}, nil
}

// finalize removes the issuer's CA from the store and the token, deletes its
// published Secret and then lets the API server delete the issuer.
func (r *IssuerReconciler) finalize(ctx context.Context, v issuerView) error {
	if !controllerutil.ContainsFinalizer(v.object, Finalizer) {
		return nil
	}
	unlock := r.locks.lock(v.signerName)
	defer unlock()
	r.cfg.CAs.Delete(v.signerName)
	err := r.cfg.Token.DeleteSigner(v.signerName)
	if err != nil && !errors.Is(err, token.ErrNotFound) {
		return fmt.Errorf("delete signer %s from the token: %w", v.signerName, err)
	}
	if err == nil {
		log.FromContext(ctx).Info("Removed the CA from the token", "signerName", v.signerName)
	}
	if err := r.unpublish(ctx, v); err != nil {
		return err
	}
	r.prov.Forget(v.signerName)
	controllerutil.RemoveFinalizer(v.object, Finalizer)
	if err := r.client.Update(ctx, v.object); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("remove finalizer of %s %s: %w", v.kind, client.ObjectKeyFromObject(v.object), err)
	}
	return nil
}

// fail reports err in the Ready condition and returns it, so that the
// request is retried with the controller's backoff.
func (r *IssuerReconciler) fail(ctx context.Context, v issuerView, reason string, err error) error {
	if serr := r.setReady(ctx, v, metav1.ConditionFalse, reason, sentence(err)); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

func (r *IssuerReconciler) setReady(ctx context.Context, v issuerView, status metav1.ConditionStatus,
	reason, message string) error {
	before := v.object.DeepCopyObject().(client.Object)
	changed := meta.SetStatusCondition(&v.status.Conditions, metav1.Condition{
		Type:               tcsv1alpha1.ConditionReady,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: v.object.GetGeneration(),
	})
	if !changed {
		return nil
	}
	// A merge patch carries no resource version, so a cache that is one
	// write behind causes no conflict. The controller is the only writer of
	// the conditions.
	if err := r.client.Status().Patch(ctx, v.object, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("update status of %s %s: %w", v.kind, client.ObjectKeyFromObject(v.object), err)
	}
	// Each change of the condition is also an Event, so that the history
	// stays visible after the condition changes again.
	eventType := "Normal"
	if status != metav1.ConditionTrue {
		eventType = "Warning"
	}
	r.events.Eventf(v.object, nil, eventType, reason, "SetReady", "%s", message)
	return nil
}

// sentence turns an error into a status message: capitalised, with a full
// stop.
func sentence(err error) string {
	s := err.Error()
	if s == "" {
		return s
	}
	if s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	if s[len(s)-1] != '.' {
		s += "."
	}
	return s
}
