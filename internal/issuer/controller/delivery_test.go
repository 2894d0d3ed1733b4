package controller

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/issuer/castore"
	"github.com/tcs-project/tcs/internal/keywrap"
)

func testCert(t *testing.T, cn string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (
	*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: isCA, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func TestDecodeDelivery(t *testing.T) {
	root, rootKey := testCert(t, "root", true, nil, nil)
	ca, _ := testCert(t, "ca", true, root, rootKey)
	leaf, _ := testCert(t, "leaf", false, root, rootKey)
	other, _ := testCert(t, "other", true, nil, nil)
	chainPEM := castore.EncodePEM(ca, root)
	blob := []byte("wrapped key bytes")
	b64 := func(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }

	tests := map[string]struct {
		secretType string
		data       map[string][]byte
		chainLen   int
		errText    string
	}{
		"base64 PEM chain": {
			data:     map[string][]byte{"tls.key": b64(blob), "tls.crt": b64(chainPEM)},
			chainLen: 2,
		},
		"plain PEM chain": {
			secretType: sgxv1alpha1.SecretTypeKMRA,
			data:       map[string][]byte{"tls.key": b64(blob), "tls.crt": chainPEM},
			chainLen:   2,
		},
		"unknown secret type": {
			secretType: "PKCS12",
			data:       map[string][]byte{"tls.key": b64(blob), "tls.crt": chainPEM},
			errText:    `secretType "PKCS12"`,
		},
		"missing key": {
			data:    map[string][]byte{"tls.crt": chainPEM},
			errText: "has no tls.key",
		},
		"key not base64": {
			data:    map[string][]byte{"tls.key": []byte("%%%"), "tls.crt": chainPEM},
			errText: "tls.key of secret delivery is not base64",
		},
		"missing certificate": {
			data:    map[string][]byte{"tls.key": b64(blob)},
			errText: "has no tls.crt",
		},
		"certificate not PEM": {
			data:    map[string][]byte{"tls.key": b64(blob), "tls.crt": []byte("%%%")},
			errText: "neither PEM nor base64",
		},
		"not a CA": {
			data:    map[string][]byte{"tls.key": b64(blob), "tls.crt": castore.EncodePEM(leaf, root)},
			errText: "is not a CA certificate",
		},
		"broken chain": {
			data:    map[string][]byte{"tls.key": b64(blob), "tls.crt": castore.EncodePEM(ca, other)},
			errText: "is not signed by the next one",
		},
		"too many certificates": {
			data: map[string][]byte{"tls.key": b64(blob),
				"tls.crt": castore.EncodePEM(ca, root, root, root, root, root, root, root, root)},
			errText: "more than 8 certificates",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "delivery"}, Data: tc.data}
			d, err := decodeDelivery(sgxv1alpha1.QuoteAttestationSecret{SecretName: "delivery",
				SecretType: tc.secretType}, s)
			if tc.errText != "" {
				if !errors.Is(err, ErrInvalidDelivery) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v, want ErrInvalidDelivery containing %q", err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(d.blob) != string(blob) {
				t.Error("blob differs from the base64-decoded tls.key")
			}
			if len(d.chain) != tc.chainLen || !d.chain[0].Equal(ca) {
				t.Errorf("chain has %d certificates, want %d starting with the CA", len(d.chain), tc.chainLen)
			}
		})
	}
}

func TestVerifyReceipt(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	enclaveKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	qk := &token.QuoteKey{Name: "tcs-issuer-1", Public: &enclaveKey.PublicKey}
	qa := &sgxv1alpha1.QuoteAttestation{
		ObjectMeta: metav1.ObjectMeta{Name: "tcs-issuer-1", UID: "uid-1"},
		Spec:       sgxv1alpha1.QuoteAttestationSpec{Quote: []byte("quote bytes")},
	}
	const signer = "tcsclusterissuer.tcs.intel.com/ca"
	tlsKey, tlsCert := []byte("a2V5"), []byte("Y2VydA==")
	receipt, err := keywrap.NewReceipt(qa.Spec.Quote, qk.Public, signer, "uid-1", tlsKey, tlsCert)
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := receipt.Sign(priv)
	if err != nil {
		t.Fatal(err)
	}

	tests := map[string]struct {
		keyServer ed25519.PublicKey
		signer    string
		data      map[string][]byte
		want      error
	}{
		"valid": {
			keyServer: pub, signer: signer,
			data: map[string][]byte{"tls.key": tlsKey, "tls.crt": tlsCert, keywrap.ReceiptSecretKey: encoded},
		},
		"missing": {
			keyServer: pub, signer: signer,
			data: map[string][]byte{"tls.key": tlsKey, "tls.crt": tlsCert},
			want: ErrReceiptMissing,
		},
		"another key server": {
			keyServer: otherPub, signer: signer,
			data: map[string][]byte{"tls.key": tlsKey, "tls.crt": tlsCert, keywrap.ReceiptSecretKey: encoded},
			want: keywrap.ErrReceiptSignature,
		},
		"substituted key": {
			keyServer: pub, signer: signer,
			data: map[string][]byte{"tls.key": []byte("b3RoZXI="), "tls.crt": tlsCert,
				keywrap.ReceiptSecretKey: encoded},
			want: keywrap.ErrReceiptMismatch,
		},
		"another signer": {
			keyServer: pub, signer: "tcsclusterissuer.tcs.intel.com/other",
			data: map[string][]byte{"tls.key": tlsKey, "tls.crt": tlsCert, keywrap.ReceiptSecretKey: encoded},
			want: keywrap.ErrReceiptMismatch,
		},
		"garbage": {
			keyServer: pub, signer: signer,
			data: map[string][]byte{"tls.key": tlsKey, "tls.crt": tlsCert, keywrap.ReceiptSecretKey: []byte("xx")},
			want: keywrap.ErrReceiptMalformed,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "delivery"}, Data: tc.data}
			err := verifyReceipt(tc.keyServer, qa, qk, tc.signer, s)
			if tc.want == nil && err != nil {
				t.Fatalf("err = %v, want none", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
