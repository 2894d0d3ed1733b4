// Package controller runs the TCSIssuer and TCSClusterIssuer reconcilers and
// the QuoteAttestation requester: it makes or provisions each issuer's CA
// key inside the enclave token, publishes the CA certificate and keeps the
// CA ready to sign in a castore.Store.
package controller

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/tcs-project/tcs/internal/enclave/quoting"
	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/issuer/castore"
)

// Names that the controllers put on the objects they manage.
const (
	// Finalizer keeps an issuer until its CA key is gone from the token
	// and its CA certificate Secret is deleted.
	Finalizer = "tcs.intel.com/issuer-cleanup"
	// ManagedByLabel marks the QuoteAttestations of this operator.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of ManagedByLabel.
	ManagedByValue = "tcs-issuer"
	// SignerAnnotation names the signer whose CA certificate a published
	// Secret contains. The issuer overwrites or deletes only Secrets that
	// carry its own signer name here.
	SignerAnnotation = "tcs.intel.com/signer-name"
)

// Reasons of the issuers' Ready condition, besides the key server's state
// codes, which the issuer copies unchanged from a Failure condition.
const (
	ReasonSelfSigned          = "SelfSigned"
	ReasonProvisioned         = "Provisioned"
	ReasonPending             = "ProvisioningPending"
	ReasonDeliveryRejected    = "DeliveryRejected"
	ReasonSecretConflict      = "SecretConflict"
	ReasonTokenFailure        = "TokenFailure"
	ReasonProvisioningFailure = "ProvisioningFailure"
)

// Defaults of Config.
const (
	DefaultClusterIssuerSecretNamespace = "tcs-cluster-ca"
	DefaultRetryInitial                 = 10 * time.Second
	DefaultRetryMax                     = 10 * time.Minute
	DefaultServiceID                    = "tcs-issuer"
)

// Config contains the settings that the reconcilers share.
type Config struct {
	// Token holds the quote keys and the CA keys.
	Token *token.Token
	// Quoter makes quotes for provisioning. Nil means issuers with
	// selfSign false cannot be provisioned, which their Ready condition
	// reports.
	Quoter quoting.Backend
	// CAs receives every CA that becomes ready and loses it on deletion.
	CAs *castore.Store

	// Namespace is the operator's namespace, where QuoteAttestations are
	// created and the key server delivers its Secrets.
	Namespace string
	// ClusterIssuerSecretNamespace is the namespace of the Secrets that
	// publish TCSClusterIssuer CA certificates.
	ClusterIssuerSecretNamespace string
	// ServiceID is spec.serviceId of every QuoteAttestation.
	ServiceID string

	// KeyServerPublicKey verifies the release receipt of every delivery.
	// Nil turns receipt checking off.
	KeyServerPublicKey ed25519.PublicKey

	// CAOptions describe the self-signed CAs made in the token.
	CAOptions token.CAOptions

	// RetryInitial is the wait before the first new request after a
	// Failure; every further failure doubles it up to RetryMax.
	RetryInitial time.Duration
	RetryMax     time.Duration

	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

func (c *Config) withDefaults() (*Config, error) {
	out := *c
	if out.Token == nil {
		return nil, errors.New("issuer controller needs a token")
	}
	if out.CAs == nil {
		return nil, errors.New("issuer controller needs a CA store")
	}
	if out.Namespace == "" {
		return nil, errors.New("operator namespace is empty: set --namespace or POD_NAMESPACE")
	}
	if out.ClusterIssuerSecretNamespace == "" {
		out.ClusterIssuerSecretNamespace = DefaultClusterIssuerSecretNamespace
	}
	if out.ServiceID == "" {
		out.ServiceID = DefaultServiceID
	}
	if out.RetryInitial <= 0 {
		out.RetryInitial = DefaultRetryInitial
	}
	if out.RetryMax <= 0 {
		out.RetryMax = DefaultRetryMax
	}
	if out.RetryMax < out.RetryInitial {
		return nil, fmt.Errorf("retry maximum %s is shorter than the initial retry %s",
			out.RetryMax, out.RetryInitial)
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	return &out, nil
}
