package keyserver

import (
	"encoding/hex"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metrics are the key server's Prometheus metrics, registered with
// controller-runtime's registry so that the manager serves them.
type Metrics struct {
	answers       *prometheus.CounterVec
	verifications *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	retries       *prometheus.CounterVec
	collateralAge *prometheus.GaugeVec
	nextUpdate    *prometheus.GaugeVec
}

var defaultMetrics = newMetrics(ctrlmetrics.Registry)

func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tcs_keyserver_answers_total",
			Help: "QuoteAttestation answers written, by condition type and state.",
		}, []string{"type", "state"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tcs_keyserver_verifications_total",
			Help: "Quote verifications, by result (verified or failed) and TCB status.",
		}, []string{"result", "tcb_status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tcs_keyserver_decision_duration_seconds",
			Help:    "Time spent on a request, by phase: collateral, verification, wrapping, and api (the claims, Secrets and status written to the API server).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"phase"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tcs_keyserver_transient_errors_total",
			Help: "Requests put back for a retry because of a transient error, by stage.",
		}, []string{"stage"}),
		collateralAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tcs_keyserver_collateral_age_seconds",
			Help: "Age of the newest collateral used for a platform at its last verification.",
		}, []string{"fmspc", "ca"}),
		nextUpdate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tcs_keyserver_collateral_next_update_seconds",
			Help: "Seconds from the last verification to the earliest nextUpdate of a platform's collateral.",
		}, []string{"fmspc", "ca"}),
	}
	reg.MustRegister(m.answers, m.verifications, m.duration, m.retries, m.collateralAge, m.nextUpdate)
	return m
}

// observe records one decided answer.
func (m *Metrics) observe(a *Answer, verifiedAt float64) {
	m.duration.WithLabelValues("collateral").Observe(a.Timings.Collateral.Seconds())
	if a.Result == nil {
		return
	}
	m.duration.WithLabelValues("verification").Observe(a.Timings.Verification.Seconds())
	m.duration.WithLabelValues("wrapping").Observe(a.Timings.Wrapping.Seconds())

	result := "failed"
	if a.Result.Verified {
		result = "verified"
	}
	m.verifications.WithLabelValues(result, a.Result.TCBStatus).Inc()
	if !a.Result.CollateralIssueDate.IsZero() {
		labels := []string{hex.EncodeToString(a.Result.FMSPC[:]), a.Result.CAType}
		m.collateralAge.WithLabelValues(labels...).Set(verifiedAt - float64(a.Result.CollateralIssueDate.Unix()))
		m.nextUpdate.WithLabelValues(labels...).Set(float64(a.Result.CollateralNextUpdate.Unix()) - verifiedAt)
	}
}
