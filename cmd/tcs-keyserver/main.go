// Command tcs-keyserver is the key server side of the Trusted Certificate
// Service: it verifies the SGX quote of each QuoteAttestation and provisions
// the CA keys that its release policy allows, wrapped for the enclave.
package main

import (
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/tcs-project/tcs/internal/keyserver"
	"github.com/tcs-project/tcs/internal/manager"
)

const summary = "verify the SGX quotes of QuoteAttestation objects and provision CA keys"

func main() {
	var opts manager.Options
	var ks keyserver.Options
	opts.ParseWith("tcs-keyserver", summary, manager.Defaults{
		MetricsAddress: "127.0.0.1:8090",
		ProbeAddress:   "127.0.0.1:8091",
	}, func(fs *flag.FlagSet) { ks.Bind(fs) })
	log := ctrl.Log.WithName("tcs-keyserver")

	if err := ks.Validate(); err != nil {
		// Plain text, not a log record: this is a command-line mistake.
		fmt.Fprintf(os.Stderr, "tcs-keyserver: invalid flags (see tcs-keyserver --help):\n%v\n", err)
		os.Exit(2)
	}
	scheme, err := manager.Scheme()
	if err != nil {
		log.Error(err, "Failed to build the scheme")
		os.Exit(1)
	}
	mgr, err := manager.New(&opts, scheme, ks.TuneManager)
	if err != nil {
		log.Error(err, "Failed to start")
		os.Exit(1)
	}
	server, err := ks.New(mgr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tcs-keyserver: %v\n", err)
		os.Exit(2)
	}
	for _, w := range server.Warnings {
		log.Info("WARNING: "+w, "policy", ks.PolicyFile)
	}
	if err := server.Setup(mgr, ks.MaxConcurrent); err != nil {
		log.Error(err, "Failed to register the QuoteAttestation controller")
		os.Exit(1)
	}

	log.Info("Starting", "namespaces", ks.NamespaceList(), "policy", ks.PolicyFile,
		"leaderElection", opts.LeaderElect)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
	log.Info("Stopped")
}
