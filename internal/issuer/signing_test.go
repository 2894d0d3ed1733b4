package issuer_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
	"github.com/tcs-project/tcs/internal/issuer/csr"
)

const signTimeout = 20 * time.Second

// opensslCSR makes a PKCS#10 request with `openssl req`, the way an
// operator would, or with crypto/x509 when openssl is not installed.
func opensslCSR(t *testing.T, commonName string) []byte {
	t.Helper()
	if path, err := exec.LookPath("openssl"); err == nil {
		dir := t.TempDir()
		out := filepath.Join(dir, "req.pem")
		cmd := exec.Command(path, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
			"-nodes", "-keyout", filepath.Join(dir, "key.pem"), "-subj", "/O=TCS test/CN="+commonName,
			"-addext", "subjectAltName=DNS:"+commonName, "-out", out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl req: %v: %s", err, msg)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return goCSR(t, key, commonName)
}

func goCSR(t testing.TB, key any, commonName string) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{Organization: []string{"TCS test"}, CommonName: commonName},
		DNSNames: []string{commonName},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func parseCerts(t testing.TB, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("parse certificate: %v", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatal("no certificate in PEM data")
	}
	return out
}

// verifyChain checks that leaf chains to root for the usage.
func verifyChain(t testing.TB, leaf *x509.Certificate, intermediates []*x509.Certificate,
	root *x509.Certificate, usage x509.ExtKeyUsage) {
	t.Helper()
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		t.Fatalf("verify %q: %v", leaf.Subject, err)
	}
}

// readySelfSigned creates a self-signed TCSIssuer and waits until it is
// Ready, returning its CA certificate as published.
func readySelfSigned(t testing.TB, f *fixture, name string) (*tcsv1alpha1.TCSIssuer, *x509.Certificate) {
	t.Helper()
	iss := newIssuer(name, true)
	f.create(iss)
	waitReady(t, iss, metav1.ConditionTrue, "SelfSigned", signTimeout)
	s := publishedCA(t, types.NamespacedName{Namespace: issuerNamespace, Name: iss.Spec.SecretName})
	return iss, parseCerts(t, s.Data[corev1.TLSCertKey])[0]
}

func TestSelfSignedIssuer(t *testing.T) {
	f := startIssuer(t, issuerOptions{})
	ctx := context.Background()

	iss, ca := readySelfSigned(t, f, "selfsigned")
	secret := publishedCA(t, types.NamespacedName{Namespace: issuerNamespace, Name: iss.Spec.SecretName})
	if secret.Type != corev1.SecretTypeTLS {
		t.Errorf("secret type = %s, want %s", secret.Type, corev1.SecretTypeTLS)
	}
	if key, ok := secret.Data[corev1.TLSPrivateKeyKey]; !ok || len(key) != 0 {
		t.Errorf("tls.key = %d bytes (present %v), want present and empty", len(key), ok)
	}
	if secret.Labels["test"] != "selfsigned" {
		t.Errorf("secret labels = %v, want the issuer's spec.labels", secret.Labels)
	}
	if !ca.IsCA || ca.CheckSignatureFrom(ca) != nil {
		t.Errorf("published certificate is not a self-signed CA: IsCA %v", ca.IsCA)
	}
	s, err := f.proc.tok.FindSigner(iss.SignerName())
	if err != nil {
		t.Fatalf("find signer in token: %v", err)
	}
	if !s.Certificate().Equal(ca) {
		t.Error("published CA certificate differs from the token's")
	}

	// A deleted CA certificate Secret is published again.
	if err := admin.Delete(ctx, secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, signTimeout, "the republished secret", func() (bool, string) {
		var again corev1.Secret
		err := admin.Get(ctx, client.ObjectKeyFromObject(secret), &again)
		if err != nil {
			return false, err.Error()
		}
		return again.UID != secret.UID && len(again.Data[corev1.TLSCertKey]) > 0, "old secret"
	})

	cluster := &tcsv1alpha1.TCSClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "selfsigned-cluster"},
		Spec:       tcsv1alpha1.TCSIssuerSpec{SecretName: "selfsigned-cluster-ca"},
	}
	f.create(cluster)
	waitReady(t, cluster, metav1.ConditionTrue, "SelfSigned", signTimeout)
	publishedCA(t, types.NamespacedName{Namespace: clusterSecretNamespace, Name: "selfsigned-cluster-ca"})

	// Deleting the issuer removes its signer from the token and its Secret.
	if err := admin.Delete(ctx, iss); err != nil {
		t.Fatal(err)
	}
	eventually(t, signTimeout, "issuer deletion", func() (bool, string) {
		err := admin.Get(ctx, client.ObjectKeyFromObject(iss), iss)
		return isNotFound(err), "issuer still exists"
	})
	if _, err := f.proc.tok.FindSigner(iss.SignerName()); !isNotFound(err) {
		t.Errorf("signer after deletion: err = %v, want not found", err)
	}
	err = admin.Get(ctx, types.NamespacedName{Namespace: issuerNamespace, Name: iss.Spec.SecretName}, &corev1.Secret{})
	if !isNotFound(err) {
		t.Errorf("published secret after deletion: err = %v, want not found", err)
	}
}

func TestSelfSignedIssuerRestart(t *testing.T) {
	f := startIssuer(t, issuerOptions{})
	iss, ca := readySelfSigned(t, f, "restart-selfsigned")
	f.restart()

	// The restarted issuer reuses the CA in the token.
	csrObj := newCSR("restart-csr", iss.SignerName(), opensslCSR(t, "restart.example.test"))
	f.create(csrObj)
	approveCSR(t, csrObj)
	chain := waitCSRCertificate(t, csrObj)
	if len(chain) != 1 {
		t.Errorf("status.certificate has %d certificates, want the leaf alone without --csr-full-chain", len(chain))
	}
	verifyChain(t, chain[0], nil, ca, x509.ExtKeyUsageServerAuth)
	names, err := f.proc.tok.ListSigners()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{iss.SignerName()}) {
		t.Errorf("signers in the token = %v, want only %s", names, iss.SignerName())
	}
}

func newCSR(name, signerName string, request []byte) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           request,
			SignerName:        signerName,
			ExpirationSeconds: ptr.To[int32](3600),
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature,
				certificatesv1.UsageServerAuth},
		},
	}
}

func setCSRCondition(t testing.TB, c *certificatesv1.CertificateSigningRequest, typ certificatesv1.RequestConditionType) {
	t.Helper()
	c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: typ, Status: corev1.ConditionTrue, Reason: "Test", Message: "set by the test",
	})
	if _, err := clientset(t).CertificatesV1().CertificateSigningRequests().
		UpdateApproval(context.Background(), c.Name, c, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("set %s on CSR %s: %v", typ, c.Name, err)
	}
}

func approveCSR(t testing.TB, c *certificatesv1.CertificateSigningRequest) {
	setCSRCondition(t, c, certificatesv1.CertificateApproved)
}

func waitCSRCertificate(t testing.TB, c *certificatesv1.CertificateSigningRequest) []*x509.Certificate {
	t.Helper()
	eventually(t, signTimeout, "certificate of CSR "+c.Name, func() (bool, string) {
		if err := admin.Get(context.Background(), client.ObjectKeyFromObject(c), c); err != nil {
			return false, err.Error()
		}
		return len(c.Status.Certificate) > 0, "no certificate"
	})
	return parseCerts(t, c.Status.Certificate)
}

func TestCSRSigner(t *testing.T) {
	f := startIssuer(t, issuerOptions{fullChain: true})
	ctx := context.Background()
	iss, ca := readySelfSigned(t, f, "csr-issuer")

	unapproved := newCSR("csr-unapproved", iss.SignerName(), opensslCSR(t, "unapproved.example.test"))
	f.create(unapproved)
	denied := newCSR("csr-denied", iss.SignerName(), opensslCSR(t, "denied.example.test"))
	f.create(denied)
	setCSRCondition(t, denied, certificatesv1.CertificateDenied)

	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	invalid := newCSR("csr-invalid", iss.SignerName(), goCSR(t, weak, "weak.example.test"))
	f.create(invalid)
	approveCSR(t, invalid)

	approved := newCSR("csr-approved", iss.SignerName(), opensslCSR(t, "web.example.test"))
	f.create(approved)
	approveCSR(t, approved)
	chain := waitCSRCertificate(t, approved)

	leaf := chain[0]
	if len(chain) != 2 || !chain[1].Equal(ca) {
		t.Errorf("status.certificate has %d certificates, want the leaf and the CA (--csr-full-chain)", len(chain))
	}
	verifyChain(t, leaf, nil, ca, x509.ExtKeyUsageServerAuth)
	if leaf.Subject.CommonName != "web.example.test" || !slices.Equal(leaf.DNSNames, []string{"web.example.test"}) {
		t.Errorf("leaf subject %q, DNS names %v; want those of the request", leaf.Subject, leaf.DNSNames)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got < time.Hour || got > time.Hour+10*time.Minute {
		t.Errorf("validity = %s, want about expirationSeconds (1h) plus the backdate", got)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage = %v, want digital signature", leaf.KeyUsage)
	}
	if !bytes.Equal(leaf.AuthorityKeyId, ca.SubjectKeyId) || len(leaf.SubjectKeyId) == 0 {
		t.Error("leaf lacks a subject key identifier or an authority key identifier equal to the CA's")
	}
	if n := len(leaf.SerialNumber.Bytes()); n < 16 {
		t.Errorf("serial number has %d bytes, want a random serial of at least 16", n)
	}

	eventually(t, signTimeout, "Failed condition of the invalid CSR", func() (bool, string) {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(invalid), invalid); err != nil {
			return false, err.Error()
		}
		for _, c := range invalid.Status.Conditions {
			if c.Type == certificatesv1.CertificateFailed {
				return c.Reason == csr.ReasonInvalidRequest, "reason " + c.Reason
			}
		}
		return false, "no Failed condition"
	})
	if len(invalid.Status.Certificate) > 0 {
		t.Error("invalid CSR was signed")
	}

	// The signed and failed requests show that the signer has looked at
	// every request by now.
	for _, c := range []*certificatesv1.CertificateSigningRequest{unapproved, denied} {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(c), c); err != nil {
			t.Fatal(err)
		}
		if len(c.Status.Certificate) > 0 {
			t.Errorf("CSR %s was signed", c.Name)
		}
	}
}

func newCertificateRequest(name, kind, issuerName string, request []byte) *cmapi.CertificateRequest {
	return &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: issuerNamespace, Name: name},
		Spec: cmapi.CertificateRequestSpec{
			Request:   request,
			IssuerRef: cmmeta.IssuerReference{Group: tcsv1alpha1.GroupVersion.Group, Kind: kind, Name: issuerName},
			Duration:  &metav1.Duration{Duration: 2 * time.Hour},
			Usages:    []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageClientAuth},
		},
	}
}

// setCRCondition sets a condition as cert-manager's approver would.
func setCRCondition(t *testing.T, cr *cmapi.CertificateRequest, typ cmapi.CertificateRequestConditionType) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(cr), cr); err != nil {
			return err
		}
		now := metav1.Now()
		cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{
			Type: typ, Status: cmmeta.ConditionTrue, Reason: "Test", Message: "set by the test",
			LastTransitionTime: &now,
		})
		return admin.Status().Update(ctx, cr)
	})
	if err != nil {
		t.Fatalf("set %s on CertificateRequest %s: %v", typ, cr.Name, err)
	}
}

func waitCRReady(t *testing.T, cr *cmapi.CertificateRequest, status cmmeta.ConditionStatus, reason string) {
	t.Helper()
	eventually(t, signTimeout, "Ready "+reason+" of CertificateRequest "+cr.Name, func() (bool, string) {
		if err := admin.Get(context.Background(), client.ObjectKeyFromObject(cr), cr); err != nil {
			return false, err.Error()
		}
		for _, c := range cr.Status.Conditions {
			if c.Type == cmapi.CertificateRequestConditionReady {
				return c.Status == status && c.Reason == reason, string(c.Status) + " " + c.Reason + ": " + c.Message
			}
		}
		return false, "no Ready condition"
	})
}

func TestCertificateRequestSigner(t *testing.T) {
	f := startIssuer(t, issuerOptions{})
	iss, ca := readySelfSigned(t, f, "cr-issuer")

	approved := newCertificateRequest("cr-approved", "TCSIssuer", iss.Name, opensslCSR(t, "client.example.test"))
	f.create(approved)
	setCRCondition(t, approved, cmapi.CertificateRequestConditionApproved)
	waitCRReady(t, approved, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued)
	leaf := parseCerts(t, approved.Status.Certificate)[0]
	if got := parseCerts(t, approved.Status.CA); len(got) != 1 || !got[0].Equal(ca) {
		t.Error("status.ca is not the issuer's CA certificate")
	}
	verifyChain(t, leaf, nil, ca, x509.ExtKeyUsageClientAuth)
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got < 2*time.Hour || got > 2*time.Hour+10*time.Minute {
		t.Errorf("validity = %s, want about spec.duration (2h)", got)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("extended key usage = %v, want client auth", leaf.ExtKeyUsage)
	}

	denied := newCertificateRequest("cr-denied", "TCSIssuer", iss.Name, opensslCSR(t, "denied.example.test"))
	f.create(denied)
	setCRCondition(t, denied, cmapi.CertificateRequestConditionDenied)
	waitCRReady(t, denied, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonDenied)
	if denied.Status.FailureTime == nil {
		t.Error("denied request has no failureTime")
	}
	if len(denied.Status.Certificate) > 0 {
		t.Error("denied request was signed")
	}

	unapproved := newCertificateRequest("cr-unapproved", "TCSIssuer", iss.Name, opensslCSR(t, "wait.example.test"))
	f.create(unapproved)
	waitCRReady(t, unapproved, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonPending)
	if len(unapproved.Status.Certificate) > 0 {
		t.Error("unapproved request was signed")
	}

	missing := newCertificateRequest("cr-missing", "TCSClusterIssuer", "no-such-issuer",
		opensslCSR(t, "missing.example.test"))
	f.create(missing)
	setCRCondition(t, missing, cmapi.CertificateRequestConditionApproved)
	waitCRReady(t, missing, cmmeta.ConditionFalse, "IssuerNotFound")

	// The issuer appears later; the waiting request is then signed.
	cluster := &tcsv1alpha1.TCSClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "no-such-issuer"},
		Spec:       tcsv1alpha1.TCSIssuerSpec{SecretName: "late-cluster-ca"},
	}
	f.create(cluster)
	waitCRReady(t, missing, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued)
}

func TestSelfSignedIssuerSecretConflict(t *testing.T) {
	f := startIssuer(t, issuerOptions{})
	ctx := context.Background()
	other := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: issuerNamespace, Name: "taken-ca"},
		Data:       map[string][]byte{"owner": []byte("someone else")},
	}
	f.create(other)
	iss := newIssuer("taken", true)
	f.create(iss)

	// The issuer never overwrites a Secret that it did not make.
	c := waitReady(t, iss, metav1.ConditionFalse, "SecretConflict", signTimeout)
	if !strings.Contains(c.Message, "taken-ca") {
		t.Errorf("Ready message = %q, want it to name the secret", c.Message)
	}
	var s corev1.Secret
	if err := admin.Get(ctx, client.ObjectKeyFromObject(other), &s); err != nil {
		t.Fatal(err)
	}
	if string(s.Data["owner"]) != "someone else" || len(s.Data[corev1.TLSCertKey]) > 0 {
		t.Error("the other owner's secret was changed")
	}

	// Once the other Secret is gone the issuer publishes its own.
	if err := admin.Delete(ctx, other); err != nil {
		t.Fatal(err)
	}
	waitReady(t, iss, metav1.ConditionTrue, "SelfSigned", signTimeout)
	publishedCA(t, client.ObjectKeyFromObject(other))
}
