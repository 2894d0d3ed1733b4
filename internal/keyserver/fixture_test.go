package keyserver_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/dcap/verify"
	"github.com/tcs-project/tcs/internal/devpki"
	"github.com/tcs-project/tcs/internal/keyserver"
	"github.com/tcs-project/tcs/internal/pccs"
	"github.com/tcs-project/tcs/internal/policy"
	"github.com/tcs-project/tcs/internal/testenv"
)

// Namespaces of the tests: requests live where the issuer would run, the
// claims where the key server runs.
const (
	requestNamespace = "tcs-issuer"
	claimsNamespace  = "tcs-keyserver"
)

// Signer names with CA keys in the key store, and two without.
const (
	signerRSA      = "tcsissuer.tcs.intel.com/ks-test.ca-rsa"
	signerEC       = "tcsclusterissuer.tcs.intel.com/ca-ec"
	signerStrict   = "tcsclusterissuer.tcs.intel.com/strict"
	signerMismatch = "tcsclusterissuer.tcs.intel.com/ca-mismatch"
	signerMissing  = "tcsclusterissuer.tcs.intel.com/ca-missing"
	signerStranger = "tcsclusterissuer.tcs.intel.com/stranger"
)

// deniedAdvisory is the advisory that the strict rule denies.
const deniedAdvisory = "INTEL-SA-00615"

var env *testenv.Env

func TestMain(m *testing.M) {
	// The controllers log to standard error only when asked, so that a
	// failing test's output stays readable.
	if os.Getenv("TCS_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	var err error
	env, err = testenv.New(testenv.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The namespaces, service accounts and roles of config/rbac: the key
	// servers of these tests run as the tcs-keyserver service account.
	if err := env.ApplyKustomization(filepath.Join(env.Root, "config", "rbac")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stop control plane: %v\n", err)
	}
	os.Exit(code)
}

// platform is one development SGX platform with its own root, FMSPC and
// collateral, served by its own PCCS on loopback.
type platform struct {
	name      string
	authority *devpki.Authority
	pccs      *pccsServer
}

// world is everything a key server under test needs: platforms, a policy,
// a key store folder, a receipt key.
type world struct {
	dir        string
	platforms  map[string]*platform
	caKeys     map[string]crypto.Signer
	policyPath string
	keyDir     string
	receiptKey ed25519.PrivateKey
	receiptPub ed25519.PublicKey
	pol        *policy.Policy
}

// scenarios are the platforms whose collateral makes a particular answer.
// Each maps to the collateral options of its bundle.
func scenarios(at time.Time) map[string][]devpki.CollateralOption {
	level := func(components byte, status string, advisories ...string) devpki.TCBLevel {
		c := devpki.DefaultTCBComponents
		if components != 0 {
			for i := range c {
				c[i] = components
			}
		}
		return devpki.TCBLevel{Components: c, PCESVN: devpki.DefaultPCESVN, Date: at.Add(-48 * time.Hour),
			Status: status, AdvisoryIDs: advisories}
	}
	var otherSigner [32]byte
	otherSigner[0] = 0x42
	return map[string][]devpki.CollateralOption{
		"main":              nil,
		"untrusted":         nil,
		"revoked-pck":       {devpki.RevokePCK()},
		"bad-tcb-signature": {devpki.CorruptTCBInfoSignature()},
		"expired":           {devpki.WithTCBInfoWindow(at.Add(-60*24*time.Hour), at.Add(-30*24*time.Hour))},
		"out-of-date":       {devpki.WithTCBLevels(level(0, devpki.StatusOutOfDate))},
		"tcb-revoked":       {devpki.WithTCBLevels(level(0, "Revoked"))},
		"no-level":          {devpki.WithTCBLevels(level(255, devpki.StatusUpToDate))},
		"advisory":          {devpki.WithTCBLevels(level(0, "SWHardeningNeeded", deniedAdvisory))},
		"qe-mismatch":       {devpki.WithQEIdentityMRSigner(otherSigner)},
	}
}

// newWorld makes the platforms, starts their PCCS servers and writes the
// policy, the key store and the receipt key.
func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{
		dir:       t.TempDir(),
		platforms: map[string]*platform{},
		caKeys:    map[string]crypto.Signer{},
	}
	now := time.Now()

	var roots []string
	fmspc := byte(0x10)
	for name, opts := range scenarios(now) {
		fmspc++
		a, err := devpki.New(devpki.Options{FMSPC: [6]byte{0x00, 0x90, 0x6e, 0xa1, fmspc, 0x00}})
		if err != nil {
			t.Fatalf("devpki.New for %s: %v", name, err)
		}
		bundle, err := a.Collateral(now, opts...)
		if err != nil {
			t.Fatalf("collateral for %s: %v", name, err)
		}
		w.platforms[name] = &platform{name: name, authority: a, pccs: startPCCS(t, bundle)}
		if name != "untrusted" {
			path := filepath.Join(w.dir, name+"-root.pem")
			writePEM(t, path, "CERTIFICATE", a.Root().Raw)
			roots = append(roots, path)
		}
	}

	w.writeKeys(t)
	w.writePolicy(t, roots)

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w.receiptKey, w.receiptPub = priv, pub
	return w
}

func writePEM(t testing.TB, path, blockType string, der []byte) {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeKeys makes a CA key and self-signed certificate for each signer of
// the key store, and a certificate of another key for signerMismatch.
func (w *world) writeKeys(t testing.TB) {
	t.Helper()
	w.keyDir = filepath.Join(w.dir, "keys")
	if err := os.Mkdir(w.keyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	mismatchKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	for signer, keys := range map[string][2]crypto.Signer{
		signerRSA:      {rsaKey, rsaKey},
		signerEC:       {p256, p256},
		signerStrict:   {p384, p384},
		signerMismatch: {mismatchKey, otherKey},
	} {
		key, certKey := keys[0], keys[1]
		w.caKeys[signer] = key
		base := filepath.Join(w.keyDir, keyserver.FileBase(signer))
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, base+".key", "PRIVATE KEY", der)
		writePEM(t, base+".crt", "CERTIFICATE", selfSignedCA(t, signer, certKey))
	}
}

func selfSignedCA(t testing.TB, name string, key crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name[strings.LastIndex(name, "/")+1:]},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func (w *world) writePolicy(t testing.TB, roots []string) {
	t.Helper()
	mrenclave := hex.EncodeToString(devpki.DevMREnclave[:])
	mrsigner := hex.EncodeToString(devpki.DevMRSigner[:])
	var b strings.Builder
	b.WriteString("developmentRoots:\n")
	for _, r := range roots {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	fmt.Fprintf(&b, `rules:
  - name: strict
    signers: [%q]
    mrenclave: [%s]
    mrsigner: [%s]
    deniedAdvisoryIds: [%s]
  - name: test issuers
    signers: ["tcsissuer.tcs.intel.com/*", "tcsclusterissuer.tcs.intel.com/ca-*"]
    mrenclave: [%s]
    mrsigner: [%s]
    isvProdId: %d
`, signerStrict, mrenclave, mrsigner, deniedAdvisory, mrenclave, mrsigner, devpki.DevISVProdID)
	w.policyPath = filepath.Join(w.dir, "policy.yaml")
	if err := os.WriteFile(w.policyPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(w.policyPath)
	if err != nil {
		t.Fatalf("load the test policy: %v", err)
	}
	w.pol = pol
}

// pccsServer is a PCCS on loopback that can be stopped and started again
// on the same address.
type pccsServer struct {
	mu      sync.Mutex
	addr    string
	cancel  context.CancelFunc
	done    chan struct{}
	catalog pccs.StaticCatalog
}

func startPCCS(t testing.TB, bundle *collateral.Bundle) *pccsServer {
	t.Helper()
	entry, err := pccs.Describe(bundle, pccs.CAPlatform)
	if err != nil {
		t.Fatal(err)
	}
	s := &pccsServer{catalog: pccs.StaticCatalog{entry}}
	ln, err := pccs.Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

func (s *pccsServer) url() string { return "http://" + s.addr + pccs.DefaultPathPrefix }

func (s *pccsServer) serve(ln net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		_ = pccs.Serve(ctx, ln, pccs.NewHandler(s.catalog, pccs.HandlerOptions{}))
	}()
}

// stop shuts the server down; requests to it are then refused.
func (s *pccsServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
}

// restart serves again on the same address.
func (s *pccsServer) restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	ln, err := pccs.Listen(s.addr, false)
	if err != nil {
		t.Fatalf("listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// router sends each FMSPC to the PCCS of its platform, through a real
// HTTP client.
type router map[[6]byte]pccs.Source

func (r router) Collateral(ctx context.Context, fmspc [6]byte, ca string) (*collateral.Bundle, error) {
	src, ok := r[fmspc]
	if !ok {
		return nil, fmt.Errorf("%w: no PCCS for FMSPC %x", pccs.ErrNotFound, fmspc)
	}
	return src.Collateral(ctx, fmspc, ca)
}

func (w *world) router(t testing.TB) router {
	t.Helper()
	r := router{}
	for _, p := range w.platforms {
		c, err := pccs.NewClient(p.pccs.url(), pccs.ClientOptions{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		r[p.authority.FMSPC()] = c
	}
	return r
}

// decider returns a Decider over the world, with the collateral cached as
// the key server caches it.
func (w *world) decider(t testing.TB, mgr ctrl.Manager) *keyserver.Decider {
	t.Helper()
	verifier := verify.New(verify.Config{ExtraRoots: w.pol.DevelopmentRoots})
	return &keyserver.Decider{
		Verifier:      verifier,
		Collateral:    pccs.NewCache(w.router(t), pccs.CacheOptions{Validate: verifier.VerifyCollateral}),
		Policy:        w.pol,
		Keys:          keyserver.DirStore{Dir: w.keyDir},
		Claims:        keyserver.ConfigMapClaims{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Namespace: claimsNamespace},
		ReceiptKey:    w.receiptKey,
		MaxRequestAge: time.Hour,
	}
}

// keyServer is a key server running in the test process.
type keyServer struct {
	cancel context.CancelFunc
	done   chan error
}

// startKeyServer runs a key server manager until the test ends or stop is
// called. tune may change the Decider before it starts.
func (w *world) startKeyServer(t testing.TB, leaderElection bool, tune func(*keyserver.Decider)) *keyServer {
	t.Helper()
	cfg := env.ServiceAccountConfig(claimsNamespace, "tcs-keyserver")
	cfg.QPS, cfg.Burst = 500, 1000
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        env.Scheme,
		Cache:                         cache.Options{DefaultNamespaces: map[string]cache.Config{requestNamespace: {}}},
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		LeaderElection:                leaderElection,
		LeaderElectionID:              "tcs-keyserver-test",
		LeaderElectionNamespace:       claimsNamespace,
		LeaderElectionReleaseOnCancel: true,
		Controller:                    ctrlConfigForTests(),
	})
	if err != nil {
		t.Fatal(err)
	}
	d := w.decider(t, mgr)
	if tune != nil {
		tune(d)
	}
	if err := keyserver.Setup(mgr, d, 4); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ks := &keyServer{cancel: cancel, done: make(chan error, 1)}
	go func() { ks.done <- mgr.Start(ctx) }()
	t.Cleanup(ks.stop)
	return ks
}

func (ks *keyServer) stop() {
	if ks.cancel == nil {
		return
	}
	ks.cancel()
	<-ks.done
	ks.cancel = nil
}

// enclave is the enclave side of a request: its RSA key and nonce.
type enclave struct {
	key   *rsa.PrivateKey
	nonce [16]byte
}

func newEnclave(t testing.TB) *enclave {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e := &enclave{key: key}
	if _, err := rand.Read(e.nonce[:]); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *enclave) publicPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&e.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// quote returns a quote of platform p that binds the enclave's key.
func (e *enclave) quote(t testing.TB, p *platform, opts ...devpki.QuoteOption) []byte {
	t.Helper()
	q, err := p.authority.Quote(devpki.ReportDataForRSAKey(&e.key.PublicKey, e.nonce), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// request creates a QuoteAttestation and returns it as created.
func request(t testing.TB, name string, e *enclave, quote []byte, signers ...string) *sgxv1alpha1.QuoteAttestation {
	t.Helper()
	qa := &sgxv1alpha1.QuoteAttestation{
		ObjectMeta: metav1.ObjectMeta{Namespace: requestNamespace, Name: name},
		Spec: sgxv1alpha1.QuoteAttestationSpec{
			Quote:        quote,
			QuoteVersion: sgxv1alpha1.ECDSAQuoteVersion3,
			ServiceID:    "keyserver-test",
			PublicKey:    e.publicPEM(t),
			SignerNames:  signers,
			Nonce:        e.nonce[:],
		},
	}
	if err := env.Client.Create(context.Background(), qa); err != nil {
		t.Fatalf("create QuoteAttestation %s: %v", name, err)
	}
	return qa
}

// waitAnswer polls until qa has a condition and returns the object.
func waitAnswer(t testing.TB, qa *sgxv1alpha1.QuoteAttestation, timeout time.Duration) *sgxv1alpha1.QuoteAttestation {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := &sgxv1alpha1.QuoteAttestation{}
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(qa), got)
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		if err == nil && got.Status.Condition != nil {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("QuoteAttestation %s not answered within %s", qa.Name, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// secretsOf lists the Secrets that answer qa.
func secretsOf(t testing.TB, qa *sgxv1alpha1.QuoteAttestation) []corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(qa.Namespace),
		client.MatchingLabels{keyserver.AttestationUIDLabel: string(qa.UID)}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// ctrlConfigForTests lets several managers in one process register the
// same controller name.
func ctrlConfigForTests() config.Controller {
	skip := true
	return config.Controller{SkipNameValidation: &skip}
}
