package issuer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tcs-project/tcs/internal/dcap/verify"
	"github.com/tcs-project/tcs/internal/devpki"
	"github.com/tcs-project/tcs/internal/enclave/quoting"
	"github.com/tcs-project/tcs/internal/keyserver"
	"github.com/tcs-project/tcs/internal/pccs"
	"github.com/tcs-project/tcs/internal/policy"
)

// keyServerWorld is what a real key server in the test process needs: a
// development SGX platform whose collateral a PCCS serves on loopback, a
// key store folder of CA keys, and a receipt key.
type keyServerWorld struct {
	dir        string
	authority  *devpki.Authority
	pccsURL    string
	keyDir     string
	rootPath   string
	receiptKey ed25519.PrivateKey
	receiptPub ed25519.PublicKey
	// caRoot issued every CA of the key store.
	caRoot    *x509.Certificate
	caRootKey *ecdsa.PrivateKey
}

func newKeyServerWorld(t *testing.T) *keyServerWorld {
	t.Helper()
	w := &keyServerWorld{dir: t.TempDir()}
	a, err := devpki.New(devpki.Options{})
	if err != nil {
		t.Fatalf("devpki.New: %v", err)
	}
	w.authority = a
	w.rootPath = filepath.Join(w.dir, "dev-root.pem")
	writePEMFile(t, w.rootPath, "CERTIFICATE", a.Root().Raw)

	ln, err := pccs.Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = pccs.Serve(ctx, ln, pccs.NewHandler(pccs.NewAuthorityCatalog(a, nil), pccs.HandlerOptions{}))
	}()
	t.Cleanup(func() { cancel(); <-done })
	w.pccsURL = "http://" + ln.Addr().String() + pccs.DefaultPathPrefix

	w.keyDir = filepath.Join(w.dir, "keys")
	if err := os.Mkdir(w.keyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	w.caRootKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	w.caRoot = makeCert(t, "key store test root", nil, nil, w.caRootKey, w.caRootKey)

	w.receiptPub, w.receiptKey, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func writePEMFile(t *testing.T, path, blockType string, der ...[]byte) {
	t.Helper()
	var data []byte
	for _, d := range der {
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: d})...)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// makeCert makes a CA certificate for key, signed by parentKey under
// parent, or self-signed when parent is nil.
func makeCert(t *testing.T, cn string, parent *x509.Certificate, pathLen *int, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	if pathLen != nil {
		tmpl.MaxPathLen, tmpl.MaxPathLenZero = *pathLen, *pathLen == 0
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// addCA puts a CA for signer in the key store: a new key with a
// certificate issued by the world's root, stored with the chain.
func (w *keyServerWorld) addCA(t *testing.T, signer string) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := makeCert(t, signer[strings.LastIndex(signer, "/")+1:], w.caRoot, nil, key, w.caRootKey)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(w.keyDir, keyserver.FileBase(signer))
	writePEMFile(t, base+".key", "PRIVATE KEY", der)
	writePEMFile(t, base+".crt", "CERTIFICATE", ca.Raw, w.caRoot.Raw)
	return ca
}

// policy writes a release policy for the development enclave. When allow
// is false its rule names another MRENCLAVE, so the key server sets
// Failure with EnclaveIdentityNotAllowed.
func (w *keyServerWorld) policy(t *testing.T, allow bool) *policy.Policy {
	t.Helper()
	mrenclave := devpki.DevMREnclave
	if !allow {
		mrenclave[0] ^= 0xff
	}
	text := fmt.Sprintf(`developmentRoots:
  - %s
rules:
  - name: issuer tests
    signers: ["tcsissuer.tcs.intel.com/*", "tcsclusterissuer.tcs.intel.com/*"]
    mrenclave: [%s]
    mrsigner: [%s]
    isvProdId: %d
`, w.rootPath, hex.EncodeToString(mrenclave[:]), hex.EncodeToString(devpki.DevMRSigner[:]), devpki.DevISVProdID)
	path := filepath.Join(w.dir, fmt.Sprintf("policy-%v.yaml", allow))
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(path)
	if err != nil {
		t.Fatalf("load policy: %v", err)
	}
	return pol
}

func (w *keyServerWorld) quoter() quoting.Backend {
	return &quoting.Dev{Authority: w.authority}
}

// startKeyServer runs the key server with pol in this process until the
// returned stop function or the end of the test.
func (w *keyServerWorld) startKeyServer(t *testing.T, pol *policy.Policy) (stop func()) {
	t.Helper()
	opts := ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	}
	ksOpts := keyserver.Options{Namespaces: operatorNamespace, ClaimsNamespace: keyServerNamespace}
	ksOpts.TuneManager(&opts)
	// NOTE: the key server runs as cluster administrator here; its own RBAC
	// is tested with the key server.
	mgr, err := ctrl.NewManager(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}

	client, err := pccs.NewClient(w.pccsURL, pccs.ClientOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d := &keyserver.Decider{
		Verifier:   verify.New(verify.Config{ExtraRoots: pol.DevelopmentRoots}),
		Collateral: pccs.NewCache(client, pccs.CacheOptions{}),
		Policy:     pol,
		Keys:       keyserver.DirStore{Dir: w.keyDir},
		Claims: keyserver.ConfigMapClaims{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(),
			Namespace: keyServerNamespace},
		ReceiptKey:    w.receiptKey,
		MaxRequestAge: time.Hour,
	}
	if err := keyserver.Setup(mgr, d, 2); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("key server stopped with an error: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}
