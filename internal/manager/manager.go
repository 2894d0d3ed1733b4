// Package manager holds what the two servers share: the command-line flags
// of a controller-runtime manager (API server connection, leader election,
// probes, metrics, logging) and the manager built from them.
package manager

import (
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
	"github.com/tcs-project/tcs/internal/version"
)

// Options are the flags every server takes.
type Options struct {
	Kubeconfig              string
	MetricsAddress          string
	ProbeAddress            string
	LeaderElect             bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	LeaseDuration           time.Duration
	Zap                     zap.Options
	ShowVersion             bool
}

// Defaults are the listen addresses of one binary, apart so that both
// servers can run on one machine.
type Defaults struct {
	MetricsAddress string
	ProbeAddress   string
}

// Bind registers the flags on fs with the defaults of the named binary.
func (o *Options) Bind(fs *flag.FlagSet, binary string, d Defaults) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "",
		"Path to a kubeconfig file for the cluster to serve. Empty uses $KUBECONFIG, "+
			"then the in-cluster service account.")
	fs.StringVar(&o.MetricsAddress, "metrics-bind-address", d.MetricsAddress,
		"Address of the Prometheus metrics endpoint (/metrics). \"0\" turns it off.")
	fs.StringVar(&o.ProbeAddress, "health-probe-bind-address", d.ProbeAddress,
		"Address of the liveness (/healthz) and readiness (/readyz) probes.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false,
		"Elect a leader through a Lease so that only one replica acts at a time. "+
			"Turn it on whenever more than one replica runs.")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", binary+".tcs.intel.com",
		"Name of the Lease used for leader election.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", os.Getenv("POD_NAMESPACE"),
		"Namespace of the Lease. Defaults to $POD_NAMESPACE; when that is empty too, the namespace "+
			"of the pod's service account, which exists only inside a cluster.")
	fs.DurationVar(&o.LeaseDuration, "leader-election-lease-duration", 15*time.Second,
		"How long a leader's Lease lasts without renewal before another replica takes over.")
	fs.BoolVar(&o.ShowVersion, "version", false, "Print the version and exit.")
	o.Zap.BindFlags(fs)
}

// Parse parses the process's arguments into o, prints the version and
// exits when --version is given, and sets up logging.
func (o *Options) Parse(binary, summary string, d Defaults) {
	o.ParseWith(binary, summary, d, nil)
}

// ParseWith is Parse with the binary's own flags, which extra registers.
func (o *Options) ParseWith(binary, summary string, d Defaults, extra func(*flag.FlagSet)) {
	fs := flag.NewFlagSet(binary, flag.ExitOnError)
	o.Bind(fs, binary, d)
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s: %s\n\nUsage: %s [flags]\n\nFlags:\n", binary, summary, binary)
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	if o.ShowVersion {
		fmt.Println(version.String(binary))
		os.Exit(0)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.Zap)))
}

// Scheme returns a scheme with the built-in types and the project's APIs.
func Scheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, sgxv1alpha1.AddToScheme, tcsv1alpha1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return scheme, nil
}

// New connects to the API server and builds a manager with probes,
// metrics and, when asked, leader election. Each tune function may adjust
// the manager's options before it is built, for example to limit the
// cache to some namespaces.
func New(o *Options, scheme *runtime.Scheme, tune ...func(*ctrl.Options)) (ctrl.Manager, error) {
	cfg, err := restConfig(o.Kubeconfig)
	if err != nil {
		return nil, err
	}
	leaseDuration := o.LeaseDuration
	renewDeadline := leaseDuration * 2 / 3
	retryPeriod := leaseDuration / 7
	mgrOpts := ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsAddress},
		HealthProbeBindAddress:  o.ProbeAddress,
		LeaderElection:          o.LeaderElect,
		LeaderElectionID:        o.LeaderElectionID,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		LeaseDuration:           &leaseDuration,
		RenewDeadline:           &renewDeadline,
		RetryPeriod:             &retryPeriod,
		// Stepping down at once lets a replacement take over without
		// waiting for the Lease to expire.
		LeaderElectionReleaseOnCancel: true,
	}
	for _, t := range tune {
		t(&mgrOpts)
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add liveness check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add readiness check: %w", err)
	}
	return mgr, nil
}

// restConfig loads the API server connection from kubeconfig, or from the
// standard places when it is empty.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		cfg, err := ctrl.GetConfig()
		if err != nil {
			return nil, fmt.Errorf("find the API server: %w (pass --kubeconfig or set KUBECONFIG)", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}
