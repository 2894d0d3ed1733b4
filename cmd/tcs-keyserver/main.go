// Command tcs-keyserver is the key server side of the Trusted Certificate
// Service: it verifies the SGX quote of each QuoteAttestation and provisions
// the CA keys that its release policy allows, wrapped for the
// enclave.
package main

import (
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/tcs-project/tcs/internal/manager"
)

const summary = "verify the SGX quotes of QuoteAttestation objects and provision CA keys"

func main() {
	var opts manager.Options
	opts.Parse("tcs-keyserver", summary, manager.Defaults{
		MetricsAddress: "127.0.0.1:8090",
		ProbeAddress:   "127.0.0.1:8091",
	})
	log := ctrl.Log.WithName("tcs-keyserver")

	scheme, err := manager.Scheme()
	if err != nil {
		log.Error(err, "Failed to build the scheme")
		os.Exit(1)
	}
	mgr, err := manager.New(&opts, scheme)
	if err != nil {
		log.Error(err, "Failed to start")
		os.Exit(1)
	}

	// TODO: register the QuoteAttestation reconciler; until then the
	// server runs its probes and metrics but handles no request.
	log.Info("Starting", "leaderElection", opts.LeaderElect)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
	log.Info("Stopped")
}
