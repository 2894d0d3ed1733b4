// Package certmanager signs cert-manager CertificateRequests whose issuer
// reference names a TCSIssuer or TCSClusterIssuer of group tcs.intel.com.
package certmanager

import (
	"context"
	"errors"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
	"github.com/tcs-project/tcs/internal/issuer/castore"
	"github.com/tcs-project/tcs/internal/issuer/metrics"
	"github.com/tcs-project/tcs/internal/signing"
)

// Reasons of the Ready condition that this signer sets, besides
// cert-manager's Pending, Failed, Issued and Denied.
const (
	ReasonIssuerNotFound = "IssuerNotFound"
	ReasonIssuerNotReady = "IssuerNotReady"
)

// DefaultNotReadyRetry is how long a request for a missing or unready
// issuer waits before it is looked at again. The CA store wakes such
// requests as soon as their CA is ready, so this is only a safety net.
const DefaultNotReadyRetry = time.Minute

// Config configures the signer.
type Config struct {
	// CAs are the CAs ready to sign.
	CAs *castore.Store
	// Signing bounds what is issued.
	Signing signing.Config
	// MaxConcurrentReconciles is how many requests are signed at once;
	// zero means 4.
	MaxConcurrentReconciles int
	// NotReadyRetry is the wait for a missing or unready issuer; zero
	// selects DefaultNotReadyRetry.
	NotReadyRetry time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Reconciler signs approved CertificateRequests.
type Reconciler struct {
	client client.Client
	cfg    Config
}

// IsOwnIssuer reports whether an issuer reference names a TCS issuer.
func IsOwnIssuer(ref cmmeta.IssuerReference) bool {
	return ref.Group == tcsv1alpha1.GroupVersion.Group &&
		(ref.Kind == "TCSIssuer" || ref.Kind == "TCSClusterIssuer")
}

// Setup registers the signer with mgr. The scheme of mgr must know the
// cert-manager types.
func Setup(mgr ctrl.Manager, cfg Config) error {
	if cfg.CAs == nil {
		return errors.New("certificate request signer needs a CA store")
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
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &cmapi.CertificateRequest{},
		signerNameField, func(obj client.Object) []string {
			if name := signerName(obj.(*cmapi.CertificateRequest)); name != "" {
				return []string{name}
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("index CertificateRequests by signer name: %w", err)
	}
	own := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		cr, ok := obj.(*cmapi.CertificateRequest)
		return ok && IsOwnIssuer(cr.Spec.IssuerRef)
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("certificaterequest").
		For(&cmapi.CertificateRequest{}, builder.WithPredicates(own)).
		WatchesRawSource(cfg.CAs.ReadySource(r.waitingFor)).
		WithOptions(controller.Options{MaxConcurrentReconciles: cfg.MaxConcurrentReconciles}).
		Complete(r)
}

// signerNameField indexes requests for our issuers by the signer name of
// the issuer they reference.
const signerNameField = "tcs.signerName"

// signerName returns the signer name of the issuer a request references,
// or "" for a request of another issuer.
func signerName(cr *cmapi.CertificateRequest) string {
	ref := cr.Spec.IssuerRef
	if !IsOwnIssuer(ref) {
		return ""
	}
	if ref.Kind == "TCSIssuer" {
		return (&tcsv1alpha1.TCSIssuer{ObjectMeta: metav1.ObjectMeta{Namespace: cr.Namespace, Name: ref.Name}}).SignerName()
	}
	return (&tcsv1alpha1.TCSClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: ref.Name}}).SignerName()
}

// waitingFor returns the open requests for an issuer whose CA just became
// ready.
func (r *Reconciler) waitingFor(ctx context.Context, signer string) []reconcile.Request {
	var list cmapi.CertificateRequestList
	if err := r.client.List(ctx, &list, client.MatchingFields{signerNameField: signer}); err != nil {
		log.FromContext(ctx).Error(err, "Failed to list the requests of a ready CA", "signerName", signer)
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if decide(&list.Items[i]) == actionCheckIssuer {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

type action int

const (
	actionNone action = iota
	actionDeny
	actionWaitApproval
	actionCheckIssuer
)

// decide chooses what to do with a request: nothing once it is final,
// mark a denied one failed, report a pending approval, or look at the
// issuer and sign.
func decide(cr *cmapi.CertificateRequest) action {
	if len(cr.Status.Certificate) > 0 || cr.Status.FailureTime != nil {
		return actionNone
	}
	if ready := condition(cr, cmapi.CertificateRequestConditionReady); ready != nil &&
		(ready.Reason == cmapi.CertificateRequestReasonDenied ||
			ready.Reason == cmapi.CertificateRequestReasonFailed ||
			ready.Reason == cmapi.CertificateRequestReasonIssued) {
		return actionNone
	}
	if c := condition(cr, cmapi.CertificateRequestConditionInvalidRequest); c != nil && c.Status == cmmeta.ConditionTrue {
		return actionNone
	}
	if c := condition(cr, cmapi.CertificateRequestConditionDenied); c != nil && c.Status == cmmeta.ConditionTrue {
		return actionDeny
	}
	if c := condition(cr, cmapi.CertificateRequestConditionApproved); c == nil || c.Status != cmmeta.ConditionTrue {
		return actionWaitApproval
	}
	return actionCheckIssuer
}

func condition(cr *cmapi.CertificateRequest, t cmapi.CertificateRequestConditionType) *cmapi.CertificateRequestCondition {
	for i := range cr.Status.Conditions {
		if cr.Status.Conditions[i].Type == t {
			return &cr.Status.Conditions[i]
		}
	}
	return nil
}

// Reconcile loads the request, decides, and applies the decision.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var cr cmapi.CertificateRequest
	if err := r.client.Get(ctx, req.NamespacedName, &cr); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	switch decide(&cr) {
	case actionNone:
		return reconcile.Result{}, nil
	case actionDeny:
		return reconcile.Result{}, r.finish(ctx, &cr, cmapi.CertificateRequestReasonDenied,
			"The request was denied, so it will not be signed.")
	case actionWaitApproval:
		return reconcile.Result{}, r.setReady(ctx, &cr, cmmeta.ConditionFalse,
			cmapi.CertificateRequestReasonPending, "Waiting for the request to be approved.")
	}

	signerName, err := r.issuerSigner(ctx, &cr)
	if errors.Is(err, errIssuerNotFound) {
		return reconcile.Result{RequeueAfter: r.cfg.NotReadyRetry},
			r.setReady(ctx, &cr, cmmeta.ConditionFalse, ReasonIssuerNotFound, sentence(err))
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	ca, ok := r.cfg.CAs.Get(signerName)
	if !ok {
		return reconcile.Result{RequeueAfter: r.cfg.NotReadyRetry},
			r.setReady(ctx, &cr, cmmeta.ConditionFalse, ReasonIssuerNotReady,
				fmt.Sprintf("Waiting for %s %s to become ready.", cr.Spec.IssuerRef.Kind, cr.Spec.IssuerRef.Name))
	}

	start := time.Now()
	leaf, err := r.cfg.Signing.Sign(ca.Certificate(), ca.Signer, request(&cr), r.cfg.Now())
	if err == nil {
		metrics.SignDuration.WithLabelValues(metrics.APICertificateRequest).Observe(time.Since(start).Seconds())
	}
	if signing.IsPermanent(err) {
		return reconcile.Result{}, r.finish(ctx, &cr, cmapi.CertificateRequestReasonFailed, sentence(err))
	}
	if err != nil {
		// The CA cannot sign now, for example because it expired. Retry
		// with the controller's backoff and report the reason meanwhile.
		err = fmt.Errorf("sign CertificateRequest %s: %w", req.NamespacedName, err)
		return reconcile.Result{}, errors.Join(err,
			r.setReady(ctx, &cr, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonPending, sentence(err)))
	}
	// status.certificate is the issued certificate followed by the
	// intermediates; status.ca is the root that relying parties trust.
	cr.Status.Certificate = append(pemCertificate(leaf), castore.EncodePEM(ca.Intermediates()...)...)
	cr.Status.CA = castore.EncodePEM(ca.Root())
	if err := r.setReady(ctx, &cr, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued,
		"Certificate issued."); err != nil {
		return reconcile.Result{}, err
	}
	metrics.Signed.WithLabelValues(metrics.APICertificateRequest).Inc()
	log.FromContext(ctx).V(1).Info("Signed", "signerName", signerName)
	return reconcile.Result{}, nil
}

func request(cr *cmapi.CertificateRequest) signing.Request {
	req := signing.Request{CSR: cr.Spec.Request, IsCA: cr.Spec.IsCA}
	if cr.Spec.Duration != nil {
		req.Duration = cr.Spec.Duration.Duration
	}
	for _, u := range cr.Spec.Usages {
		req.Usages = append(req.Usages, string(u))
	}
	return req
}

var errIssuerNotFound = errors.New("issuer not found")

// issuerSigner returns the signer name of the referenced issuer, which
// must exist.
func (r *Reconciler) issuerSigner(ctx context.Context, cr *cmapi.CertificateRequest) (string, error) {
	ref := cr.Spec.IssuerRef
	switch ref.Kind {
	case "TCSIssuer":
		var iss tcsv1alpha1.TCSIssuer
		key := types.NamespacedName{Namespace: cr.Namespace, Name: ref.Name}
		if err := r.client.Get(ctx, key, &iss); apierrors.IsNotFound(err) {
			return "", fmt.Errorf("%w: TCSIssuer %s does not exist", errIssuerNotFound, key)
		} else if err != nil {
			return "", fmt.Errorf("read TCSIssuer %s: %w", key, err)
		}
		return iss.SignerName(), nil
	default:
		var iss tcsv1alpha1.TCSClusterIssuer
		if err := r.client.Get(ctx, types.NamespacedName{Name: ref.Name}, &iss); apierrors.IsNotFound(err) {
			return "", fmt.Errorf("%w: TCSClusterIssuer %s does not exist", errIssuerNotFound, ref.Name)
		} else if err != nil {
			return "", fmt.Errorf("read TCSClusterIssuer %s: %w", ref.Name, err)
		}
		return iss.SignerName(), nil
	}
}

// finish sets Ready=False with a final reason and the failure time, after
// which cert-manager makes a new request.
func (r *Reconciler) finish(ctx context.Context, cr *cmapi.CertificateRequest, reason, message string) error {
	now := metav1.NewTime(r.cfg.Now())
	cr.Status.FailureTime = &now
	metrics.Rejected.WithLabelValues(metrics.APICertificateRequest, reason).Inc()
	return r.setReady(ctx, cr, cmmeta.ConditionFalse, reason, message)
}

// setReady sets the Ready condition and writes the status when it changed.
func (r *Reconciler) setReady(ctx context.Context, cr *cmapi.CertificateRequest, status cmmeta.ConditionStatus,
	reason, message string) error {
	now := metav1.NewTime(r.cfg.Now())
	c := condition(cr, cmapi.CertificateRequestConditionReady)
	if c == nil {
		cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{
			Type: cmapi.CertificateRequestConditionReady})
		c = &cr.Status.Conditions[len(cr.Status.Conditions)-1]
	} else if c.Status == status && c.Reason == reason && c.Message == message &&
		len(cr.Status.Certificate) == 0 && cr.Status.FailureTime == nil {
		return nil
	}
	if c.Status != status {
		c.LastTransitionTime = &now
	}
	c.Status, c.Reason, c.Message = status, reason, message
	if c.LastTransitionTime == nil {
		c.LastTransitionTime = &now
	}
	if err := r.client.Status().Update(ctx, cr); err != nil {
		return fmt.Errorf("update status of CertificateRequest %s/%s: %w", cr.Namespace, cr.Name, err)
	}
	return nil
}
