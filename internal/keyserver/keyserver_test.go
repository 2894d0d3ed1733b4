package keyserver_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/devpki"
	"github.com/tcs-project/tcs/internal/keyserver"
	"github.com/tcs-project/tcs/internal/keywrap"
	"github.com/tcs-project/tcs/internal/realquotes"
)

// checkProvisioned asserts that qa ended Success with one Secret per
// signer whose key unwraps, with the enclave key, to the CA key of the key
// store, and whose receipt verifies.
func checkProvisioned(t *testing.T, w *world, e *enclave, qa *sgxv1alpha1.QuoteAttestation, quote []byte) {
	t.Helper()
	cond := qa.Status.Condition
	if cond.Type != sgxv1alpha1.ConditionSuccess || cond.State != sgxv1alpha1.StateQuoteVerified {
		t.Fatalf("condition = %s/%s: %s; want Success/%s", cond.Type, cond.State, cond.Message,
			sgxv1alpha1.StateQuoteVerified)
	}
	if len(qa.Status.Secrets) != len(qa.Spec.SignerNames) {
		t.Errorf("status.secrets has %d entries, want %d", len(qa.Status.Secrets), len(qa.Spec.SignerNames))
	}
	for _, signer := range qa.Spec.SignerNames {
		entry, ok := qa.Status.Secrets[signer]
		if !ok {
			t.Errorf("status.secrets has no entry for %s", signer)
			continue
		}
		if entry.SecretType != sgxv1alpha1.SecretTypeKMRA {
			t.Errorf("%s: secretType = %q, want %q", signer, entry.SecretType, sgxv1alpha1.SecretTypeKMRA)
		}
		var secret corev1.Secret
		key := client.ObjectKey{Namespace: qa.Namespace, Name: entry.SecretName}
		if err := env.Client.Get(context.Background(), key, &secret); err != nil {
			t.Errorf("%s: get Secret %s: %v", signer, key, err)
			continue
		}
		checkSecret(t, w, e, qa, quote, signer, &secret)
	}
}

func checkSecret(t *testing.T, w *world, e *enclave, qa *sgxv1alpha1.QuoteAttestation, quote []byte, signer string, secret *corev1.Secret) {
	t.Helper()
	if secret.Type != corev1.SecretTypeOpaque {
		t.Errorf("%s: Secret type = %s, want Opaque", signer, secret.Type)
	}
	if len(secret.OwnerReferences) != 1 || secret.OwnerReferences[0].UID != qa.UID {
		t.Errorf("%s: owner references = %+v, want the QuoteAttestation", signer, secret.OwnerReferences)
	}
	blob, err := base64.StdEncoding.DecodeString(string(secret.Data["tls.key"]))
	if err != nil {
		t.Fatalf("%s: tls.key is not base64: %v", signer, err)
	}
	unwrapped, err := keywrap.Unwrap(e.key, blob)
	if err != nil {
		t.Fatalf("%s: unwrap tls.key with the enclave key: %v", signer, err)
	}
	type equaler interface{ Equal(crypto.PrivateKey) bool }
	if k, ok := unwrapped.(equaler); !ok || !k.Equal(w.caKeys[signer]) {
		t.Errorf("%s: the unwrapped key is not the key store's CA key", signer)
	}
	chain, err := base64.StdEncoding.DecodeString(string(secret.Data["tls.crt"]))
	if err != nil || !strings.Contains(string(chain), "BEGIN CERTIFICATE") {
		t.Errorf("%s: tls.crt is not base64 of a PEM chain (err %v)", signer, err)
	}

	want, err := keywrap.NewReceipt(quote, &e.key.PublicKey, signer, string(qa.UID),
		secret.Data["tls.key"], secret.Data["tls.crt"])
	if err != nil {
		t.Fatal(err)
	}
	if err := keywrap.VerifyReceipt(secret.Data[keywrap.ReceiptSecretKey], w.receiptPub, want); err != nil {
		t.Errorf("%s: receipt does not verify: %v", signer, err)
	}
}

// eventsFor lists the Events about qa with a reason.
func eventsFor(t *testing.T, qa *sgxv1alpha1.QuoteAttestation, reason string) []corev1.Event {
	t.Helper()
	var list corev1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(qa.Namespace)); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, ev := range list.Items {
		if ev.InvolvedObject.UID == qa.UID && ev.Reason == reason {
			out = append(out, ev)
		}
	}
	return out
}

func TestProvisionTwoSigners(t *testing.T) {
	w := newWorld(t)
	w.startKeyServer(t, false, nil)
	main := w.platforms["main"]

	e := newEnclave(t)
	quote := e.quote(t, main)
	qa := request(t, "two-signers", e, quote, signerRSA, signerEC)
	got := waitAnswer(t, qa, 30*time.Second)
	checkProvisioned(t, w, e, got, quote)

	if !strings.Contains(got.Status.Condition.Message, "development root") {
		t.Errorf("message %q does not warn that a development root anchored the quote", got.Status.Condition.Message)
	}
	if n := len(eventsFor(t, got, sgxv1alpha1.StateQuoteVerified)); n != 1 {
		t.Errorf("%d QuoteVerified events, want 1", n)
	}

	t.Run("double-encoded quote", func(t *testing.T) {
		e := newEnclave(t)
		quote := e.quote(t, main)
		qa := request(t, "double-encoded", e, []byte(base64.StdEncoding.EncodeToString(quote)), signerEC)
		checkProvisioned(t, w, e, waitAnswer(t, qa, 30*time.Second), quote)
	})

	t.Run("default nonce", func(t *testing.T) {
		e := newEnclave(t)
		e.nonce = keyserver.DefaultNonce
		quote := e.quote(t, main)
		qa := &sgxv1alpha1.QuoteAttestation{
			ObjectMeta: metav1.ObjectMeta{Namespace: requestNamespace, Name: "default-nonce"},
			Spec: sgxv1alpha1.QuoteAttestationSpec{
				Quote: quote, QuoteVersion: sgxv1alpha1.ECDSAQuoteVersion3,
				PublicKey: e.publicPEM(t), SignerNames: []string{signerEC},
			},
		}
		if err := env.Client.Create(context.Background(), qa); err != nil {
			t.Fatal(err)
		}
		checkProvisioned(t, w, e, waitAnswer(t, qa, 30*time.Second), quote)
	})
}

// refusal is one request that the key server must refuse.
type refusal struct {
	platform string
	signers  []string
	quote    func(t *testing.T, w *world, e *enclave) []byte
	mutate   func(spec *sgxv1alpha1.QuoteAttestationSpec)
	state    string
	// message is a part of the message that names the cause.
	message string
}

func quoteWith(opts ...devpki.QuoteOption) func(*testing.T, *world, *enclave) []byte {
	return func(t *testing.T, w *world, e *enclave) []byte { return e.quote(t, w.platforms["main"], opts...) }
}

func TestRefusals(t *testing.T) {
	w := newWorld(t)
	w.startKeyServer(t, false, nil)

	// A request answered first, whose public key is then replayed.
	answered := newEnclave(t)
	first := request(t, "replay-original", answered, answered.quote(t, w.platforms["main"]), signerEC)
	if got := waitAnswer(t, first, 30*time.Second); got.Status.Condition.Type != sgxv1alpha1.ConditionSuccess {
		t.Fatalf("original request: %s: %s", got.Status.Condition.State, got.Status.Condition.Message)
	}

	var otherMREnclave [32]byte
	otherMREnclave[31] = 1
	cases := map[string]refusal{
		"invalid public key": {
			mutate: func(s *sgxv1alpha1.QuoteAttestationSpec) {
				s.PublicKey = []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
			},
			state: sgxv1alpha1.StateInvalidRequest, message: "spec.publicKey",
		},
		"malformed quote": {
			quote: func(*testing.T, *world, *enclave) []byte { return []byte("this is not an SGX quote at all") },
			state: sgxv1alpha1.StateMalformedQuote, message: "quote",
		},
		"unsupported quote version": {
			quote: quoteWith(devpki.WithVersion(4)),
			state: sgxv1alpha1.StateUnsupportedQuoteVersion, message: "4",
		},
		"invalid quote signature": {
			quote: quoteWith(devpki.CorruptQuoteSignature()),
			state: sgxv1alpha1.StateInvalidQuoteSignature, message: "signature",
		},
		"untrusted PCK chain":  {platform: "untrusted", state: sgxv1alpha1.StateUntrustedPCKChain, message: "root"},
		"revoked PCK":          {platform: "revoked-pck", state: sgxv1alpha1.StateRevokedPCKChain, message: "revoked"},
		"invalid collateral":   {platform: "bad-tcb-signature", state: sgxv1alpha1.StateInvalidCollateral, message: "signature"},
		"collateral expired":   {platform: "expired", state: sgxv1alpha1.StateCollateralExpired, message: "Refresh the collateral"},
		"QE identity mismatch": {platform: "qe-mismatch", state: sgxv1alpha1.StateQEIdentityMismatch, message: "MRSIGNER"},
		"no matching TCB level": {
			platform: "no-level", state: sgxv1alpha1.StateNoMatchingTCBLevel, message: "level",
		},
		"TCB revoked": {platform: "tcb-revoked", state: sgxv1alpha1.StateTCBRevoked, message: "Revoked"},
		"TCB status not accepted": {
			platform: "out-of-date", state: sgxv1alpha1.StateTCBStatusNotAccepted, message: "OutOfDate",
		},
		"debug enclave": {
			quote: quoteWith(devpki.WithDebug()),
			state: sgxv1alpha1.StateDebugEnclave, message: "debug",
		},
		"enclave not allowed": {
			quote: quoteWith(devpki.WithMREnclave(otherMREnclave)),
			state: sgxv1alpha1.StateEnclaveIdentityNotAllowed, message: "MRENCLAVE",
		},
		"public key mismatch": {
			quote: func(t *testing.T, w *world, _ *enclave) []byte {
				return newEnclave(t).quote(t, w.platforms["main"])
			},
			state: sgxv1alpha1.StatePublicKeyMismatch, message: "does not bind spec.publicKey",
		},
		"unknown signer in policy": {
			signers: []string{signerStranger},
			state:   sgxv1alpha1.StateUnknownSigner, message: signerStranger,
		},
		"unknown signer in key store": {
			signers: []string{signerMissing},
			state:   sgxv1alpha1.StateUnknownSigner, message: "has no CA",
		},
		"key store failure": {
			signers: []string{signerMismatch},
			state:   sgxv1alpha1.StateKeyStoreFailure, message: "does not match its certificate",
		},
		"advisory denied": {
			platform: "advisory", signers: []string{signerStrict},
			state: sgxv1alpha1.StatePolicyDenied, message: deniedAdvisory,
		},
		"one of two signers refused": {
			signers: []string{signerEC, signerStranger},
			state:   sgxv1alpha1.StateUnknownSigner, message: signerEC + ": allowed",
		},
		"replayed public key": {
			quote: func(t *testing.T, w *world, _ *enclave) []byte {
				return answered.quote(t, w.platforms["main"])
			},
			mutate: func(s *sgxv1alpha1.QuoteAttestationSpec) {
				s.PublicKey = answered.publicPEM(t)
				s.Nonce = answered.nonce[:]
			},
			state: sgxv1alpha1.StateReplayedRequest, message: string(first.UID),
		},
	}

	created := map[string]*sgxv1alpha1.QuoteAttestation{}
	i := 0
	for name, tc := range cases {
		i++
		e := newEnclave(t)
		p := w.platforms["main"]
		if tc.platform != "" {
			p = w.platforms[tc.platform]
		}
		quote := e.quote(t, p)
		if tc.quote != nil {
			quote = tc.quote(t, w, e)
		}
		signers := tc.signers
		if signers == nil {
			signers = []string{signerEC}
		}
		qa := &sgxv1alpha1.QuoteAttestation{
			ObjectMeta: metav1.ObjectMeta{Namespace: requestNamespace, Name: "refusal-" + strconv.Itoa(i)},
			Spec: sgxv1alpha1.QuoteAttestationSpec{
				Quote: quote, QuoteVersion: sgxv1alpha1.ECDSAQuoteVersion3,
				PublicKey: e.publicPEM(t), SignerNames: signers, Nonce: e.nonce[:],
			},
		}
		if tc.mutate != nil {
			tc.mutate(&qa.Spec)
		}
		if err := env.Client.Create(context.Background(), qa); err != nil {
			t.Fatalf("%s: create: %v", name, err)
		}
		created[name] = qa
	}

	states := map[string]bool{}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := waitAnswer(t, created[name], 30*time.Second)
			cond := got.Status.Condition
			if cond.Type != sgxv1alpha1.ConditionFailure {
				t.Errorf("type = %s, want Failure (state %s: %s)", cond.Type, cond.State, cond.Message)
			}
			if cond.State != tc.state {
				t.Errorf("state = %s, want %s; message: %s", cond.State, tc.state, cond.Message)
			}
			if !strings.Contains(cond.Message, tc.message) {
				t.Errorf("message %q does not contain %q", cond.Message, tc.message)
			}
			if len(got.Status.Secrets) != 0 {
				t.Errorf("status.secrets = %v, want none", got.Status.Secrets)
			}
			if left := secretsOf(t, got); len(left) != 0 {
				t.Errorf("%d Secrets left behind", len(left))
			}
			if n := len(eventsFor(t, got, tc.state)); n != 1 {
				t.Errorf("%d Warning events with reason %s, want 1", n, tc.state)
			}
			states[cond.State] = true
		})
	}
	if len(states) < 15 {
		t.Errorf("the refusals reached %d distinct states, want at least 15", len(states))
	}
}

// fixedSource serves one bundle for every platform.
type fixedSource struct{ bundle *collateral.Bundle }

func (s fixedSource) Collateral(context.Context, [6]byte, string) (*collateral.Bundle, error) {
	return s.bundle, nil
}

func TestRealQuoteRefusedForBinding(t *testing.T) {
	root := os.Getenv("TCS_REAL_QUOTES")
	if root == "" {
		t.Skip(realquotes.SkipReason)
	}
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		if !dir.IsDir() {
			continue
		}
		t.Run(dir.Name(), func(t *testing.T) {
			folder := filepath.Join(root, dir.Name())
			quote, err := os.ReadFile(filepath.Join(folder, "quote.bin"))
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(folder, "collateral.json"))
			if err != nil {
				t.Fatal(err)
			}
			bundle, err := collateral.ParseBundleJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			expect, err := os.ReadFile(filepath.Join(folder, "expect"))
			if err != nil {
				t.Fatal(err)
			}
			fields := strings.Fields(string(expect))
			unix, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				t.Fatalf("expect file: %v", err)
			}
			at := time.Unix(unix, 0)

			w := newWorld(t)
			ks := w.startKeyServer(t, false, func(d *keyserver.Decider) {
				d.Collateral = fixedSource{bundle}
				d.Now = func() time.Time { return at }
				d.MaxRequestAge = 0
			})
			defer ks.stop()

			e := newEnclave(t)
			qa := request(t, "real-"+strings.ToLower(dir.Name()), e, quote, signerEC)
			got := waitAnswer(t, qa, 30*time.Second)
			cond := got.Status.Condition
			if cond.State != sgxv1alpha1.StatePublicKeyMismatch {
				t.Fatalf("state = %s, want %s: %s", cond.State, sgxv1alpha1.StatePublicKeyMismatch, cond.Message)
			}
			if len(secretsOf(t, got)) != 0 {
				t.Errorf("Secrets left behind")
			}
		})
	}
}

// blockingStore holds every WrapKey until its context ends, to stop a key
// server in the middle of a request.
type blockingStore struct {
	entered chan struct{}
	once    sync.Once
}

func (s *blockingStore) WrapKey(ctx context.Context, _ string, _ *rsa.PublicKey) ([]byte, []byte, error) {
	s.once.Do(func() { close(s.entered) })
	<-ctx.Done()
	return nil, nil, ctx.Err()
}

func TestRestartMidRequest(t *testing.T) {
	w := newWorld(t)
	main := w.platforms["main"]

	t.Run("stopped while wrapping", func(t *testing.T) {
		store := &blockingStore{entered: make(chan struct{})}
		first := w.startKeyServer(t, true, func(d *keyserver.Decider) { d.Keys = store })
		e := newEnclave(t)
		quote := e.quote(t, main)
		qa := request(t, "restart-wrapping", e, quote, signerRSA, signerEC)
		select {
		case <-store.entered:
		case <-time.After(30 * time.Second):
			t.Fatal("the first key server never reached the key store")
		}
		first.stop()

		w.startKeyServer(t, true, nil)
		got := waitAnswer(t, qa, 30*time.Second)
		checkProvisioned(t, w, e, got, quote)
		if n := len(secretsOf(t, got)); n != 2 {
			t.Errorf("%d Secrets, want 2", n)
		}
		if n := len(eventsFor(t, got, sgxv1alpha1.StateQuoteVerified)); n != 1 {
			t.Errorf("%d QuoteVerified events, want 1", n)
		}
	})

	t.Run("leftovers of a crashed attempt", func(t *testing.T) {
		e := newEnclave(t)
		quote := e.quote(t, main)
		qa := request(t, "restart-leftovers", e, quote, signerEC)

		// What a key server that died after its first Secret leaves.
		stray := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: requestNamespace, Name: "restart-leftovers-stray",
				Labels: map[string]string{keyserver.AttestationUIDLabel: string(qa.UID)}},
			Data: map[string][]byte{"tls.key": []byte("half-written")},
		}
		if err := env.Client.Create(context.Background(), stray); err != nil {
			t.Fatal(err)
		}
		claims := keyserver.ConfigMapClaims{Client: env.Client, Reader: env.Client, Namespace: claimsNamespace}
		der := sha256.Sum256(mustPKIX(t, e))
		if err := claims.Claim(context.Background(), keyserver.ClaimPublicKey, der[:], qa.UID, "test"); err != nil {
			t.Fatal(err)
		}

		w.startKeyServer(t, true, nil)
		got := waitAnswer(t, qa, 30*time.Second)
		checkProvisioned(t, w, e, got, quote)
		secrets := secretsOf(t, got)
		if len(secrets) != 1 {
			t.Errorf("%d Secrets, want 1", len(secrets))
		}
		for _, s := range secrets {
			if s.Name == stray.Name {
				t.Errorf("the stray Secret of the crashed attempt is still there")
			}
		}
	})
}

func TestSecondReplicaAnswersOnce(t *testing.T) {
	w := newWorld(t)
	w.startKeyServer(t, true, nil)
	w.startKeyServer(t, true, nil)

	var requests []*sgxv1alpha1.QuoteAttestation
	for i := range 5 {
		e := newEnclave(t)
		requests = append(requests, request(t, fmt.Sprintf("replica-%d", i), e, e.quote(t, w.platforms["main"]), signerRSA, signerEC))
	}
	for _, qa := range requests {
		got := waitAnswer(t, qa, 60*time.Second)
		if got.Status.Condition.Type != sgxv1alpha1.ConditionSuccess {
			t.Errorf("%s: %s: %s", qa.Name, got.Status.Condition.State, got.Status.Condition.Message)
		}
		if n := len(secretsOf(t, got)); n != 2 {
			t.Errorf("%s: %d Secrets, want 2", qa.Name, n)
		}
		events := eventsFor(t, got, sgxv1alpha1.StateQuoteVerified)
		if len(events) != 1 || events[0].Count > 1 {
			t.Errorf("%s: %d QuoteVerified events, want exactly one answer", qa.Name, len(events))
		}
	}
}

func TestCollateralServiceDown(t *testing.T) {
	w := newWorld(t)
	main := w.platforms["main"]
	main.pccs.stop()
	w.startKeyServer(t, false, nil)

	e := newEnclave(t)
	quote := e.quote(t, main)
	qa := request(t, "pccs-down", e, quote, signerEC)

	time.Sleep(3 * time.Second)
	var got sgxv1alpha1.QuoteAttestation
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(qa), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Condition != nil {
		t.Fatalf("answered %s while the PCCS was down: %s", got.Status.Condition.State, got.Status.Condition.Message)
	}

	main.pccs.restart(t)
	checkProvisioned(t, w, e, waitAnswer(t, qa, 60*time.Second), quote)
}

func TestHundredRequestsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: it makes 100 RSA keys")
	}
	w := newWorld(t)
	main := w.platforms["main"]

	const n = 100
	enclaves := make([]*enclave, n)
	quotes := make([][]byte, n)
	for i := range n {
		enclaves[i] = newEnclave(t)
		quotes[i] = enclaves[i].quote(t, main)
	}
	w.startKeyServer(t, false, nil)

	start := time.Now()
	requests := make([]*sgxv1alpha1.QuoteAttestation, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			requests[i] = request(t, fmt.Sprintf("burst-%03d", i), enclaves[i], quotes[i], signerEC)
		}()
	}
	wg.Wait()
	for i, qa := range requests {
		got := waitAnswer(t, qa, 120*time.Second)
		checkProvisioned(t, w, enclaves[i], got, quotes[i])
	}
	t.Logf("%d requests answered in %s (%.1f requests/s)", n, time.Since(start),
		float64(n)/time.Since(start).Seconds())
}

func mustPKIX(t *testing.T, e *enclave) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&e.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
