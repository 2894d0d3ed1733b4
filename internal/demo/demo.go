// Package demo runs the Trusted Certificate Service end to end on one
// machine: a real etcd and kube-apiserver on loopback, the development
// PCCS, tcs-keyserver and tcs-issuer as separate processes, a TCSIssuer
// provisioned through a QuoteAttestation, and certificates signed for a
// Kubernetes CSR and a cert-manager CertificateRequest.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
)

// Names of the demo's objects.
const (
	operatorNamespace  = "tcs-issuer"
	keyserverNamespace = "tcs-keyserver"
	clusterCANamespace = "tcs-cluster-ca"
	demoNamespace      = "demo"
	issuerName         = "demo-ca"
)

// outputFiles are the files that a run writes to Options.OutDir.
var outputFiles = []string{"ca.pem", "leaf-csr.pem", "leaf-cr.pem", "quoteattestation.yaml"}

// signerName is the signer of the demo's TCSIssuer.
var signerName = tcsv1alpha1.IssuerSignerPrefix + demoNamespace + "." + issuerName

// Options configure Run.
type Options struct {
	// BinDir holds etcd, kube-apiserver, tcs-issuer, tcs-keyserver and
	// tcsctl.
	BinDir string
	// OutDir receives ca.pem, leaf-csr.pem, leaf-cr.pem and
	// quoteattestation.yaml.
	OutDir string
	// CRDDirs are the folders of CRDs to install: the project's and
	// cert-manager's.
	CRDDirs []string
	// RealQuotes, when set, is a folder of real SGX quotes (one subfolder
	// per quote with quote.bin, collateral.json and expect) to verify.
	RealQuotes string
	// KeepWork keeps the work folder, with the servers' logs, after a
	// successful run; a failed run always keeps it.
	KeepWork bool
	// Timeout bounds the whole run.
	Timeout time.Duration
	// Out receives the progress report.
	Out io.Writer
}

// demo is one run.
type demo struct {
	opts    Options
	work    string
	step    int
	steps   int
	env     *envtest.Environment
	cfg     *rest.Config
	client  client.WithWatch
	procs   []*process
	files   *materials
	kubecfg string
}

// Run runs the demo and returns nil only when every step worked.
func Run(opts Options) (err error) {
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	defer cancel()

	// Output of an earlier run goes first, so that a failed run leaves no
	// mix of old and new certificates behind.
	for _, name := range outputFiles {
		if err := os.Remove(filepath.Join(opts.OutDir, name)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove the previous %s: %w", name, err)
		}
	}
	work, err := os.MkdirTemp("", "tcs-demo-")
	if err != nil {
		return err
	}
	d := &demo{opts: opts, work: work, steps: 7}
	defer func() {
		d.stopAll()
		if err != nil || opts.KeepWork {
			fmt.Fprintf(opts.Out, "The work folder with the servers' logs is kept: %s\n"+
				"It contains the demo's throw-away keys and PINs; delete it when you are done.\n", work)
			return
		}
		os.RemoveAll(work)
	}()

	for _, step := range []struct {
		title string
		run   func(context.Context) error
	}{
		{"Start etcd and kube-apiserver on loopback and install the CRDs", d.startControlPlane},
		{"Start the development PCCS, tcs-keyserver and tcs-issuer", d.startServers},
		{"Provision a TCSIssuer through a QuoteAttestation", d.provisionIssuer},
		{"Sign a Kubernetes CSR and a cert-manager CertificateRequest", d.signRequests},
		{"Verify real SGX quotes", d.verifyRealQuotes},
		{"Check the certificates in " + opts.OutDir, d.checkOutput},
		{"Stop everything", d.stop},
	} {
		d.step++
		fmt.Fprintf(opts.Out, "\n[%d/%d] %s\n", d.step, d.steps, step.title)
		if err := step.run(ctx); err != nil {
			return fmt.Errorf("step %d (%s) failed: %w", d.step, step.title, err)
		}
	}
	fmt.Fprintf(opts.Out, "\nThe demo worked. Its output is in %s.\n", opts.OutDir)
	return nil
}

func (d *demo) printf(format string, args ...any) {
	fmt.Fprintf(d.opts.Out, "      "+format+"\n", args...)
}

func (d *demo) startControlPlane(context.Context) error {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, sgxv1alpha1.AddToScheme, tcsv1alpha1.AddToScheme, cmapi.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	d.env = &envtest.Environment{
		BinaryAssetsDirectory: d.opts.BinDir,
		CRDDirectoryPaths:     d.opts.CRDDirs,
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := d.env.Start()
	if err != nil {
		return fmt.Errorf("start the control plane from %s (run `make controlplane`): %w", d.opts.BinDir, err)
	}
	d.cfg = cfg
	d.printf("kube-apiserver listens on %s", cfg.Host)

	user, err := d.env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	d.kubecfg = filepath.Join(d.work, "kubeconfig")
	if err := os.WriteFile(d.kubecfg, kubeconfig, 0o600); err != nil {
		return err
	}
	if d.client, err = client.NewWithWatch(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	for _, ns := range []string{operatorNamespace, keyserverNamespace, clusterCANamespace, demoNamespace} {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if err := d.client.Create(context.Background(), obj); err != nil {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	d.printf("installed the CRDs from %v", d.opts.CRDDirs)
	d.printf("kubeconfig for kubectl: %s (removed at the end unless --keep-work)", d.kubecfg)
	return nil
}

func (d *demo) stop(context.Context) error {
	d.stopAll()
	d.printf("stopped the servers and the control plane")
	return nil
}

// stopAll stops the servers, newest first, then the control plane. It may
// run twice.
func (d *demo) stopAll() {
	for i := len(d.procs) - 1; i >= 0; i-- {
		d.procs[i].stop()
	}
	d.procs = nil
	if d.env != nil {
		if err := d.env.Stop(); err != nil {
			d.printf("stopping the control plane: %v", err)
		}
		d.env = nil
	}
}

// errStep marks a check of the demo that did not hold.
var errStep = errors.New("check failed")
