// Package csr signs Kubernetes CertificateSigningRequests for the signer
// names of TCSIssuer and TCSClusterIssuer objects.
package csr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
	"github.com/tcs-project/tcs/internal/issuer/castore"
	"github.com/tcs-project/tcs/internal/issuer/metrics"
	"github.com/tcs-project/tcs/internal/signing"
)

// Reasons of the Failed condition.
const (
	ReasonInvalidRequest = "InvalidRequest"
)

// DefaultNotReadyRetry is how long a request for a signer whose CA is not
// ready waits before it is looked at again. The CA store wakes such
// requests as soon as their CA is ready, so this is only a safety net.
const DefaultNotReadyRetry = time.Minute

// Config configures the signer.
type Config struct {
	// CAs are the CAs ready to sign.
	CAs *castore.Store
	// Signing bounds what is issued.
	Signing signing.Config
	// FullChain appends the whole CA chain, up to and including its root,
	// to status.certificate after the issued certificate.
	FullChain bool
	// MaxConcurrentReconciles is how many requests are signed at once;
	// zero means 4.
	MaxConcurrentReconciles int
	// NotReadyRetry is the wait for a CA that is not ready; zero selects
	// DefaultNotReadyRetry.
	NotReadyRetry time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Reconciler signs approved CertificateSigningRequests.
type Reconciler struct {
	client client.Client
	cfg    Config
}

// IsOwnSigner reports whether a signer name is one of a TCS issuer.
func IsOwnSigner(signerName string) bool {
	return strings.HasPrefix(signerName, tcsv1alpha1.IssuerSignerPrefix) ||
		strings.HasPrefix(signerName, tcsv1alpha1.ClusterIssuerSignerPrefix)
}

// Setup registers the signer with mgr.
func Setup(mgr ctrl.Manager, cfg Config) error {
	if cfg.CAs == nil {
		return errors.New("csr signer needs a CA store")
	}
	if cfg.NotReadyRetry <= 0 {
		cfg.NotReadyRetry = DefaultNotReadyRetry
	}
	if cfg.MaxConcurrentReconciles <= 0 {
		cfg.MaxConcurrentReconciles = 4
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Reconciler{client: mgr.GetClient(), cfg: cfg}
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &certificatesv1.CertificateSigningRequest{},
		signerNameField, func(obj client.Object) []string {
			c := obj.(*certificatesv1.CertificateSigningRequest)
			if !IsOwnSigner(c.Spec.SignerName) {
				return nil
			}
			return []string{c.Spec.SignerName}
		})
	if err != nil {
		return fmt.Errorf("index CertificateSigningRequests by signer name: %w", err)
	}
	own := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		c, ok := obj.(*certificatesv1.CertificateSigningRequest)
		return ok && IsOwnSigner(c.Spec.SignerName)
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("certificatesigningrequest").
		For(&certificatesv1.CertificateSigningRequest{}, builder.WithPredicates(own)).
		WatchesRawSource(cfg.CAs.ReadySource(r.waitingFor)).
		WithOptions(ctrlOptions(cfg.MaxConcurrentReconciles)).
		Complete(r)
}

// signerNameField indexes the CSRs of our signers by spec.signerName.
const signerNameField = "spec.signerName"

// waitingFor returns the unsigned requests of a signer whose CA just
// became ready.
func (r *Reconciler) waitingFor(ctx context.Context, signerName string) []reconcile.Request {
	var list certificatesv1.CertificateSigningRequestList
	if err := r.client.List(ctx, &list, client.MatchingFields{signerNameField: signerName}); err != nil {
		log.FromContext(ctx).Error(err, "Failed to list the requests of a ready CA", "signerName", signerName)
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if len(list.Items[i].Status.Certificate) == 0 {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

type action int

const (
	actionNone action = iota
	actionWaitForCA
	actionSign
)

// decide chooses what to do with a request of one of our signers. A request
// that is signed, failed, denied or not yet approved needs nothing. An
// approved one is signed when its CA is ready and waits otherwise.
func decide(c *certificatesv1.CertificateSigningRequest, caReady bool) action {
	if len(c.Status.Certificate) > 0 {
		return actionNone
	}
	approved := false
	for _, cond := range c.Status.Conditions {
		switch cond.Type {
		case certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			if cond.Status == corev1.ConditionTrue {
				return actionNone
			}
		case certificatesv1.CertificateApproved:
			approved = cond.Status == corev1.ConditionTrue
		}
	}
	if !approved {
		return actionNone
	}
	if !caReady {
		return actionWaitForCA
	}
	return actionSign
}

// Reconcile loads the request, decides and signs it or marks it failed.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var c certificatesv1.CertificateSigningRequest
	if err := r.client.Get(ctx, req.NamespacedName, &c); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	ca, ok := r.cfg.CAs.Get(c.Spec.SignerName)
	switch decide(&c, ok) {
	case actionNone:
		return reconcile.Result{}, nil
	case actionWaitForCA:
		log.FromContext(ctx).V(1).Info("Waiting for the signer's CA", "signerName", c.Spec.SignerName)
		return reconcile.Result{RequeueAfter: r.cfg.NotReadyRetry}, nil
	}

	certPEM, err := r.sign(ca, &c)
	if signing.IsPermanent(err) {
		return reconcile.Result{}, r.markFailed(ctx, &c, err)
	}
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("sign CertificateSigningRequest %s: %w", c.Name, err)
	}
	c.Status.Certificate = certPEM
	if err := r.client.Status().Update(ctx, &c); err != nil {
		return reconcile.Result{}, fmt.Errorf("store the certificate of CertificateSigningRequest %s: %w", c.Name, err)
	}
	metrics.Signed.WithLabelValues(metrics.APICertificateSigningRequest).Inc()
	log.FromContext(ctx).V(1).Info("Signed", "signerName", c.Spec.SignerName)
	return reconcile.Result{}, nil
}

func (r *Reconciler) sign(ca *castore.CA, c *certificatesv1.CertificateSigningRequest) ([]byte, error) {
	req := signing.Request{CSR: c.Spec.Request}
	if c.Spec.ExpirationSeconds != nil {
		req.Duration = time.Duration(*c.Spec.ExpirationSeconds) * time.Second
	}
	for _, u := range c.Spec.Usages {
		req.Usages = append(req.Usages, string(u))
	}
	start := time.Now()
	der, err := r.cfg.Signing.Sign(ca.Certificate(), ca.Signer, req, r.cfg.Now())
	if err != nil {
		return nil, err
	}
	metrics.SignDuration.WithLabelValues(metrics.APICertificateSigningRequest).Observe(time.Since(start).Seconds())
	out := pemCertificate(der)
	if r.cfg.FullChain {
		out = append(out, castore.EncodePEM(ca.Chain...)...)
	}
	return out, nil
}

// markFailed sets the Failed condition, which ends the request for good.
func (r *Reconciler) markFailed(ctx context.Context, c *certificatesv1.CertificateSigningRequest, cause error) error {
	now := metav1.NewTime(r.cfg.Now())
	c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type:               certificatesv1.CertificateFailed,
		Status:             corev1.ConditionTrue,
		Reason:             ReasonInvalidRequest,
		Message:            cause.Error(),
		LastUpdateTime:     now,
		LastTransitionTime: now,
	})
	if err := r.client.Status().Update(ctx, c); err != nil {
		return fmt.Errorf("mark CertificateSigningRequest %s failed: %w", c.Name, err)
	}
	metrics.Rejected.WithLabelValues(metrics.APICertificateSigningRequest, ReasonInvalidRequest).Inc()
	log.FromContext(ctx).Info("Rejected an invalid request", "signerName", c.Spec.SignerName, "error", cause.Error())
	return nil
}
