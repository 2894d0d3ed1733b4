package keyserver

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/tcs-project/tcs/internal/dcap/verify"
	"github.com/tcs-project/tcs/internal/pccs"
	"github.com/tcs-project/tcs/internal/policy"
)

// Key store kinds of --key-store.
const (
	KeyStoreDir    = "dir"
	KeyStoreSecret = "secret"
	KeyStorePKCS11 = "pkcs11"
)

// EnvUserPIN names the environment variable that carries the user PIN of
// the PKCS#11 key store when --user-pin-file is empty.
const EnvUserPIN = "TCS_USER_PIN"

// Options are the key server's own flags.
type Options struct {
	Namespaces         string
	PolicyFile         string
	PCCSURL            string
	RootCACRLURL       string
	CollateralDir      string
	RefreshMargin      time.Duration
	KeyStore           string
	KeyDir             string
	KeySecretNamespace string
	PKCS11Module       string
	PKCS11TokenLabel   string
	PKCS11UserPINFile  string
	ReceiptKeyFile     string
	ClaimsNamespace    string
	MaxRequestAge      time.Duration
	MaxConcurrent      int
}

// Bind registers the flags on fs.
func (o *Options) Bind(fs *flag.FlagSet) {
	fs.StringVar(&o.Namespaces, "namespaces", "",
		"Comma-separated namespaces whose QuoteAttestation objects to answer (required): "+
			"the namespaces where tcs-issuer runs.")
	fs.StringVar(&o.PolicyFile, "policy", "",
		"Path of the release policy YAML file (required). It is validated at start.")
	fs.StringVar(&o.PCCSURL, "pccs-url", "",
		"Base URL of the Intel PCS or a PCCS, API version 4, for example "+pccs.IntelPCSURL+
			" or https://pccs.example:8081/sgx/certification/v4. There is no default: give this or --collateral-dir.")
	fs.StringVar(&o.RootCACRLURL, "root-ca-crl-url", "",
		"URL of the Intel SGX Root CA CRL. Empty uses <pccs-url>/rootcacrl, which a PCCS serves; "+
			"Intel's PCS needs the root certificate's CRL distribution point here.")
	fs.StringVar(&o.CollateralDir, "collateral-dir", "",
		"Folder of offline collateral bundles (tcsctl collateral fetch writes them), used when --pccs-url is empty.")
	fs.DurationVar(&o.RefreshMargin, "collateral-refresh-margin", pccs.DefaultRefreshMargin,
		"How long before its nextUpdate cached collateral is fetched again.")
	fs.StringVar(&o.KeyStore, "key-store", KeyStoreDir,
		"Where the CA keys are: \"dir\" (PEM files in --key-dir), \"secret\" "+
			"(kubernetes.io/tls Secrets in --key-secret-namespace annotated "+SignerAnnotation+") or "+
			"\"pkcs11\" (a PKCS#11 token that wraps the keys itself; see --pkcs11-module).")
	fs.StringVar(&o.KeyDir, "key-dir", "",
		"Folder of CA keys for --key-store=dir: <signer with / replaced by _>.key and .crt.")
	fs.StringVar(&o.KeySecretNamespace, "key-secret-namespace", "",
		"Namespace of the CA key Secrets for --key-store=secret; only the key server may read it.")
	fs.StringVar(&o.PKCS11Module, "pkcs11-module", "",
		"Path of the PKCS#11 module for --key-store=pkcs11, for example /usr/lib/softhsm/libsofthsm2.so.")
	fs.StringVar(&o.PKCS11TokenLabel, "token-label", "",
		"Label of the token that holds the CA keys for --key-store=pkcs11, at most 32 bytes. "+
			"tcsctl keystore import loads keys into it.")
	fs.StringVar(&o.PKCS11UserPINFile, "user-pin-file", "",
		"File containing the token's user PIN for --key-store=pkcs11. Empty reads $"+EnvUserPIN+".")
	fs.StringVar(&o.ReceiptKeyFile, "receipt-key", "",
		"Path of the Ed25519 private key (PEM PKCS#8, as \"openssl genpkey -algorithm ed25519\" writes) "+
			"that signs release receipts (required). Give its public key to tcs-issuer.")
	fs.StringVar(&o.ClaimsNamespace, "claims-namespace", os.Getenv("POD_NAMESPACE"),
		"Namespace where the key server records answered public keys and quotes, so that each is used once. "+
			"Defaults to $POD_NAMESPACE.")
	fs.DurationVar(&o.MaxRequestAge, "max-request-age", time.Hour,
		"Reject requests created longer ago than this as stale. 0 turns the check off.")
	fs.IntVar(&o.MaxConcurrent, "max-concurrent-requests", 4,
		"How many requests are verified and answered in parallel.")
}

// NamespaceList returns the parsed --namespaces.
func (o *Options) NamespaceList() []string {
	var out []string
	for _, ns := range strings.Split(o.Namespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	return out
}

// Validate checks the flags together.
func (o *Options) Validate() error {
	var errs []error
	if len(o.NamespaceList()) == 0 {
		errs = append(errs, errors.New("--namespaces is required: name the namespaces where tcs-issuer runs"))
	}
	if o.PolicyFile == "" {
		errs = append(errs, errors.New("--policy is required: give the release policy file"))
	}
	if o.PCCSURL == "" && o.CollateralDir == "" {
		errs = append(errs, errors.New("--pccs-url or --collateral-dir is required: say where the DCAP collateral comes from"))
	}
	if o.PCCSURL != "" && o.CollateralDir != "" {
		errs = append(errs, errors.New("--pccs-url and --collateral-dir exclude each other: give one"))
	}
	switch o.KeyStore {
	case KeyStoreDir:
		if o.KeyDir == "" {
			errs = append(errs, errors.New("--key-dir is required with --key-store=dir"))
		} else if info, err := os.Stat(o.KeyDir); err != nil || !info.IsDir() {
			errs = append(errs, fmt.Errorf("--key-dir=%s is not a folder: give the folder of CA key files", o.KeyDir))
		}
	case KeyStoreSecret:
		if o.KeySecretNamespace == "" {
			errs = append(errs, errors.New("--key-secret-namespace is required with --key-store=secret"))
		}
	case KeyStorePKCS11:
		errs = append(errs, o.validatePKCS11()...)
	default:
		errs = append(errs, fmt.Errorf("--key-store=%q is invalid: use %q, %q or %q", o.KeyStore,
			KeyStoreDir, KeyStoreSecret, KeyStorePKCS11))
	}
	if o.ReceiptKeyFile == "" {
		errs = append(errs, errors.New("--receipt-key is required: give the Ed25519 key that signs release receipts"))
	}
	if o.ClaimsNamespace == "" {
		errs = append(errs, errors.New("--claims-namespace is required when $POD_NAMESPACE is unset"))
	}
	if o.MaxConcurrent < 1 {
		errs = append(errs, fmt.Errorf("--max-concurrent-requests=%d is invalid: use 1 or more", o.MaxConcurrent))
	}
	return errors.Join(errs...)
}

func (o *Options) validatePKCS11() []error {
	var errs []error
	if o.PKCS11Module == "" {
		errs = append(errs, errors.New("--pkcs11-module is required with --key-store=pkcs11"))
	}
	if o.PKCS11TokenLabel == "" {
		errs = append(errs, errors.New("--token-label is required with --key-store=pkcs11"))
	}
	if o.PKCS11UserPINFile == "" && os.Getenv(EnvUserPIN) == "" {
		errs = append(errs, errors.New("--key-store=pkcs11 needs the user PIN: set --user-pin-file or $"+EnvUserPIN))
	}
	return errs
}

// TuneManager limits the manager's cache to the watched namespaces. The
// key server reads its own namespace (claims, key store Secrets) directly
// from the API server, so that namespace stays out of the cache. Its Role
// there grants no access to QuoteAttestation objects, so a cache that
// watched them there would never sync.
func (o *Options) TuneManager(opts *ctrl.Options) {
	namespaces := map[string]cache.Config{}
	for _, ns := range o.NamespaceList() {
		namespaces[ns] = cache.Config{}
	}
	opts.Cache.DefaultNamespaces = namespaces
}

// Server is a configured key server, ready to add to a manager.
type Server struct {
	Decider *Decider
	// Warnings are sentences about settings that weaken the key server,
	// such as trusted development roots, to log at start.
	Warnings []string
	cache    *pccs.Cache
}

// New loads the policy, the receipt key and the collateral source.
func (o *Options) New(mgr manager.Manager) (*Server, error) {
	pol, err := policy.Load(o.PolicyFile)
	if err != nil {
		return nil, err
	}
	receiptKey, err := LoadReceiptKey(o.ReceiptKeyFile)
	if err != nil {
		return nil, err
	}

	var upstream pccs.Source
	if o.PCCSURL != "" {
		upstream, err = pccs.NewClient(o.PCCSURL, pccs.ClientOptions{RootCACRLURL: o.RootCACRLURL})
	} else {
		upstream, err = pccs.NewDirSource(o.CollateralDir)
	}
	if err != nil {
		return nil, err
	}
	verifier := verify.New(verify.Config{ExtraRoots: pol.DevelopmentRoots})
	collateralCache := pccs.NewCache(upstream, pccs.CacheOptions{
		RefreshMargin: o.RefreshMargin,
		Validate:      verifier.VerifyCollateral,
	})

	var keys KeyStore = DirStore{Dir: o.KeyDir}
	switch o.KeyStore {
	case KeyStoreSecret:
		keys = SecretStore{Reader: mgr.GetAPIReader(), Namespace: o.KeySecretNamespace}
	case KeyStorePKCS11:
		if keys, err = o.openPKCS11Store(mgr); err != nil {
			return nil, err
		}
	}

	d := &Decider{
		Verifier:      verifier,
		Collateral:    collateralCache,
		Policy:        pol,
		Keys:          keys,
		Claims:        ConfigMapClaims{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Namespace: o.ClaimsNamespace},
		ReceiptKey:    receiptKey,
		MaxRequestAge: o.MaxRequestAge,
	}
	return &Server{Decider: d, Warnings: pol.Warnings, cache: collateralCache}, nil
}

// Setup adds the reconciler and the collateral refresher to mgr.
func (s *Server) Setup(mgr manager.Manager, maxConcurrent int) error {
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		s.cache.Run(ctx)
		return nil
	})); err != nil {
		return err
	}
	return Setup(mgr, s.Decider, maxConcurrent)
}

// LoadReceiptKey reads an Ed25519 private key in PEM PKCS#8.
func LoadReceiptKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read receipt key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("receipt key %s is not a PEM \"PRIVATE KEY\": give the private key, "+
			"which `openssl genpkey -algorithm ed25519 -out receipt-key.pem` creates, not its public half", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse receipt key %s: %w", path, err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("receipt key %s is a %T, not an Ed25519 key", path, key)
	}
	return ed, nil
}
