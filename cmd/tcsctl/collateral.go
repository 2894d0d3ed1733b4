package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tcs-project/tcs/internal/devpki"
	"github.com/tcs-project/tcs/internal/pccs"
)

func init() {
	collateralCmd := &cobra.Command{
		Use:   "collateral",
		Short: "Fetch and serve Intel SGX DCAP collateral (PCS/PCCS API v4)",
	}
	collateralCmd.AddCommand(newCollateralFetchCmd(), newCollateralServeCmd())
	rootCmd.AddCommand(collateralCmd)
}

type collateralFetchOptions struct {
	pccsURL    string
	fmspc      string
	ca         string
	out        string
	rootCRLURL string
	timeout    time.Duration
}

func newCollateralFetchCmd() *cobra.Command {
	var opts collateralFetchOptions
	cmd := &cobra.Command{
		Use:   "fetch --pccs-url URL --fmspc HEX --ca platform|processor [--out FILE]",
		Short: "Fetch the collateral for one platform and save it as a bundle",
		Long: `Fetch the TCB Info for the FMSPC, the QE Identity, the PCK CRL of the
given CA and the root CA CRL, with their issuer chains, from a PCCS or from
Intel's PCS, and save them as one bundle in the dcap-qvl JSON form that
"tcsctl quote verify --collateral" and the key server's offline bundles
read. The signed JSON is saved byte for byte as the service sent it.
Nothing is verified.

The service URL has no default. Intel's PCS for SGX is
  ` + pccs.IntelPCSURL + `
and a PCCS usually serves https://HOST:8081/sgx/certification/v4. Intel's
PCS has no root CA CRL path: give --root-ca-crl-url, the CRL distribution
point of the Intel SGX Root CA certificate, when fetching from it.

Save bundles as <fmspc>-<ca>.json to use them as a directory of offline
bundles.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCollateralFetch(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.pccsURL, "pccs-url", "", "base URL of the PCCS or PCS API v4 (required)")
	f.StringVar(&opts.fmspc, "fmspc", "", "FMSPC of the platform, 12 hex digits (required)")
	f.StringVar(&opts.ca, "ca", "", `PCK CA of the platform: "platform" or "processor" (required)`)
	f.StringVarP(&opts.out, "out", "o", "-", `file to write the bundle to; "-" writes to standard output`)
	f.StringVar(&opts.rootCRLURL, "root-ca-crl-url", "",
		"URL of the root CA CRL (DER, PEM or hex); empty means <pccs-url>/rootcacrl")
	f.DurationVar(&opts.timeout, "timeout", pccs.DefaultTimeout, "time limit for each HTTP request")
	for _, name := range []string{"pccs-url", "fmspc", "ca"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func runCollateralFetch(ctx context.Context, stdout, stderr io.Writer, opts collateralFetchOptions) error {
	fmspc, err := pccs.ParseFMSPC(opts.fmspc)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("--fmspc: %w", err)}
	}
	ca, err := pccs.ParseCA(opts.ca)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("--ca: %w", err)}
	}
	client, err := pccs.NewClient(opts.pccsURL, pccs.ClientOptions{
		Timeout:      opts.timeout,
		RootCACRLURL: opts.rootCRLURL,
	})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}

	b, err := client.Collateral(ctx, fmspc, ca)
	if err != nil {
		return fmt.Errorf("fetching collateral: %w", err)
	}
	entry, err := pccs.Describe(b, ca)
	if err != nil {
		return fmt.Errorf("fetched collateral: %w", err)
	}
	if entry.Key.FMSPC != fmspc || entry.Key.CA != ca {
		return fmt.Errorf("the service returned collateral for %s, not for the requested %s",
			entry.Key, pccs.Key{FMSPC: fmspc, CA: ca})
	}

	if opts.out == "-" {
		data, err := pccs.MarshalBundleIndent(b)
		if err != nil {
			return err
		}
		if _, err := stdout.Write(data); err != nil {
			return fmt.Errorf("writing the bundle: %w", err)
		}
	} else if err := pccs.WriteBundleFile(opts.out, b); err != nil {
		return err
	}

	v := entry.Validity
	remaining := v.Remaining(time.Now())
	state := fmt.Sprintf("in %s", remaining.Round(time.Minute))
	if remaining <= 0 {
		state = "expired"
	}
	fmt.Fprintf(stderr, "collateral for %s: issued %s, next update %s (%s)\n", entry.Key,
		v.IssueDate.UTC().Format(time.RFC3339), v.NextUpdate.UTC().Format(time.RFC3339), state)
	return nil
}

type collateralServeOptions struct {
	listen           string
	bundles          string
	devAuthority     string
	allowNonLoopback bool
	verbose          bool
}

func newCollateralServeCmd() *cobra.Command {
	var opts collateralServeOptions
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR] [--bundles DIR] [--dev-authority DIR]",
		Short: "Run a PCCS-compatible collateral server for development and tests",
		Long: `Serve DCAP collateral on the paths and headers of the PCCS / PCS API v4
for SGX, under /sgx/certification/v4:

  GET /tcb?fmspc=HEX                 TCB Info and its issuer chain
  GET /qe/identity                   QE Identity and its issuer chain
  GET /pckcrl?ca=platform|processor  PCK CRL (PEM, or DER with &encoding=der)
  GET /rootcacrl                     root CA CRL, as hex of its DER

The collateral comes from bundle files (--bundles, read on every request,
so files can be added while the server runs) and from the development PKI
saved in --dev-authority, whose collateral is issued when first requested
and reissued after half of its 30-day validity. Give at least one.

The API has one QE Identity, one root CA CRL and one PCK CRL per CA, so
when several bundles could answer, the newest (latest issue date) does.

The server uses plain HTTP and answers anyone who can reach it, so it
listens on loopback only unless --allow-non-loopback is given. It stops
on SIGINT or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runCollateralServe(ctx, cmd.ErrOrStderr(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.listen, "listen", pccs.DefaultListenAddress, "address to listen on, host:port (port 0 picks a free port)")
	f.StringVar(&opts.bundles, "bundles", "", "directory of bundle files (dcap-qvl JSON, such as <fmspc>-<ca>.json)")
	f.StringVar(&opts.devAuthority, "dev-authority", "",
		"directory of a saved development PKI whose collateral to serve (development root, never trusted by default)")
	f.BoolVar(&opts.allowNonLoopback, "allow-non-loopback", false,
		"allow listening on an address other hosts can reach")
	f.BoolVarP(&opts.verbose, "verbose", "v", false, "log every request")
	return cmd
}

func runCollateralServe(ctx context.Context, stderr io.Writer, opts collateralServeOptions) error {
	level := slog.LevelInfo
	if opts.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	catalog, err := serveCatalog(ctx, logger, opts)
	if err != nil {
		return err
	}
	ln, err := pccs.Listen(opts.listen, opts.allowNonLoopback)
	if err != nil {
		if errors.Is(err, pccs.ErrNotLoopback) {
			return &exitError{code: exitUsage, err: fmt.Errorf("%w; pass --allow-non-loopback to serve other hosts", err)}
		}
		return err
	}
	if !pccs.IsLoopbackListener(ln) {
		logger.Warn("collateral server reachable from other hosts over plain HTTP", "address", ln.Addr().String())
	}

	handler := pccs.NewHandler(catalog, pccs.HandlerOptions{Logger: logger})
	logger.Info("serving collateral", "url", "http://"+ln.Addr().String()+pccs.DefaultPathPrefix)
	err = pccs.Serve(ctx, ln, handler)
	logger.Info("collateral server stopped")
	return err
}

// serveCatalog builds the catalog from the flags and logs what it serves.
func serveCatalog(ctx context.Context, logger *slog.Logger, opts collateralServeOptions) (pccs.Catalog, error) {
	if opts.bundles == "" && opts.devAuthority == "" {
		return nil, &exitError{code: exitUsage, err: errors.New("nothing to serve: give --bundles, --dev-authority or both")}
	}

	var catalog pccs.MultiCatalog
	if opts.bundles != "" {
		dir, err := pccs.NewDirSource(opts.bundles)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("--bundles: %w", err)}
		}
		entries, err := dir.Entries(ctx)
		if err != nil {
			return nil, fmt.Errorf("--bundles: %w", err)
		}
		if len(entries) == 0 {
			logger.Warn("bundle directory contains no bundle yet", "dir", opts.bundles)
		}
		for _, e := range entries {
			logger.Info("serving bundle", "key", e.Key.String(),
				"issueDate", e.Validity.IssueDate.UTC().Format(time.RFC3339),
				"nextUpdate", e.Validity.NextUpdate.UTC().Format(time.RFC3339))
		}
		catalog = append(catalog, dir)
	}

	if opts.devAuthority != "" {
		authority, err := devpki.Load(opts.devAuthority)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("--dev-authority: %w", err)}
		}
		dev := pccs.NewAuthorityCatalog(authority, nil)
		e, err := dev.Entry()
		if err != nil {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("--dev-authority: %w", err)}
		}
		logger.Warn("serving development collateral, which only verifiers configured to trust the development root accept",
			"key", e.Key.String(), "root", authority.Root().Subject.CommonName)
		catalog = append(catalog, dev)
	}
	return catalog, nil
}
