package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
)

// eventRecorder is the part of the events.k8s.io recorder the controllers
// use.
type eventRecorder interface {
	Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// notifyBuffer bounds the wake-ups queued for one issuer kind.
const notifyBuffer = 1024

// Setup registers the issuer reconcilers and the provisioner with mgr.
func Setup(mgr ctrl.Manager, cfg Config) error {
	c, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	// The issuer may list QuoteAttestations only in its own namespace, so
	// they get a cache of that namespace alone.
	requests, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme:            mgr.GetScheme(),
		Mapper:            mgr.GetRESTMapper(),
		DefaultNamespaces: map[string]cache.Config{c.Namespace: {}},
		ByObject:          map[client.Object]cache.ByObject{&sgxv1alpha1.QuoteAttestation{}: {}},
	})
	if err != nil {
		return fmt.Errorf("create the QuoteAttestation cache: %w", err)
	}
	if err := mgr.Add(requests); err != nil {
		return fmt.Errorf("add the QuoteAttestation cache: %w", err)
	}

	locks := &signerLocks{}
	recorder := mgr.GetEventRecorder("tcs-issuer")
	prov := &Provisioner{
		client:    mgr.GetClient(),
		apiReader: mgr.GetAPIReader(),
		requests:  requests,
		cfg:       c,
		locks:     locks,
		events:    recorder,
		progress:  make(map[string]Progress),
		created:   make(map[string]struct{}),
		deleted:   make(map[types.UID]bool),
		notify: map[string]chan event.GenericEvent{
			"TCSIssuer":        make(chan event.GenericEvent, notifyBuffer),
			"TCSClusterIssuer": make(chan event.GenericEvent, notifyBuffer),
		},
	}

	toProvisioner := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{provisionKey}
	})
	err = ctrl.NewControllerManagedBy(mgr).
		Named("provisioner").
		WatchesRawSource(source.Kind(requests, client.Object(&sgxv1alpha1.QuoteAttestation{}), toProvisioner)).
		Watches(&tcsv1alpha1.TCSIssuer{}, toProvisioner).
		Watches(&tcsv1alpha1.TCSClusterIssuer{}, toProvisioner).
		Complete(prov)
	if err != nil {
		return fmt.Errorf("set up the provisioner: %w", err)
	}

	for _, kind := range []string{"TCSIssuer", "TCSClusterIssuer"} {
		obj, _ := NewIssuerObject(kind)
		r := &IssuerReconciler{
			client:    mgr.GetClient(),
			apiReader: mgr.GetAPIReader(),
			cfg:       c,
			kind:      kind,
			prov:      prov,
			locks:     locks,
			events:    recorder,
		}
		err := ctrl.NewControllerManagedBy(mgr).
			For(obj).
			WatchesRawSource(source.Channel(prov.notify[kind], &handler.EnqueueRequestForObject{})).
			// A published Secret that is changed or deleted is written
			// again. Only metadata is cached, never Secret data.
			WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(publishedBy(kind))).
			Complete(r)
		if err != nil {
			return fmt.Errorf("set up the %s reconciler: %w", kind, err)
		}
	}
	return nil
}

// publishedBy maps a Secret annotated with a signer name of the issuer kind
// to that issuer.
func publishedBy(kind string) handler.MapFunc {
	return func(_ context.Context, obj client.Object) []reconcile.Request {
		signer, ok := obj.GetAnnotations()[SignerAnnotation]
		if !ok {
			return nil
		}
		key, ok := ParseSignerName(signer)
		if !ok || key.Kind != kind {
			return nil
		}
		return []reconcile.Request{{NamespacedName: key.Key}}
	}
}
