package keyserver_test

import (
	"context"
	"crypto/rsa"
	"fmt"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/devpki"
	"github.com/tcs-project/tcs/internal/pccs"
)

// countingSource counts fetches and serves one bundle.
type countingSource struct {
	bundle *collateral.Bundle
	calls  atomic.Int32
}

func (s *countingSource) Collateral(context.Context, [6]byte, string) (*collateral.Bundle, error) {
	s.calls.Add(1)
	return s.bundle, nil
}

func TestUntrustedChainFetchesNoCollateral(t *testing.T) {
	w := newWorld(t)
	d := offlineDecider(t, w)
	bundle, err := w.platforms["main"].authority.Collateral(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	src := &countingSource{bundle: bundle}
	d.Collateral = src

	e := newEnclave(t)
	a := decide(t, d, spec(e, t, e.quote(t, w.platforms["untrusted"])), "untrusted chain")
	if a.State != sgxv1alpha1.StateUntrustedPCKChain {
		t.Errorf("state = %s, want %s: %s", a.State, sgxv1alpha1.StateUntrustedPCKChain, a.Message)
	}
	if n := src.calls.Load(); n != 0 {
		t.Errorf("collateral was fetched %d times for a chain under an untrusted root", n)
	}
}

// flakySource serves a damaged bundle once, then the genuine one.
type flakySource struct {
	bad, good *collateral.Bundle
	calls     atomic.Int32
}

func (s *flakySource) Collateral(context.Context, [6]byte, string) (*collateral.Bundle, error) {
	if s.calls.Add(1) == 1 {
		return s.bad, nil
	}
	return s.good, nil
}

func TestDamagedCollateralIsNotCached(t *testing.T) {
	w := newWorld(t)
	d := offlineDecider(t, w)
	a := w.platforms["main"].authority
	bad, err := a.Collateral(time.Now(), devpki.CorruptTCBInfoSignature())
	if err != nil {
		t.Fatal(err)
	}
	good, err := a.Collateral(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	src := &flakySource{bad: bad, good: good}
	d.Collateral = pccs.NewCache(src, pccs.CacheOptions{Validate: d.Verifier.VerifyCollateral})

	first := newEnclave(t)
	if got := decide(t, d, spec(first, t, first.quote(t, w.platforms["main"])), "first"); got.State != sgxv1alpha1.StateInvalidCollateral {
		t.Errorf("first request, with the damaged bundle: state %s, want %s", got.State, sgxv1alpha1.StateInvalidCollateral)
	}
	second := newEnclave(t)
	if got := decide(t, d, spec(second, t, second.quote(t, w.platforms["main"])), "second"); got.Failed {
		t.Errorf("second request, after the service recovered: %s: %s", got.State, got.Message)
	}
}

func TestEnclaveKeyWithBadExponentRejected(t *testing.T) {
	w := newWorld(t)
	d := offlineDecider(t, w)
	for name, edit := range map[string]func(*rsa.PublicKey){
		"exponent 1":    func(k *rsa.PublicKey) { k.E = 1 },
		"even exponent": func(k *rsa.PublicKey) { k.E = 65536 },
		"even modulus":  func(k *rsa.PublicKey) { k.N = new(big.Int).Add(k.N, big.NewInt(1)) },
	} {
		e := newEnclave(t)
		edit(&e.key.PublicKey)
		a := decide(t, d, spec(e, t, e.quote(t, w.platforms["main"])), name)
		if a.State != sgxv1alpha1.StateInvalidRequest {
			t.Errorf("%s: state = %s, want %s: %s", name, a.State, sgxv1alpha1.StateInvalidRequest, a.Message)
		}
		if !strings.Contains(a.Message, "spec.publicKey") {
			t.Errorf("%s: message %q does not name spec.publicKey", name, a.Message)
		}
	}
}

func TestLongRequestNamesGetValidSecrets(t *testing.T) {
	w := newWorld(t)
	w.startKeyServer(t, false, nil)

	// Two names that share everything but their last characters, at the
	// maximum length of an object name, and one with a dot where a cut
	// would fall.
	long := strings.Repeat("n", 250)
	names := []string{long + "-aa", long + "-bb", strings.Repeat("m", 241) + "." + strings.Repeat("m", 11)}
	for i, name := range names {
		e := newEnclave(t)
		quote := e.quote(t, w.platforms["main"])
		qa := request(t, name, e, quote, signerEC)
		got := waitAnswer(t, qa, 30*time.Second)
		checkProvisioned(t, w, e, got, quote)
		for _, s := range got.Status.Secrets {
			if len(s.SecretName) > 253 {
				t.Errorf("name %d: Secret name has %d characters", i, len(s.SecretName))
			}
		}
	}
}

func TestManyRefusedSignersFitTheMessage(t *testing.T) {
	w := newWorld(t)
	w.startKeyServer(t, false, nil)

	var signers []string
	for i := range sgxv1alpha1.MaxSignerNames {
		suffix := fmt.Sprintf("-%02d", i)
		signers = append(signers, tcsv1alpha1.ClusterIssuerSignerPrefix+"x"+
			strings.Repeat("y", sgxv1alpha1.MaxSignerNameLength-len(tcsv1alpha1.ClusterIssuerSignerPrefix)-1-len(suffix)-90)+suffix)
	}
	e := newEnclave(t)
	qa := &sgxv1alpha1.QuoteAttestation{
		ObjectMeta: metav1.ObjectMeta{Namespace: requestNamespace, Name: "many-refused"},
		Spec: sgxv1alpha1.QuoteAttestationSpec{
			Quote: e.quote(t, w.platforms["main"]), QuoteVersion: sgxv1alpha1.ECDSAQuoteVersion3,
			PublicKey: e.publicPEM(t), SignerNames: signers, Nonce: e.nonce[:],
		},
	}
	if err := env.Client.Create(context.Background(), qa); err != nil {
		t.Fatal(err)
	}
	got := waitAnswer(t, qa, 30*time.Second)
	if got.Status.Condition.State != sgxv1alpha1.StateUnknownSigner {
		t.Errorf("state = %s, want %s", got.Status.Condition.State, sgxv1alpha1.StateUnknownSigner)
	}
	if n := len(got.Status.Condition.Message); n > 32768 {
		t.Errorf("message has %d characters, more than the CRD allows", n)
	}
}
