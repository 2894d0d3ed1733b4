package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/keyserver"
)

func init() {
	rootCmd.AddCommand(newKeystoreCmd())
}

// keystoreOptions are the flags that select the token of the key server's PKCS#11 key store.
type keystoreOptions struct {
	module      string
	tokenLabel  string
	userPINFile string
}

func newKeystoreCmd() *cobra.Command {
	var opts keystoreOptions
	cmd := &cobra.Command{
		Use:   "keystore",
		Short: "Manage the CA keys in the key server's PKCS#11 token",
		Long: `Manage the CA keys of tcs-keyserver --key-store=pkcs11.

Each CA key is stored in the token as a sensitive, extractable private key
labelled with its signer name, beside its certificate, so that the token
can wrap it for an enclave without the key server ever reading it. The
token must exist already; create it with, for example,
softhsm2-util --init-token --free --label LABEL.

The user PIN comes from --user-pin-file or $` + keyserver.EnvUserPIN + `, never from the
command line.`,
		Args: cobra.NoArgs,
	}
	flags := cmd.PersistentFlags()
	flags.StringVar(&opts.module, "pkcs11-module", "",
		"path of the PKCS#11 module, for example /usr/lib/softhsm/libsofthsm2.so")
	flags.StringVar(&opts.tokenLabel, "token-label", "", "label of the token, at most 32 bytes")
	flags.StringVar(&opts.userPINFile, "user-pin-file", "",
		"file containing the token's user PIN; empty reads $"+keyserver.EnvUserPIN)
	_ = cmd.MarkPersistentFlagRequired("pkcs11-module")
	_ = cmd.MarkPersistentFlagRequired("token-label")

	cmd.AddCommand(newKeystoreImportCmd(&opts), newKeystoreListCmd(&opts), newKeystoreDeleteCmd(&opts))
	return cmd
}

// open opens the key store with the PIN from the file or the environment.
func (o *keystoreOptions) open() (*keyserver.PKCS11Store, error) {
	cfg := token.Config{ModulePath: o.module, TokenLabel: o.tokenLabel}
	var err error
	if o.userPINFile != "" {
		cfg.UserPIN, err = token.PINFromFile(o.userPINFile)
	} else {
		cfg.UserPIN, err = token.PINFromEnv(keyserver.EnvUserPIN)
	}
	if err != nil {
		return nil, fmt.Errorf("user pin: %w (set --user-pin-file or $%s)", err, keyserver.EnvUserPIN)
	}
	return keyserver.OpenPKCS11Store(cfg)
}

// withStore runs fn on the opened store and closes it.
func (o *keystoreOptions) withStore(fn func(*keyserver.PKCS11Store) error) error {
	store, err := o.open()
	if err != nil {
		return err
	}
	err = fn(store)
	if closeErr := store.Close(); closeErr != nil {
		err = errors.Join(err, fmt.Errorf("close token %q: %w", o.tokenLabel, closeErr))
	}
	return err
}

func newKeystoreImportCmd(opts *keystoreOptions) *cobra.Command {
	var signer, keyFile, certFile string
	cmd := &cobra.Command{
		Use:   "import --signer NAME --key FILE --cert FILE",
		Short: "Load a CA key and its certificate chain into the token",
		Long: `Load a PEM CA private key (PKCS#1, SEC 1 or PKCS#8) and its PEM
certificate chain, CA certificate first, into the token as the CA of a
signer. The key becomes a sensitive, extractable token object that can
only be wrapped; the certificate and the rest of the chain are stored
beside it. RSA keys of 2048 bits or more and ECDSA keys on P-256 or P-384
are accepted, the keys the enclave can import.

After the import only the token needs the key, so keep the key file
offline as a backup, or not at all.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !sgxv1alpha1.ValidSignerName(signer) {
				return &exitError{code: exitUsage, err: fmt.Errorf("--signer=%q is not a signer name: use "+
					"tcsissuer.tcs.intel.com/<namespace>.<name> or tcsclusterissuer.tcs.intel.com/<name>", signer)}
			}
			keyPEM, err := readInputFile(keyFile, maxPEMFileBytes)
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("read the CA key: %w", err)}
			}
			certPEM, err := readInputFile(certFile, maxPEMFileBytes)
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("read the CA certificate: %w", err)}
			}
			return opts.withStore(func(store *keyserver.PKCS11Store) error {
				if err := store.ImportCAPEM(signer, keyPEM, certPEM); err != nil {
					return fmt.Errorf("import %s and %s: %w", keyFile, certFile, err)
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "Imported the CA of %s into token %q.\n",
					signer, opts.tokenLabel)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&signer, "signer", "",
		"signer name, for example tcsclusterissuer.tcs.intel.com/ca")
	cmd.Flags().StringVar(&keyFile, "key", "", "CA private key, PEM (PKCS#1, SEC 1 or PKCS#8)")
	cmd.Flags().StringVar(&certFile, "cert", "", "CA certificate chain, PEM, CA certificate first")
	for _, name := range []string{"signer", "key", "cert"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newKeystoreListCmd(opts *keystoreOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the CAs in the token and whether the key server can use each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.withStore(func(store *keyserver.PKCS11Store) error {
				cas, err := store.ListCAs()
				if err != nil {
					return err
				}
				return printCAs(cmd.OutOrStdout(), cas)
			})
		},
	}
}

// printCAs writes one line per CA: signer, key, subject, expiry, chain
// length, and "ok" or the problem that keeps the key server from it.
func printCAs(w io.Writer, cas []keyserver.PKCS11CA) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SIGNER\tKEY\tSUBJECT\tNOT AFTER\tCHAIN\tSTATUS")
	for _, ca := range cas {
		subject, notAfter := "-", "-"
		if ca.Certificate != nil {
			subject = ca.Certificate.Subject.String()
			notAfter = ca.NotAfter().UTC().Format(time.RFC3339)
		}
		status := "ok"
		if ca.Problem != "" {
			status = ca.Problem
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", ca.Signer, ca.KeyAlgorithm(), subject, notAfter,
			ca.ChainLength, status)
	}
	return tw.Flush()
}

func newKeystoreDeleteCmd(opts *keystoreOptions) *cobra.Command {
	var signer string
	cmd := &cobra.Command{
		Use:   "delete --signer NAME",
		Short: "Destroy the CA key, certificate and chain of a signer in the token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.withStore(func(store *keyserver.PKCS11Store) error {
				if err := store.DeleteCA(signer); err != nil {
					return err
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "Deleted the CA of %s from token %q.\n",
					signer, opts.tokenLabel)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&signer, "signer", "", "signer name whose CA to delete")
	_ = cmd.MarkFlagRequired("signer")
	return cmd
}
