// Command tcs-issuer is the enclave side of the Trusted Certificate
// Service: it runs TCSIssuer and TCSClusterIssuer, keeps their CA keys in
// the SGX enclave token, and signs certificate requests with them.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/issuer"
	"github.com/tcs-project/tcs/internal/manager"
	"github.com/tcs-project/tcs/internal/version"
)

const (
	binary  = "tcs-issuer"
	summary = "sign Kubernetes and cert-manager certificate requests with CA keys kept in an SGX enclave"
)

func main() {
	var opts manager.Options
	var flags issuerFlags
	fs := flag.NewFlagSet(binary, flag.ExitOnError)
	opts.Bind(fs, binary, manager.Defaults{
		MetricsAddress: "127.0.0.1:8080",
		ProbeAddress:   "127.0.0.1:8081",
	})
	flags.bind(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s: %s\n\nUsage: %s [flags]\n\nFlags:\n", binary, summary, binary)
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	if opts.ShowVersion {
		fmt.Println(version.String(binary))
		os.Exit(0)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.Zap)))
	log := ctrl.Log.WithName(binary)

	if err := run(&opts, &flags); err != nil {
		if errors.Is(err, errUsage) {
			// Plain text, not a log record: this is a command-line mistake.
			fmt.Fprintf(os.Stderr, "%s: %v (see %s --help)\n", binary, err, binary)
			os.Exit(2)
		}
		log.Error(err, "Stopped with an error")
		os.Exit(1)
	}
	log.Info("Stopped")
}

func run(opts *manager.Options, flags *issuerFlags) error {
	log := ctrl.Log.WithName(binary)
	tok, err := flags.openToken()
	if err != nil {
		return err
	}
	defer func() {
		if err := tok.Close(); err != nil {
			log.Error(err, "Failed to close the token")
		}
	}()
	cfg, err := flags.config(tok)
	if err != nil {
		return err
	}

	scheme, err := manager.Scheme()
	if err != nil {
		return fmt.Errorf("build the scheme: %w", err)
	}
	if err := issuer.AddToScheme(scheme); err != nil {
		return fmt.Errorf("build the scheme: %w", err)
	}
	mgr, err := manager.New(opts, scheme)
	if err != nil {
		return err
	}
	if _, err := issuer.Setup(mgr, cfg); err != nil {
		return err
	}
	// Without a working token the issuer can sign nothing, so readiness
	// follows it.
	err = mgr.AddReadyzCheck("token", func(*http.Request) error {
		_, err := tok.ListSigners()
		return err
	})
	if err != nil {
		return fmt.Errorf("add the token readiness check: %w", err)
	}

	log.Info("Starting", "leaderElection", opts.LeaderElect, "token", tok.Label(),
		"quoting", flags.quoting, "namespace", cfg.Controller.Namespace,
		"receiptChecking", cfg.Controller.KeyServerPublicKey != nil)
	if cfg.Controller.KeyServerPublicKey == nil {
		log.Info("Receipt checking is off: provisioned keys are imported without proof " +
			"of which key server released them. Set --keyserver-public-key to turn it on.")
	}
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	return nil
}

// errUsage marks a flag error.
var errUsage = errors.New("invalid flags")

func openTokenError(err error) error {
	if errors.Is(err, token.ErrPINIncorrect) || errors.Is(err, token.ErrPINLocked) {
		return fmt.Errorf("%w: check --user-pin-file or $%s", err, envUserPIN)
	}
	return err
}
