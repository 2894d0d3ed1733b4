package issuer_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"

	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/issuer/castore"
	"github.com/tcs-project/tcs/internal/signing"
)

// benchRequests is the number of CSRs that one benchmark operation signs.
const benchRequests = 1000

// benchClients is the number of goroutines that create and approve CSRs.
const benchClients = 16

// BenchmarkCSREndToEnd signs benchRequests approved CSRs through the API
// server per operation, with the CA key in the SoftHSM2 token and, for
// comparison, in memory. It reports requests per second and the p50 and
// p99 latency from creation to the certificate appearing in a watch. The
// clients submit all requests as fast as the API server takes them, so the
// latency is mostly time spent queued behind earlier requests.
func BenchmarkCSREndToEnd(b *testing.B) {
	for _, alg := range []token.KeyAlgorithm{token.RSA3072, token.ECDSAP256} {
		b.Run("token/"+string(alg), func(b *testing.B) {
			f := startIssuer(b, issuerOptions{caAlgorithm: alg, signers: 8})
			iss, _ := readySelfSigned(b, f, "bench-"+lower(alg))
			runCSRBench(b, iss.SignerName())
		})
		b.Run("memory/"+string(alg), func(b *testing.B) {
			f := startIssuer(b, issuerOptions{signers: 8})
			name := "tcsclusterissuer.tcs.intel.com/bench-memory-" + lower(alg)
			f.proc.cas.Put(memoryCA(b, name, alg))
			runCSRBench(b, name)
		})
	}
}

func lower(alg token.KeyAlgorithm) string {
	switch alg {
	case token.RSA3072:
		return "rsa"
	case token.ECDSAP256:
		return "p256"
	}
	return "other"
}

// memoryCA makes a self-signed CA whose key is an ordinary Go key.
func memoryCA(b testing.TB, signerName string, alg token.KeyAlgorithm) *castore.CA {
	b.Helper()
	var key crypto.Signer
	var err error
	if alg == token.RSA3072 {
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		b.Fatal(err)
	}
	der, err := signing.SelfSignedCA(key, signing.CAOptions{CommonName: signing.CommonNameForSigner(signerName),
		MaxPathLen: ptr.To(0)}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	return &castore.CA{SignerName: signerName, Signer: key, Chain: []*x509.Certificate{cert}}
}

func benchClientset(b testing.TB) *kubernetes.Clientset {
	b.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 5000, 10000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return cs
}

var benchRun atomic.Int64

func runCSRBench(b *testing.B, signerName string) {
	cs := benchClientset(b)
	request := goCSR(b, mustP256(b), "bench.example.test")
	var latencies []time.Duration
	var elapsed time.Duration
	b.ResetTimer()
	for range b.N {
		l, e := signBatch(b, cs, signerName, request)
		latencies = append(latencies, l...)
		elapsed += e
	}
	b.StopTimer()
	slices.Sort(latencies)
	p99 := latencies[len(latencies)*99/100]
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "csr/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
}

func mustP256(b testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return key
}

// signBatch creates and approves benchRequests CSRs from benchClients
// goroutines and waits until all are signed. It returns each request's
// latency and the time from the first creation to the last certificate.
func signBatch(b *testing.B, cs *kubernetes.Clientset, signerName string, request []byte) ([]time.Duration, time.Duration) {
	ctx := context.Background()
	csrs := cs.CertificatesV1().CertificateSigningRequests()
	label := fmt.Sprintf("bench-%d", benchRun.Add(1))
	selector := "tcs-bench=" + label
	defer func() {
		_ = csrs.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: selector})
	}()

	// A retry watcher resumes from the last resource version when the API
	// server closes the watch, which it does to slow watchers under load.
	initial, err := csrs.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		b.Fatal(err)
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, initial.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return csrs.Watch(ctx, o)
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()

	var mu sync.Mutex
	started := make(map[string]time.Time, benchRequests)
	finished := make(map[string]time.Time, benchRequests)
	allDone := make(chan struct{})
	go func() {
		for ev := range w.ResultChan() {
			c, ok := ev.Object.(*certificatesv1.CertificateSigningRequest)
			if !ok || ev.Type != watch.Modified || len(c.Status.Certificate) == 0 {
				continue
			}
			mu.Lock()
			if _, seen := finished[c.Name]; !seen {
				finished[c.Name] = time.Now()
				if len(finished) == benchRequests {
					close(allDone)
				}
			}
			mu.Unlock()
		}
	}()

	begin := time.Now()
	var wg sync.WaitGroup
	next := atomic.Int64{}
	errs := make(chan error, benchClients)
	for range benchClients {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > benchRequests {
					return
				}
				if err := createApproved(ctx, cs, &mu, started, fmt.Sprintf("%s-%04d", label, i),
					label, signerName, request); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	select {
	case <-allDone:
	case <-time.After(5 * time.Minute):
		mu.Lock()
		seen := len(finished)
		mu.Unlock()
		signed := 0
		if list, err := csrs.List(ctx, metav1.ListOptions{LabelSelector: selector}); err == nil {
			for _, c := range list.Items {
				if len(c.Status.Certificate) > 0 {
					signed++
				}
			}
		}
		b.Fatalf("after 5 minutes the watch saw %d of %d CSRs signed, and the API server has %d signed",
			seen, benchRequests, signed)
	}
	mu.Lock()
	defer mu.Unlock()
	var last time.Time
	latencies := make([]time.Duration, 0, benchRequests)
	for name, end := range finished {
		latencies = append(latencies, end.Sub(started[name]))
		if end.After(last) {
			last = end
		}
	}
	return latencies, last.Sub(begin)
}

func createApproved(ctx context.Context, cs *kubernetes.Clientset, mu *sync.Mutex, started map[string]time.Time,
	name, label, signerName string, request []byte) error {
	c := newCSR(name, signerName, request)
	c.Labels = map[string]string{"tcs-bench": label}
	mu.Lock()
	started[name] = time.Now()
	mu.Unlock()
	created, err := cs.CertificatesV1().CertificateSigningRequests().Create(ctx, c, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create CSR %s: %w", name, err)
	}
	created.Status.Conditions = append(created.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Benchmark",
	})
	if _, err := cs.CertificatesV1().CertificateSigningRequests().
		UpdateApproval(ctx, name, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("approve CSR %s: %w", name, err)
	}
	return nil
}

// BenchmarkSign signs one certificate per operation with the signing
// package alone, with the CA key in the token and in memory, to show the
// token's share of the cost without the API server.
func BenchmarkSign(b *testing.B) {
	for _, alg := range []token.KeyAlgorithm{token.RSA3072, token.ECDSAP256} {
		request := signing.Request{CSR: goCSR(b, mustP256(b), "bench.example.test"), Duration: time.Hour}
		b.Run("token/"+string(alg), func(b *testing.B) {
			f := startIssuer(b, issuerOptions{})
			s, err := f.proc.tok.GenerateSelfSignedCA("tcsclusterissuer.tcs.intel.com/sign-"+lower(alg),
				token.CAOptions{Algorithm: alg})
			if err != nil {
				b.Fatal(err)
			}
			benchSign(b, s.Certificate(), s, request)
		})
		b.Run("memory/"+string(alg), func(b *testing.B) {
			ca := memoryCA(b, "tcsclusterissuer.tcs.intel.com/sign-memory", alg)
			benchSign(b, ca.Certificate(), ca.Signer, request)
		})
	}
}

func benchSign(b *testing.B, ca *x509.Certificate, signer crypto.Signer, req signing.Request) {
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := signing.Sign(ca, signer, req, time.Now()); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
