// Command tcs-issuer is the enclave side of the Trusted Certificate
// Service: it runs TCSIssuer and TCSClusterIssuer, keeps their CA keys in
// the SGX enclave token, and signs certificate requests with them.
package main

import (
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/tcs-project/tcs/internal/manager"
)

const summary = "sign Kubernetes and cert-manager certificate requests with CA keys kept in an SGX enclave"

func main() {
	var opts manager.Options
	opts.Parse("tcs-issuer", summary, manager.Defaults{
		MetricsAddress: "127.0.0.1:8080",
		ProbeAddress:   "127.0.0.1:8081",
	})
	log := ctrl.Log.WithName("tcs-issuer")

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

	// TODO: register the issuer reconcilers and the request signers; until then the
	// server runs its probes and metrics but answers no request.
	log.Info("Starting", "leaderElection", opts.LeaderElect)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
	log.Info("Stopped")
}
