// Package issuer assembles the enclave side of the service in one
// controller-runtime manager: the TCSIssuer and TCSClusterIssuer
// reconcilers with the QuoteAttestation requester (package controller), the
// Kubernetes CertificateSigningRequest signer (package csr) and the
// cert-manager CertificateRequest signer (package certmanager). All of them
// share one castore.Store of the CAs that are ready.
package issuer

import (
	"fmt"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/tcs-project/tcs/internal/issuer/castore"
	"github.com/tcs-project/tcs/internal/issuer/certmanager"
	"github.com/tcs-project/tcs/internal/issuer/controller"
	"github.com/tcs-project/tcs/internal/issuer/csr"
	"github.com/tcs-project/tcs/internal/signing"
)

// Config configures every part of the issuer.
type Config struct {
	// Controller configures the issuer reconcilers and provisioning. A nil
	// Controller.CAs is replaced by a new store.
	Controller controller.Config
	// Signing bounds the certificates that both signers issue.
	Signing signing.Config
	// CSRFullChain puts the CA chain after the issued certificate in a
	// CertificateSigningRequest's status.certificate.
	CSRFullChain bool
	// SkipCertManager leaves out the CertificateRequest signer, for
	// clusters without cert-manager's CRDs.
	SkipCertManager bool
	// MaxConcurrentSigns is how many requests each signer handles at once;
	// zero selects the signers' default.
	MaxConcurrentSigns int
}

// AddToScheme adds the cert-manager types that the issuer needs besides
// those of manager.Scheme.
func AddToScheme(s *runtime.Scheme) error {
	return cmapi.AddToScheme(s)
}

// Setup registers every reconciler of the issuer with mgr and returns the
// CA store they share.
func Setup(mgr ctrl.Manager, cfg Config) (*castore.Store, error) {
	if cfg.Controller.CAs == nil {
		cfg.Controller.CAs = castore.New()
	}
	cas := cfg.Controller.CAs
	if err := controller.Setup(mgr, cfg.Controller); err != nil {
		return nil, err
	}
	err := csr.Setup(mgr, csr.Config{
		CAs:                     cas,
		Signing:                 cfg.Signing,
		FullChain:               cfg.CSRFullChain,
		MaxConcurrentReconciles: cfg.MaxConcurrentSigns,
		Now:                     cfg.Controller.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("set up the CertificateSigningRequest signer: %w", err)
	}
	if cfg.SkipCertManager {
		return cas, nil
	}
	err = certmanager.Setup(mgr, certmanager.Config{
		CAs:                     cas,
		Signing:                 cfg.Signing,
		MaxConcurrentReconciles: cfg.MaxConcurrentSigns,
		Now:                     cfg.Controller.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("set up the CertificateRequest signer: %w", err)
	}
	return cas, nil
}
