package issuer_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
	"github.com/tcs-project/tcs/internal/enclave/quoting"
	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/enclave/token/softhsmtest"
	"github.com/tcs-project/tcs/internal/issuer"
	"github.com/tcs-project/tcs/internal/issuer/castore"
	"github.com/tcs-project/tcs/internal/issuer/controller"
)

// issuerOptions adjust the issuer that startIssuer runs.
type issuerOptions struct {
	quoter       quoting.Backend
	keyServerKey ed25519.PublicKey
	fullChain    bool
	caAlgorithm  token.KeyAlgorithm
	retry        time.Duration
	signers      int
}

// issuerProcess is one run of the issuer: a token opened on the test's
// SoftHSM2 directory and a manager with every reconciler.
type issuerProcess struct {
	tok    *token.Token
	cas    *castore.Store
	cancel context.CancelFunc
	done   chan error
}

// fixture is the issuer of one test, which can be stopped and started
// again on the same token directory.
type fixture struct {
	t       testing.TB
	soft    *softhsmtest.Token
	opts    issuerOptions
	proc    *issuerProcess
	label   string
	objects []client.Object
}

var tokenCount atomic.Int64

// startIssuer starts the issuer on a fresh SoftHSM2 token as the issuer's
// service account. Cleanup deletes the objects the test registered while the
// issuer still runs, so that finalizers complete, then stops it.
func startIssuer(t testing.TB, opts issuerOptions) *fixture {
	t.Helper()
	f := &fixture{
		t: t, soft: softhsmtest.New(t), opts: opts,
		label: fmt.Sprintf("issuer-test-%d", tokenCount.Add(1)),
	}
	f.start()
	t.Cleanup(func() {
		f.deleteObjects()
		f.stop()
	})
	return f
}

func (f *fixture) start() {
	f.t.Helper()
	tok, err := token.Open(token.Config{
		ModulePath: f.soft.Module, TokenLabel: f.label,
		UserPIN: softhsmtest.UserPIN, SOPIN: softhsmtest.SOPIN,
	})
	if err != nil {
		f.t.Fatalf("open token: %v", err)
	}

	mgr, err := ctrl.NewManager(serviceAccountConfig(operatorNamespace, "tcs-issuer"), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Every restart registers the controllers again in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		_ = tok.Close()
		f.t.Fatalf("create manager: %v", err)
	}

	retry := f.opts.retry
	if retry == 0 {
		retry = time.Second
	}
	alg := f.opts.caAlgorithm
	if alg == "" {
		alg = token.ECDSAP256
	}
	cas, err := issuer.Setup(mgr, issuer.Config{
		Controller: controller.Config{
			Token:                        tok,
			Quoter:                       f.opts.quoter,
			Namespace:                    operatorNamespace,
			ClusterIssuerSecretNamespace: clusterSecretNamespace,
			KeyServerPublicKey:           f.opts.keyServerKey,
			CAOptions:                    token.CAOptions{Algorithm: alg},
			RetryInitial:                 retry,
			RetryMax:                     4 * retry,
		},
		CSRFullChain:       f.opts.fullChain,
		MaxConcurrentSigns: f.opts.signers,
	})
	if err != nil {
		_ = tok.Close()
		f.t.Fatalf("set up the issuer: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	f.proc = &issuerProcess{tok: tok, cas: cas, cancel: cancel, done: done}
}

// stop stops the manager and closes the token, as a process exit does.
func (f *fixture) stop() {
	f.t.Helper()
	if f.proc == nil {
		return
	}
	f.proc.cancel()
	select {
	case err := <-f.proc.done:
		if err != nil {
			f.t.Errorf("manager stopped with an error: %v", err)
		}
	case <-time.After(30 * time.Second):
		f.t.Errorf("manager did not stop within 30s")
	}
	if err := f.proc.tok.Close(); err != nil {
		f.t.Errorf("close token: %v", err)
	}
	f.proc = nil
}

func (f *fixture) restart() {
	f.t.Helper()
	f.stop()
	f.start()
}

// create creates obj as cluster administrator and deletes it when the test
// ends.
func (f *fixture) create(obj client.Object) {
	f.t.Helper()
	if err := admin.Create(context.Background(), obj); err != nil {
		f.t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
	f.objects = append(f.objects, obj)
}

// track deletes objects created before the issuer started when the test
// ends.
func (f *fixture) track(objs ...client.Object) {
	f.objects = append(f.objects, objs...)
}

// deleteObjects deletes the registered objects and waits until they are
// gone, which for issuers means their finalizer ran.
func (f *fixture) deleteObjects() {
	ctx := context.Background()
	for i := len(f.objects) - 1; i >= 0; i-- {
		obj := f.objects[i]
		if err := admin.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			f.t.Errorf("delete %T %s: %v", obj, obj.GetName(), err)
		}
	}
	for _, obj := range f.objects {
		key := client.ObjectKeyFromObject(obj)
		fresh := obj.DeepCopyObject().(client.Object)
		eventually(f.t, 20*time.Second, fmt.Sprintf("deletion of %T %s", obj, key), func() (bool, string) {
			err := admin.Get(ctx, key, fresh)
			return apierrors.IsNotFound(err), fmt.Sprintf("get: %v", err)
		})
	}
}

func newIssuer(name string, selfSign bool) *tcsv1alpha1.TCSIssuer {
	return &tcsv1alpha1.TCSIssuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: issuerNamespace, Name: name},
		Spec: tcsv1alpha1.TCSIssuerSpec{
			SecretName: name + "-ca",
			SelfSign:   ptr.To(selfSign),
			Labels:     map[string]string{"test": name},
		},
	}
}

// readyCondition returns the Ready condition of an issuer.
func readyCondition(obj client.Object) *metav1.Condition {
	switch o := obj.(type) {
	case *tcsv1alpha1.TCSIssuer:
		return meta.FindStatusCondition(o.Status.Conditions, tcsv1alpha1.ConditionReady)
	case *tcsv1alpha1.TCSClusterIssuer:
		return meta.FindStatusCondition(o.Status.Conditions, tcsv1alpha1.ConditionReady)
	}
	return nil
}

// waitReady waits for the issuer's Ready condition to have status and,
// when reason is not empty, that reason.
func waitReady(t testing.TB, obj client.Object, status metav1.ConditionStatus, reason string,
	timeout time.Duration) *metav1.Condition {
	t.Helper()
	var last *metav1.Condition
	key := client.ObjectKeyFromObject(obj)
	eventually(t, timeout, fmt.Sprintf("Ready=%s %s of %s", status, reason, key), func() (bool, string) {
		if err := admin.Get(context.Background(), key, obj); err != nil {
			return false, err.Error()
		}
		last = readyCondition(obj)
		if last == nil {
			return false, "no Ready condition"
		}
		ok := last.Status == status && (reason == "" || last.Reason == reason)
		return ok, fmt.Sprintf("Ready=%s reason %s: %s", last.Status, last.Reason, last.Message)
	})
	return last
}

// publishedCA reads the CA certificate Secret of an issuer.
func publishedCA(t testing.TB, key types.NamespacedName) *corev1.Secret {
	t.Helper()
	var s corev1.Secret
	if err := admin.Get(context.Background(), key, &s); err != nil {
		t.Fatalf("get published secret %s: %v", key, err)
	}
	return &s
}

func isNotFound(err error) bool {
	return apierrors.IsNotFound(err) || errors.Is(err, token.ErrNotFound)
}
