package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tcs-project/tcs/internal/devpki"
	"github.com/tcs-project/tcs/internal/enclave/quoting"
	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/issuer"
	"github.com/tcs-project/tcs/internal/issuer/controller"
	"github.com/tcs-project/tcs/internal/signing"
)

// Environment variables that may carry the PINs instead of files.
const (
	envUserPIN   = "TCS_USER_PIN"
	envSOPIN     = "TCS_SO_PIN"
	envNamespace = "POD_NAMESPACE"
)

// issuerFlags are the flags of tcs-issuer besides the manager's.
type issuerFlags struct {
	module, tokenLabel       string
	userPINFile, soPINFile   string
	quoting, devAuthority    string
	ctkMechanism             uint
	namespace                string
	clusterSecretNamespace   string
	keyServerPublicKey       string
	csrFullChain             bool
	certManager              bool
	caAlgorithm              string
	caValidity               time.Duration
	maxDuration, defDuration time.Duration
	maxConcurrentSigns       int
	retryInitial, retryMax   time.Duration
}

func (f *issuerFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.module, "pkcs11-module", "",
		"Path of the PKCS#11 module of the enclave token: crypto-api-toolkit's library on SGX hardware, "+
			"/usr/lib/softhsm/libsofthsm2.so for development.")
	fs.StringVar(&f.tokenLabel, "token-label", "tcs-issuer", "Label of the token, at most 32 bytes.")
	fs.StringVar(&f.userPINFile, "user-pin-file", "",
		"File containing the token's user PIN. Empty reads $"+envUserPIN+".")
	fs.StringVar(&f.soPINFile, "so-pin-file", "",
		"File containing the security officer PIN, needed only to initialise a new token. "+
			"Empty reads $"+envSOPIN+" when set.")

	fs.StringVar(&f.quoting, "quoting", "ctk",
		"Quoting backend for provisioning: \"ctk\" (crypto-api-toolkit on SGX hardware), "+
			"\"dev\" (development PKI, see --dev-authority) or \"none\" (self-signed issuers only).")
	fs.StringVar(&f.devAuthority, "dev-authority", "",
		"Folder of the development SGX PKI that --quoting=dev signs quotes with.")
	fs.UintVar(&f.ctkMechanism, "ctk-mechanism", 0,
		fmt.Sprintf("Mechanism value of crypto-api-toolkit's quote export. 0 selects %#x; "+
			"older toolkit releases use %#x.", uint(quoting.MechanismExportECDSAQuote),
			uint(quoting.MechanismExportECDSAQuoteLegacy)))

	fs.StringVar(&f.namespace, "namespace", os.Getenv(envNamespace),
		"Namespace of the operator, where QuoteAttestations are created. Defaults to $"+envNamespace+".")
	fs.StringVar(&f.clusterSecretNamespace, "cluster-issuer-secret-namespace",
		controller.DefaultClusterIssuerSecretNamespace,
		"Namespace where TCSClusterIssuer CA certificates are published.")

	fs.StringVar(&f.keyServerPublicKey, "keyserver-public-key", "",
		"PEM Ed25519 public key of the key server. When set, every delivered CA key must carry a "+
			"release receipt signed by it.")

	fs.BoolVar(&f.csrFullChain, "csr-full-chain", false,
		"Append the CA chain to the certificate of a CertificateSigningRequest.")
	fs.BoolVar(&f.certManager, "cert-manager", true,
		"Sign cert-manager CertificateRequests. Turn it off where cert-manager's CRDs are not installed.")
	fs.StringVar(&f.caAlgorithm, "ca-key-algorithm", string(token.ECDSAP256),
		"Key type of self-signed CAs: RSA-3072, ECDSA-P256 or ECDSA-P384.")
	fs.DurationVar(&f.caValidity, "ca-validity", token.DefaultCAValidity,
		"Validity of self-signed CA certificates.")
	fs.DurationVar(&f.maxDuration, "max-duration", signing.DefaultMaxDuration,
		"Longest validity of an issued certificate; longer requests are shortened.")
	fs.DurationVar(&f.defDuration, "default-duration", signing.DefaultDuration,
		"Validity of an issued certificate whose request names none.")
	fs.IntVar(&f.maxConcurrentSigns, "max-concurrent-signs", 4,
		"Requests that each signer handles at once.")

	fs.DurationVar(&f.retryInitial, "provisioning-retry", controller.DefaultRetryInitial,
		"Wait before a new request after the key server sets Failure. It doubles with each failure in a row.")
	fs.DurationVar(&f.retryMax, "provisioning-retry-max", controller.DefaultRetryMax,
		"Longest wait between provisioning attempts.")
}

// openToken opens the token with PINs from files or the environment. PINs
// are never flags, where the process list would show them.
func (f *issuerFlags) openToken() (*token.Token, error) {
	if f.module == "" {
		return nil, fmt.Errorf("%w: --pkcs11-module is empty; give the path of the token's PKCS#11 module", errUsage)
	}
	var cfg token.Config
	cfg.ModulePath = f.module
	cfg.TokenLabel = f.tokenLabel
	var err error
	if f.userPINFile != "" {
		cfg.UserPIN, err = token.PINFromFile(f.userPINFile)
	} else {
		cfg.UserPIN, err = token.PINFromEnv(envUserPIN)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: user PIN: %w (set --user-pin-file or $%s)", errUsage, err, envUserPIN)
	}
	if f.soPINFile != "" {
		if cfg.SOPIN, err = token.PINFromFile(f.soPINFile); err != nil {
			return nil, fmt.Errorf("%w: security officer PIN: %w", errUsage, err)
		}
	} else if os.Getenv(envSOPIN) != "" {
		cfg.SOPIN = os.Getenv(envSOPIN)
	}
	tok, err := token.Open(cfg)
	if err != nil {
		return nil, openTokenError(err)
	}
	return tok, nil
}

func (f *issuerFlags) quoter() (quoting.Backend, error) {
	switch f.quoting {
	case "ctk":
		return &quoting.CTK{Mechanism: f.ctkMechanism}, nil
	case "dev":
		if f.devAuthority == "" {
			return nil, fmt.Errorf("%w: --quoting=dev needs --dev-authority", errUsage)
		}
		a, err := devpki.Load(f.devAuthority)
		if err != nil {
			return nil, fmt.Errorf("load the development authority: %w", err)
		}
		return &quoting.Dev{Authority: a}, nil
	case "none":
		return nil, nil
	}
	return nil, fmt.Errorf("%w: --quoting=%q; use ctk, dev or none", errUsage, f.quoting)
}

func (f *issuerFlags) config(tok *token.Token) (issuer.Config, error) {
	q, err := f.quoter()
	if err != nil {
		return issuer.Config{}, err
	}
	alg := token.KeyAlgorithm(f.caAlgorithm)
	switch alg {
	case token.RSA3072, token.ECDSAP256, token.ECDSAP384:
	default:
		return issuer.Config{}, fmt.Errorf("%w: --ca-key-algorithm=%q; use RSA-3072, ECDSA-P256 or ECDSA-P384",
			errUsage, f.caAlgorithm)
	}
	if f.retryMax < f.retryInitial {
		return issuer.Config{}, fmt.Errorf("%w: --provisioning-retry-max=%s is shorter than --provisioning-retry=%s",
			errUsage, f.retryMax, f.retryInitial)
	}
	if f.namespace == "" {
		return issuer.Config{}, fmt.Errorf("%w: the operator namespace is unknown; set --namespace or $%s",
			errUsage, envNamespace)
	}
	cfg := issuer.Config{
		Controller: controller.Config{
			Token:                        tok,
			Quoter:                       q,
			Namespace:                    f.namespace,
			ClusterIssuerSecretNamespace: f.clusterSecretNamespace,
			CAOptions:                    token.CAOptions{Algorithm: alg, Validity: f.caValidity},
			RetryInitial:                 f.retryInitial,
			RetryMax:                     f.retryMax,
		},
		Signing:            signing.Config{MaxDuration: f.maxDuration, DefaultDuration: f.defDuration},
		CSRFullChain:       f.csrFullChain,
		SkipCertManager:    !f.certManager,
		MaxConcurrentSigns: f.maxConcurrentSigns,
	}
	if f.keyServerPublicKey != "" {
		key, err := issuer.ReadKeyServerPublicKey(f.keyServerPublicKey)
		if err != nil {
			return issuer.Config{}, err
		}
		cfg.Controller.KeyServerPublicKey = key
	}
	return cfg, nil
}
