package apitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
)

// randomBytes returns n bytes from crypto/rand.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// newAttestation returns a valid QuoteAttestation with a random quote.
func newAttestation(t *testing.T, namespace, name string) *sgxv1alpha1.QuoteAttestation {
	return &sgxv1alpha1.QuoteAttestation{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: sgxv1alpha1.QuoteAttestationSpec{
			Quote:        randomBytes(t, 4734),
			QuoteVersion: sgxv1alpha1.ECDSAQuoteVersion3,
			ServiceID:    "tcs-issuer",
			PublicKey:    []byte("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"),
			SignerNames: []string{
				"tcsissuer.tcs.intel.com/sandbox.my-ca",
				"tcsclusterissuer.tcs.intel.com/cluster-ca.example.com",
			},
			Nonce: randomBytes(t, sgxv1alpha1.NonceSize),
		},
	}
}

func createNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

func TestQuoteAttestationAPI(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	createNamespace(t, c, "qa-test")

	t.Run("round trip is byte-exact", func(t *testing.T) {
		want := newAttestation(t, "qa-test", "round-trip")
		if err := c.Create(ctx, want.DeepCopy()); err != nil {
			t.Fatalf("create: %v", err)
		}
		got := &sgxv1alpha1.QuoteAttestation{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil {
			t.Fatalf("get: %v", err)
		}
		if !bytes.Equal(got.Spec.Quote, want.Spec.Quote) {
			t.Errorf("quote read back differs: %d bytes, want %d", len(got.Spec.Quote), len(want.Spec.Quote))
		}
		if !bytes.Equal(got.Spec.PublicKey, want.Spec.PublicKey) {
			t.Errorf("publicKey read back = %q, want %q", got.Spec.PublicKey, want.Spec.PublicKey)
		}
		if !bytes.Equal(got.Spec.Nonce, want.Spec.Nonce) {
			t.Errorf("nonce read back = %x, want %x", got.Spec.Nonce, want.Spec.Nonce)
		}
		if got.Spec.QuoteVersion != want.Spec.QuoteVersion || got.Spec.ServiceID != want.Spec.ServiceID {
			t.Errorf("quoteVersion, serviceId = %q, %q; want %q, %q",
				got.Spec.QuoteVersion, got.Spec.ServiceID, want.Spec.QuoteVersion, want.Spec.ServiceID)
		}
		if strings.Join(got.Spec.SignerNames, ",") != strings.Join(want.Spec.SignerNames, ",") {
			t.Errorf("signerNames = %v, want %v", got.Spec.SignerNames, want.Spec.SignerNames)
		}
	})

	t.Run("largest quote is accepted", func(t *testing.T) {
		qa := newAttestation(t, "qa-test", "largest-quote")
		qa.Spec.Quote = randomBytes(t, 65538) // base64 length 87384, the maximum
		if err := c.Create(ctx, qa); err != nil {
			t.Fatalf("create with a %d-byte quote: %v", len(qa.Spec.Quote), err)
		}
	})

	t.Run("spec is immutable", func(t *testing.T) {
		qa := newAttestation(t, "qa-test", "immutable")
		if err := c.Create(ctx, qa); err != nil {
			t.Fatalf("create: %v", err)
		}
		changes := map[string]func(*sgxv1alpha1.QuoteAttestationSpec){
			"quote":       func(s *sgxv1alpha1.QuoteAttestationSpec) { s.Quote = randomBytes(t, 100) },
			"publicKey":   func(s *sgxv1alpha1.QuoteAttestationSpec) { s.PublicKey = []byte("other") },
			"signerNames": func(s *sgxv1alpha1.QuoteAttestationSpec) { s.SignerNames = s.SignerNames[:1] },
			"nonce":       func(s *sgxv1alpha1.QuoteAttestationSpec) { s.Nonce = randomBytes(t, 16) },
			"serviceId":   func(s *sgxv1alpha1.QuoteAttestationSpec) { s.ServiceID = "other" },
		}
		for field, change := range changes {
			updated := qa.DeepCopy()
			change(&updated.Spec)
			err := c.Update(ctx, updated)
			if !apierrors.IsInvalid(err) {
				t.Errorf("update of spec.%s: err = %v, want Invalid", field, err)
				continue
			}
			if !strings.Contains(err.Error(), "spec is immutable") {
				t.Errorf("update of spec.%s: message %q does not say the spec is immutable", field, err)
			}
		}

		labelled := qa.DeepCopy()
		labelled.Labels = map[string]string{"purpose": "test"}
		if err := c.Update(ctx, labelled); err != nil {
			t.Errorf("update of metadata only: %v", err)
		}
	})

	t.Run("invalid specs are rejected", func(t *testing.T) {
		cases := map[string]struct {
			mutate  func(*sgxv1alpha1.QuoteAttestationSpec)
			message string
		}{
			"wrong quoteVersion": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) { s.QuoteVersion = "ECDSA Quote 4" },
				"spec.quoteVersion",
			},
			"empty quoteVersion": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) { s.QuoteVersion = "" },
				"spec.quoteVersion",
			},
			"empty signerNames": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) { s.SignerNames = []string{} },
				"spec.signerNames",
			},
			"missing signerNames": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) { s.SignerNames = nil },
				"spec.signerNames",
			},
			"foreign signer name": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) { s.SignerNames = []string{"example.com/my-ca"} },
				"spec.signerNames[0]",
			},
			"signer name without namespace": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) {
					s.SignerNames = []string{"tcsissuer.tcs.intel.com/my-ca"}
				},
				"spec.signerNames[0]",
			},
			"signer name in upper case": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) {
					s.SignerNames = []string{"tcsclusterissuer.tcs.intel.com/My-CA"}
				},
				"spec.signerNames[0]",
			},
			"duplicate signer names": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) {
					s.SignerNames = []string{s.SignerNames[0], s.SignerNames[0]}
				},
				"spec.signerNames[1]",
			},
			"too many signer names": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) {
					s.SignerNames = nil
					for i := range sgxv1alpha1.MaxSignerNames + 1 {
						s.SignerNames = append(s.SignerNames,
							"tcsclusterissuer.tcs.intel.com/ca-"+strings.Repeat("x", i+1))
					}
				},
				"spec.signerNames",
			},
			"oversized quote": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) { s.Quote = randomBytes(t, 65539) },
				"spec.quote",
			},
			"empty quote": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) { s.Quote = nil },
				"spec.quote",
			},
			"oversized publicKey": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) { s.PublicKey = randomBytes(t, 3073) },
				"spec.publicKey",
			},
			"short nonce": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) { s.Nonce = randomBytes(t, 15) },
				"spec.nonce",
			},
			"long nonce": {
				func(s *sgxv1alpha1.QuoteAttestationSpec) { s.Nonce = randomBytes(t, 17) },
				"spec.nonce",
			},
		}
		i := 0
		for name, tc := range cases {
			i++
			qa := newAttestation(t, "qa-test", "invalid-"+strings.ReplaceAll(name, " ", "-"))
			tc.mutate(&qa.Spec)
			err := c.Create(ctx, qa)
			if !apierrors.IsInvalid(err) {
				t.Errorf("%s: err = %v, want Invalid", name, err)
				continue
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("%s: message %q does not mention %q", name, err, tc.message)
			}
		}
	})

	t.Run("status goes through the subresource", func(t *testing.T) {
		qa := newAttestation(t, "qa-test", "status")
		if err := c.Create(ctx, qa); err != nil {
			t.Fatalf("create: %v", err)
		}
		answer := sgxv1alpha1.QuoteAttestationStatus{
			Condition: &sgxv1alpha1.QuoteAttestationCondition{
				Type:            sgxv1alpha1.ConditionSuccess,
				State:           sgxv1alpha1.StateQuoteVerified,
				Message:         "The quote verified.",
				LastUpdatedTime: metav1.NewTime(time.Now().Truncate(time.Second)),
			},
			Secrets: map[string]sgxv1alpha1.QuoteAttestationSecret{
				qa.Spec.SignerNames[0]: {SecretName: "status-0", SecretType: sgxv1alpha1.SecretTypeKMRA},
			},
		}

		// A write of the main resource drops status changes.
		viaMain := qa.DeepCopy()
		viaMain.Status = answer
		if err := c.Update(ctx, viaMain); err != nil {
			t.Fatalf("update of the main resource: %v", err)
		}
		got := &sgxv1alpha1.QuoteAttestation{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(qa), got); err != nil {
			t.Fatal(err)
		}
		if got.Status.Condition != nil {
			t.Errorf("status written through the main resource was kept: %+v", got.Status.Condition)
		}

		// The status subresource takes it.
		got.Status = answer
		if err := c.Status().Update(ctx, got); err != nil {
			t.Fatalf("update of the status subresource: %v", err)
		}
		stored := &sgxv1alpha1.QuoteAttestation{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(qa), stored); err != nil {
			t.Fatal(err)
		}
		if stored.Status.Condition == nil || stored.Status.Condition.State != sgxv1alpha1.StateQuoteVerified {
			t.Fatalf("status after subresource update = %+v, want state %s",
				stored.Status.Condition, sgxv1alpha1.StateQuoteVerified)
		}
		if stored.Status.Secrets[qa.Spec.SignerNames[0]].SecretType != sgxv1alpha1.SecretTypeKMRA {
			t.Errorf("status.secrets = %+v, want a KMRA entry for %s", stored.Status.Secrets, qa.Spec.SignerNames[0])
		}

		// Once answered, the status is final.
		second := stored.DeepCopy()
		second.Status.Condition.Type = sgxv1alpha1.ConditionFailure
		second.Status.Condition.State = sgxv1alpha1.StateTCBRevoked
		err := c.Status().Update(ctx, second)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "status is final") {
			t.Errorf("second answer: err = %v, want Invalid saying the status is final", err)
		}
	})

	t.Run("invalid status is rejected", func(t *testing.T) {
		qa := newAttestation(t, "qa-test", "bad-status")
		if err := c.Create(ctx, qa); err != nil {
			t.Fatalf("create: %v", err)
		}
		cases := map[string]sgxv1alpha1.QuoteAttestationCondition{
			"unknown type":        {Type: "Maybe", State: sgxv1alpha1.StateQuoteVerified},
			"state not TitleCase": {Type: sgxv1alpha1.ConditionFailure, State: "tcb_revoked"},
			"state with spaces":   {Type: sgxv1alpha1.ConditionFailure, State: "TCB Revoked"},
			"missing type":        {State: sgxv1alpha1.StateTCBRevoked},
		}
		for name, cond := range cases {
			bad := qa.DeepCopy()
			bad.Status.Condition = &cond
			if err := c.Status().Update(ctx, bad); !apierrors.IsInvalid(err) {
				t.Errorf("%s: err = %v, want Invalid", name, err)
			}
		}
	})
}
