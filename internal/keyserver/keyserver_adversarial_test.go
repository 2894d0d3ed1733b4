package keyserver_test

import (
	"context"
	"crypto/rsa"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/keyserver"
)

// hookStore is a key store that runs hook once, on the first WrapKey call,
// before it calls the real key store. The hook plays someone who changes
// the request while the key server is answering it.
type hookStore struct {
	keyserver.KeyStore
	once  sync.Once
	hook  func()
	fired chan struct{}
}

func newHookStore(inner keyserver.KeyStore, hook func()) *hookStore {
	return &hookStore{KeyStore: inner, hook: hook, fired: make(chan struct{})}
}

func (s *hookStore) WrapKey(ctx context.Context, signer string, pub *rsa.PublicKey) ([]byte, []byte, error) {
	s.once.Do(func() {
		s.hook()
		close(s.fired)
	})
	return s.KeyStore.WrapKey(ctx, signer, pub)
}

func (s *hookStore) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.fired:
	case <-time.After(30 * time.Second):
		t.Fatal("the key server never reached the key store")
	}
}

// settle waits for the key server to finish the attempt that the hook
// interrupted and then stops it, so that nothing is written while the test
// checks the result.
func settle(ks *keyServer) {
	time.Sleep(3 * time.Second)
	ks.stop()
}

// foreignFailure is the status that someone other than the key server
// writes.
func foreignFailure() sgxv1alpha1.QuoteAttestationStatus {
	return sgxv1alpha1.QuoteAttestationStatus{Condition: &sgxv1alpha1.QuoteAttestationCondition{
		Type:            sgxv1alpha1.ConditionFailure,
		State:           "WrittenByOther",
		Message:         "Written by someone else.",
		LastUpdatedTime: metav1.Now(),
	}}
}

func writeStatus(t *testing.T, name string, status sgxv1alpha1.QuoteAttestationStatus) {
	t.Helper()
	var cur sgxv1alpha1.QuoteAttestation
	key := client.ObjectKey{Namespace: requestNamespace, Name: name}
	if err := env.Client.Get(context.Background(), key, &cur); err != nil {
		t.Error(err)
		return
	}
	cur.Status = status
	if err := env.Client.Status().Update(context.Background(), &cur); err != nil {
		t.Errorf("write the foreign status: %v", err)
	}
}

func TestAdversarialStatusWrittenByOther(t *testing.T) {
	w := newWorld(t)
	main := w.platforms["main"]

	t.Run("before the key server starts", func(t *testing.T) {
		e := newEnclave(t)
		qa := request(t, "adv-foreign-before", e, e.quote(t, main), signerRSA)
		writeStatus(t, qa.Name, foreignFailure())

		ks := w.startKeyServer(t, false, nil)
		settle(ks)
		got := waitAnswer(t, qa, time.Second)
		if got.Status.Condition.State != "WrittenByOther" {
			t.Errorf("state = %s, want the foreign status kept", got.Status.Condition.State)
		}
		if n := len(secretsOf(t, qa)); n != 0 {
			t.Errorf("%d Secrets for a request answered by someone else, want 0", n)
		}
	})

	t.Run("while the key server answers", func(t *testing.T) {
		const name = "adv-foreign-during"
		e := newEnclave(t)
		var store *hookStore
		ks := w.startKeyServer(t, false, func(d *keyserver.Decider) {
			store = newHookStore(d.Keys, func() { writeStatus(t, name, foreignFailure()) })
			d.Keys = store
		})
		qa := request(t, name, e, e.quote(t, main), signerRSA, signerEC)
		store.wait(t)
		settle(ks)

		got := waitAnswer(t, qa, time.Second)
		if got.Status.Condition.State != "WrittenByOther" {
			t.Errorf("state = %s, want the foreign status kept", got.Status.Condition.State)
		}
		if n := len(secretsOf(t, qa)); n != 0 {
			t.Errorf("%d Secrets left for a request answered by someone else, want 0", n)
		}
	})
}

func TestAdversarialDeletedWhileAnswered(t *testing.T) {
	const name = "adv-deleted"
	w := newWorld(t)
	e := newEnclave(t)
	var store *hookStore
	ks := w.startKeyServer(t, false, func(d *keyserver.Decider) {
		store = newHookStore(d.Keys, func() {
			obj := &sgxv1alpha1.QuoteAttestation{ObjectMeta: metav1.ObjectMeta{Namespace: requestNamespace, Name: name}}
			if err := env.Client.Delete(context.Background(), obj); err != nil {
				t.Errorf("delete the request: %v", err)
			}
		})
		d.Keys = store
	})
	qa := request(t, name, e, e.quote(t, w.platforms["main"]), signerRSA, signerEC)
	store.wait(t)
	settle(ks)

	// The test control plane runs no garbage collector, so only the key
	// server can have removed the Secrets of the deleted request.
	if n := len(secretsOf(t, qa)); n != 0 {
		t.Errorf("%d Secrets left for a request deleted while it was answered, want 0", n)
	}
}

func TestAdversarialSameKeyAtOnce(t *testing.T) {
	w := newWorld(t)
	main := w.platforms["main"]
	w.startKeyServer(t, false, nil)

	cases := map[string]bool{"same quote": true, "two quotes of one key": false}
	for name, sameQuote := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnclave(t)
			quotes := [][]byte{e.quote(t, main), e.quote(t, main)}
			if sameQuote {
				quotes[1] = quotes[0]
			}
			prefix := map[bool]string{true: "adv-same-quote", false: "adv-same-key"}[sameQuote]
			var wg sync.WaitGroup
			requests := make([]*sgxv1alpha1.QuoteAttestation, 2)
			for i := range requests {
				wg.Add(1)
				go func() {
					defer wg.Done()
					requests[i] = request(t, prefix+"-"+string(rune('a'+i)), e, quotes[i], signerEC)
				}()
			}
			wg.Wait()

			success := 0
			for _, qa := range requests {
				got := waitAnswer(t, qa, 30*time.Second)
				cond := got.Status.Condition
				n := len(secretsOf(t, got))
				switch {
				case cond.Type == sgxv1alpha1.ConditionSuccess:
					success++
					if n != 1 {
						t.Errorf("%s: Success with %d Secrets, want 1", qa.Name, n)
					}
				case cond.State != sgxv1alpha1.StateReplayedRequest:
					t.Errorf("%s: %s: %s; want Success or %s", qa.Name, cond.State, cond.Message,
						sgxv1alpha1.StateReplayedRequest)
				case n != 0:
					t.Errorf("%s: refused with %d Secrets, want 0", qa.Name, n)
				}
			}
			if success != 1 {
				t.Errorf("%d of 2 requests for one key succeeded, want exactly 1", success)
			}
		})
	}
}

// The key server's Secret names are derived from the request's name. A
// Secret that someone else made under another name must not get in the
// way, and one the key server did not make must never be deleted.
func TestAdversarialForeignSecretsKept(t *testing.T) {
	w := newWorld(t)
	e := newEnclave(t)
	bystander := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: requestNamespace, Name: "adv-bystander",
			Annotations: map[string]string{keyserver.AttestationNameAnnotation: "adv-bystander-request"}},
		Data: map[string][]byte{"tls.key": []byte("not the key server's")},
	}
	if err := env.Client.Create(context.Background(), bystander); err != nil {
		t.Fatal(err)
	}
	w.startKeyServer(t, false, nil)
	qa := request(t, "adv-bystander-request", e, e.quote(t, w.platforms["main"]), signerEC)
	got := waitAnswer(t, qa, 30*time.Second)
	if got.Status.Condition.Type != sgxv1alpha1.ConditionSuccess {
		t.Fatalf("%s: %s", got.Status.Condition.State, got.Status.Condition.Message)
	}
	var kept corev1.Secret
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(bystander), &kept); err != nil {
		t.Errorf("the bystander Secret is gone: %v", err)
	}
}
