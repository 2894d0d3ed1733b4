package main

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tcs-project/tcs/internal/demo"
)

func init() {
	rootCmd.AddCommand(newDemoCommand())
}

func newDemoCommand() *cobra.Command {
	opts := demo.Options{}
	self, _ := os.Executable()
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the Trusted Certificate Service end to end on this machine",
		Long: `demo starts a real etcd and kube-apiserver on loopback, installs the CRDs,
starts the development PCCS, tcs-keyserver and tcs-issuer (with a SoftHSM2
token and the dev quoting backend), provisions a TCSIssuer through a
QuoteAttestation, and has a Kubernetes CSR and a cert-manager
CertificateRequest signed. It writes ca.pem, leaf-csr.pem, leaf-cr.pem and
quoteattestation.yaml to --out, stops everything, and exits 0 only when
every step worked. 'make demo' builds what it needs and runs it.

Needs: etcd, kube-apiserver, tcs-issuer, tcs-keyserver and tcsctl in
--bin-dir, and SoftHSM2 at /usr/lib/softhsm/libsofthsm2.so.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(opts.CRDDirs) == 0 {
				return &exitError{code: 2, err: errors.New("--crds is required: give config/crd/bases and cert-manager's deploy/crds")}
			}
			opts.Out = cmd.OutOrStdout()
			return demo.Run(opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.BinDir, "bin-dir", filepath.Dir(self), "Folder of etcd, kube-apiserver, tcs-issuer, tcs-keyserver and tcsctl.")
	f.StringVar(&opts.OutDir, "out", "demo-out", "Folder for the demo's certificates and the answered QuoteAttestation.")
	f.StringSliceVar(&opts.CRDDirs, "crds", nil, "Folders of CRDs to install; repeat the flag for each.")
	f.StringVar(&opts.RealQuotes, "real-quotes", os.Getenv("TCS_REAL_QUOTES"),
		"Folder of real SGX quotes to verify, one subfolder each with quote.bin, collateral.json and expect. "+
			"Defaults to $TCS_REAL_QUOTES; empty skips the step.")
	f.BoolVar(&opts.KeepWork, "keep-work", false, "Keep the work folder with the servers' logs after a successful run.")
	f.DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "Time limit of the whole demo.")
	return cmd
}
