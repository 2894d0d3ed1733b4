// Package metrics holds the issuer's Prometheus metrics, registered with
// controller-runtime's registry so that the manager serves them on its
// metrics endpoint.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Values of the api label.
const (
	APICertificateSigningRequest = "certificatesigningrequest"
	APICertificateRequest        = "certificaterequest"
)

var (
	// Signed counts issued certificates by API.
	Signed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tcs_issuer_certificates_signed_total",
		Help: "Certificates issued, by request API.",
	}, []string{"api"})

	// Rejected counts requests marked failed or denied, by API and reason.
	Rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tcs_issuer_requests_rejected_total",
		Help: "Requests marked failed or denied instead of signed, by request API and reason.",
	}, []string{"api", "reason"})

	// SignDuration is the time spent building and signing one certificate.
	SignDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tcs_issuer_sign_duration_seconds",
		Help:    "Time to build and sign one certificate with the CA key, by request API.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12),
	}, []string{"api"})

	// ProvisioningRequests counts QuoteAttestations created.
	ProvisioningRequests = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tcs_issuer_provisioning_requests_total",
		Help: "QuoteAttestations created to request CA keys from the key server.",
	})

	// ProvisioningResults counts the outcome per signer: imported, or the
	// reason it was not.
	ProvisioningResults = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tcs_issuer_provisioning_results_total",
		Help: "Outcomes of provisioning per signer: reason Imported, or the key server's state or the rejection reason.",
	}, []string{"reason"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(Signed, Rejected, SignDuration, ProvisioningRequests, ProvisioningResults)
}
