package apitest

import (
	"context"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
)

func TestIssuerAPI(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	createNamespace(t, c, "issuer-test")

	t.Run("selfSign defaults to true", func(t *testing.T) {
		issuer := &tcsv1alpha1.TCSIssuer{
			ObjectMeta: metav1.ObjectMeta{Namespace: "issuer-test", Name: "default-ca"},
			Spec:       tcsv1alpha1.TCSIssuerSpec{SecretName: "default-ca"},
		}
		if err := c.Create(ctx, issuer); err != nil {
			t.Fatalf("create: %v", err)
		}
		got := &tcsv1alpha1.TCSIssuer{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(issuer), got); err != nil {
			t.Fatal(err)
		}
		if got.Spec.SelfSign == nil || !*got.Spec.SelfSign {
			t.Errorf("spec.selfSign = %v, want the default true", got.Spec.SelfSign)
		}
		if got.SignerName() != "tcsissuer.tcs.intel.com/issuer-test.default-ca" {
			t.Errorf("SignerName() = %q", got.SignerName())
		}
	})

	t.Run("cluster issuer is cluster-scoped", func(t *testing.T) {
		selfSign := false
		issuer := &tcsv1alpha1.TCSClusterIssuer{
			ObjectMeta: metav1.ObjectMeta{Name: "provisioned-ca"},
			Spec: tcsv1alpha1.TCSIssuerSpec{
				SecretName: "provisioned-ca",
				SelfSign:   &selfSign,
				Labels:     map[string]string{"team": "payments"},
			},
		}
		if err := c.Create(ctx, issuer); err != nil {
			t.Fatalf("create: %v", err)
		}
		got := &tcsv1alpha1.TCSClusterIssuer{}
		if err := c.Get(ctx, client.ObjectKey{Name: "provisioned-ca"}, got); err != nil {
			t.Fatal(err)
		}
		if got.Spec.SelfSigned() {
			t.Errorf("SelfSigned() = true after creating with selfSign false")
		}
		if got.Spec.Labels["team"] != "payments" {
			t.Errorf("spec.labels = %v", got.Spec.Labels)
		}
	})

	t.Run("Ready condition is stored in status", func(t *testing.T) {
		issuer := &tcsv1alpha1.TCSIssuer{}
		key := client.ObjectKey{Namespace: "issuer-test", Name: "default-ca"}
		if err := c.Get(ctx, key, issuer); err != nil {
			t.Fatal(err)
		}
		issuer.Status.Conditions = []metav1.Condition{{
			Type:               tcsv1alpha1.ConditionReady,
			Status:             metav1.ConditionTrue,
			Reason:             "Provisioned",
			Message:            "The CA key is in the enclave.",
			LastTransitionTime: metav1.Now(),
		}}
		if err := c.Status().Update(ctx, issuer); err != nil {
			t.Fatalf("status update: %v", err)
		}
		got := &tcsv1alpha1.TCSIssuer{}
		if err := c.Get(ctx, key, got); err != nil {
			t.Fatal(err)
		}
		if len(got.Status.Conditions) != 1 || got.Status.Conditions[0].Reason != "Provisioned" {
			t.Errorf("status.conditions = %+v", got.Status.Conditions)
		}
	})

	t.Run("missing secretName is rejected", func(t *testing.T) {
		issuer := &tcsv1alpha1.TCSIssuer{
			ObjectMeta: metav1.ObjectMeta{Namespace: "issuer-test", Name: "no-secret"},
		}
		if err := c.Create(ctx, issuer); !apierrors.IsInvalid(err) {
			t.Errorf("err = %v, want Invalid", err)
		}
	})

	t.Run("printer columns", func(t *testing.T) {
		want := map[string][]string{
			"tcsissuers.tcs.intel.com":        {"Ready", "Reason", "Message", "Age"},
			"tcsclusterissuers.tcs.intel.com": {"Ready", "Reason", "Message", "Age"},
			"quoteattestations.sgx.intel.com": {"Type", "State", "Age"},
		}
		for name, columns := range want {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
				t.Fatalf("get CRD %s: %v", name, err)
			}
			var got []string
			for _, col := range crd.Spec.Versions[0].AdditionalPrinterColumns {
				got = append(got, col.Name)
			}
			if len(got) != len(columns) {
				t.Errorf("%s printer columns = %v, want %v", name, got, columns)
				continue
			}
			for i := range columns {
				if got[i] != columns[i] {
					t.Errorf("%s printer column %d = %q, want %q", name, i, got[i], columns[i])
				}
			}
		}
	})
}

func TestQuoteAttestationRejectsInvalidBase64(t *testing.T) {
	ctx := context.Background()
	createNamespace(t, env.Client, "raw-test")

	cases := map[string]map[string]any{
		"quote":     {"quote": "not base64!"},
		"publicKey": {"publicKey": "PEM?"},
		"nonce":     {"nonce": "AAECAwQFBgcICQoLDA0ODxA="}, // 17 bytes
	}
	for field, override := range cases {
		spec := map[string]any{
			"quote":        "AAECAw==",
			"quoteVersion": "ECDSA Quote 3",
			"publicKey":    "AAECAw==",
			"signerNames":  []any{"tcsclusterissuer.tcs.intel.com/ca"},
		}
		for k, v := range override {
			spec[k] = v
		}
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "sgx.intel.com/v1alpha1",
			"kind":       "QuoteAttestation",
			"metadata":   map[string]any{"name": "raw-" + map[string]string{"quote": "q", "publicKey": "p", "nonce": "n"}[field], "namespace": "raw-test"},
			"spec":       spec,
		}}
		if err := env.Client.Create(ctx, obj); !apierrors.IsInvalid(err) {
			t.Errorf("spec.%s = %v: err = %v, want Invalid", field, override[field], err)
		}
	}
}

func TestSignerNamePatternMatchesCRD(t *testing.T) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "quoteattestations.sgx.intel.com"}, crd); err != nil {
		t.Fatal(err)
	}
	items := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["signerNames"].Items.Schema
	if items.Pattern != sgxv1alpha1.SignerNamePattern {
		t.Errorf("CRD pattern %q differs from SignerNamePattern %q", items.Pattern, sgxv1alpha1.SignerNamePattern)
	}
	if items.MaxLength == nil || *items.MaxLength != sgxv1alpha1.MaxSignerNameLength {
		t.Errorf("CRD maxLength %v differs from MaxSignerNameLength %d", items.MaxLength, sgxv1alpha1.MaxSignerNameLength)
	}
	for name, want := range map[string]bool{
		"tcsissuer.tcs.intel.com/ns.ca":        true,
		"tcsclusterissuer.tcs.intel.com/ca.x":  true,
		"tcsissuer.tcs.intel.com/ca":           false,
		"bad-signer":                           false,
		"tcsclusterissuer.tcs.intel.com/UPPER": false,
	} {
		if got := sgxv1alpha1.ValidSignerName(name); got != want {
			t.Errorf("ValidSignerName(%q) = %v, want %v", name, got, want)
		}
	}
}
