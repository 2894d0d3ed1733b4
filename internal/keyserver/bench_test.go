package keyserver_test

import (
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
)

// phaseSeconds returns the summed time of each phase of
// tcs_keyserver_decision_duration_seconds.
func phaseSeconds(b *testing.B) map[string]float64 {
	b.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "tcs_keyserver_decision_duration_seconds" {
			continue
		}
		for _, m := range f.Metric {
			out[phaseOf(m)] = m.GetHistogram().GetSampleSum()
		}
	}
	return out
}

func phaseOf(m *dto.Metric) string {
	for _, l := range m.Label {
		if l.GetName() == "phase" {
			return l.GetValue()
		}
	}
	return ""
}

// BenchmarkEndToEnd creates b.N QuoteAttestation objects at once on the
// real API server and waits until the key server has answered them all.
// It reports requests per second and, per request, the time spent
// fetching collateral, verifying, wrapping and writing to the API server;
// the rest of the wall time is the read of each object and queueing.
func BenchmarkEndToEnd(b *testing.B) {
	w := newWorld(b)
	main := w.platforms["main"]
	enclaves := make([]*enclave, b.N)
	quotes := make([][]byte, b.N)
	for i := range b.N {
		enclaves[i] = newEnclave(b)
		quotes[i] = enclaves[i].quote(b, main)
	}
	w.startKeyServer(b, false, nil)
	before := phaseSeconds(b)
	prefix := fmt.Sprintf("bench-%d-", time.Now().UnixNano())

	b.ResetTimer()
	start := time.Now()
	requests := make([]*sgxv1alpha1.QuoteAttestation, b.N)
	for i := range b.N {
		requests[i] = request(b, fmt.Sprintf("%s%d", prefix, i), enclaves[i], quotes[i], signerEC)
	}
	for _, qa := range requests {
		got := waitAnswer(b, qa, 5*time.Minute)
		if got.Status.Condition.Type != sgxv1alpha1.ConditionSuccess {
			b.Fatalf("%s: %s: %s", qa.Name, got.Status.Condition.State, got.Status.Condition.Message)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()

	after := phaseSeconds(b)
	n := float64(b.N)
	b.ReportMetric(n/elapsed.Seconds(), "requests/s")
	for _, phase := range []string{"collateral", "verification", "wrapping", "api"} {
		b.ReportMetric((after[phase]-before[phase])/n*1e6, phase+"-µs/request")
	}
}
