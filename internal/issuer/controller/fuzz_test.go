package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
)

// FuzzDecodeDelivery feeds arbitrary Secret values, which the key server or
// anyone who can write Secrets in the operator's namespace controls, to the
// decoder: it must reject or accept them without panicking.
func FuzzDecodeDelivery(f *testing.F) {
	f.Add([]byte("a2V5"), []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte(""), []byte("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"))
	f.Add([]byte("%%"), []byte{0x30, 0x82, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, key, cert []byte) {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "fuzz"},
			Data: map[string][]byte{corev1.TLSPrivateKeyKey: key, corev1.TLSCertKey: cert}}
		d, err := decodeDelivery(sgxv1alpha1.QuoteAttestationSecret{SecretName: "fuzz"}, s)
		if err == nil && (len(d.chain) == 0 || !d.chain[0].IsCA) {
			t.Fatal("accepted a delivery without a CA certificate")
		}
	})
}
