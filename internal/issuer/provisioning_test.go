package issuer_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
	"github.com/tcs-project/tcs/internal/enclave/quoting"
	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/enclave/token/softhsmtest"
	"github.com/tcs-project/tcs/internal/issuer/controller"
	"github.com/tcs-project/tcs/internal/keyserver"
)

const provisionTimeout = 30 * time.Second

func listRequests(t *testing.T) []sgxv1alpha1.QuoteAttestation {
	t.Helper()
	var list sgxv1alpha1.QuoteAttestationList
	if err := admin.List(context.Background(), &list, client.InNamespace(operatorNamespace)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// checkNoLeftovers requires that no QuoteAttestation and no delivered
// Secret remain in the operator's namespace.
func checkNoLeftovers(t *testing.T) {
	t.Helper()
	eventually(t, provisionTimeout, "no leftover objects", func() (bool, string) {
		if n := len(listRequests(t)); n > 0 {
			return false, "QuoteAttestations remain"
		}
		var secrets corev1.SecretList
		if err := admin.List(context.Background(), &secrets, client.InNamespace(operatorNamespace),
			client.HasLabels{keyserver.AttestationUIDLabel}); err != nil {
			return false, err.Error()
		}
		return len(secrets.Items) == 0, "delivered Secrets remain"
	})
}

func newClusterIssuer(name string) *tcsv1alpha1.TCSClusterIssuer {
	selfSign := false
	return &tcsv1alpha1.TCSClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       tcsv1alpha1.TCSIssuerSpec{SecretName: name + "-ca", SelfSign: &selfSign},
	}
}

func TestProvisionedIssuer(t *testing.T) {
	w := newKeyServerWorld(t)
	f := startIssuer(t, issuerOptions{quoter: w.quoter(), keyServerKey: w.receiptPub, retry: 500 * time.Millisecond})
	stopKeyServer := w.startKeyServer(t, w.policy(t, false))

	iss := newIssuer("provisioned", false)
	cluster := newClusterIssuer("provisioned-cluster")
	caCert := w.addCA(t, iss.SignerName())
	w.addCA(t, cluster.SignerName())
	f.create(iss)
	f.create(cluster)

	// The policy rejects the enclave: the issuers show the key server's
	// state and message.
	for _, obj := range []client.Object{iss, cluster} {
		c := waitReady(t, obj, metav1.ConditionFalse, sgxv1alpha1.StateEnclaveIdentityNotAllowed, provisionTimeout)
		if !strings.Contains(c.Message, "key server rejected") {
			t.Errorf("Ready message = %q, want the key server's message", c.Message)
		}
	}

	// Once the policy allows the enclave, a fresh request succeeds.
	stopKeyServer()
	w.startKeyServer(t, w.policy(t, true))
	waitReady(t, iss, metav1.ConditionTrue, controller.ReasonProvisioned, provisionTimeout)
	waitReady(t, cluster, metav1.ConditionTrue, controller.ReasonProvisioned, provisionTimeout)
	checkNoLeftovers(t)

	s, err := f.proc.tok.FindSigner(iss.SignerName())
	if err != nil {
		t.Fatalf("find the provisioned signer: %v", err)
	}
	if !s.Certificate().Equal(caCert) {
		t.Error("the token's certificate is not the key store's CA certificate")
	}
	prot, err := s.KeyProtection()
	if err != nil {
		t.Fatal(err)
	}
	if !prot.Sensitive || prot.Extractable {
		t.Errorf("key protection = %+v, want sensitive and not extractable", prot)
	}
	published := publishedCA(t, types.NamespacedName{Namespace: issuerNamespace, Name: iss.Spec.SecretName})
	chain := parseCerts(t, published.Data[corev1.TLSCertKey])
	if len(chain) != 2 || !chain[0].Equal(caCert) || !chain[1].Equal(w.caRoot) {
		t.Errorf("published chain has %d certificates, want the CA and its root", len(chain))
	}
	if root := parseCerts(t, published.Data["ca.crt"]); !root[0].Equal(w.caRoot) {
		t.Error("published ca.crt is not the root of the chain")
	}
	publishedCA(t, types.NamespacedName{Namespace: clusterSecretNamespace, Name: cluster.Spec.SecretName})

	// The provisioned CA signs; the chain leads to the key store's root.
	cr := newCertificateRequest("cr-provisioned", "TCSIssuer", iss.Name, opensslCSR(t, "prov.example.test"))
	f.create(cr)
	setCRCondition(t, cr, cmapi.CertificateRequestConditionApproved)
	waitCRReady(t, cr, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued)
	certs := parseCerts(t, cr.Status.Certificate)
	if len(certs) != 2 || !certs[1].Equal(caCert) {
		t.Fatalf("status.certificate has %d certificates, want the leaf and the CA", len(certs))
	}
	if ca := parseCerts(t, cr.Status.CA); !ca[0].Equal(w.caRoot) {
		t.Error("status.ca is not the root of the chain")
	}
	verifyChain(t, certs[0], certs[1:], w.caRoot, x509.ExtKeyUsageClientAuth)

	// The key store's CA has no path length limit, so it may issue a CA.
	sub := newCertificateRequest("cr-sub-ca", "TCSIssuer", iss.Name, opensslCSR(t, "sub-ca.example.test"))
	sub.Spec.IsCA = true
	sub.Spec.Usages = []cmapi.KeyUsage{cmapi.UsageCertSign, cmapi.UsageDigitalSignature}
	f.create(sub)
	setCRCondition(t, sub, cmapi.CertificateRequestConditionApproved)
	waitCRReady(t, sub, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued)
	subCA := parseCerts(t, sub.Status.Certificate)[0]
	if !subCA.IsCA || subCA.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("isCA request: IsCA %v, key usage %v; want a CA with cert sign", subCA.IsCA, subCA.KeyUsage)
	}
	if err := subCA.CheckSignatureFrom(caCert); err != nil {
		t.Errorf("sub-CA is not signed by the provisioned CA: %v", err)
	}
}

func TestProvisioningReceiptRejected(t *testing.T) {
	w := newKeyServerWorld(t)
	other := newKeyServerWorld(t)
	// The issuer pins another key server's key, so every receipt fails.
	f := startIssuer(t, issuerOptions{quoter: w.quoter(), keyServerKey: other.receiptPub, retry: time.Minute})
	w.startKeyServer(t, w.policy(t, true))

	iss := newIssuer("bad-receipt", false)
	w.addCA(t, iss.SignerName())
	f.create(iss)
	c := waitReady(t, iss, metav1.ConditionFalse, controller.ReasonDeliveryRejected, provisionTimeout)
	if !strings.Contains(c.Message, "receipt") {
		t.Errorf("Ready message = %q, want it to name the receipt", c.Message)
	}
	if _, err := f.proc.tok.FindSigner(iss.SignerName()); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("signer after a rejected receipt: err = %v, want not found", err)
	}
	checkNoLeftovers(t)
}

func TestProvisioningRestart(t *testing.T) {
	w := newKeyServerWorld(t)
	iss := newIssuer("restart-provisioned", false)
	cluster := newClusterIssuer("restart-provisioned-cluster")
	w.addCA(t, iss.SignerName())
	w.addCA(t, cluster.SignerName())

	// Both issuers exist before the issuer starts, so that its first look
	// finds both and one request serves them.
	for _, obj := range []client.Object{iss, cluster} {
		if err := admin.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}
	f := startIssuer(t, issuerOptions{quoter: w.quoter(), keyServerKey: w.receiptPub})
	f.track(iss, cluster)

	// Without a key server the request stays pending.
	var pending sgxv1alpha1.QuoteAttestation
	eventually(t, provisionTimeout, "one request for both signers", func() (bool, string) {
		items := listRequests(t)
		if len(items) != 1 {
			return false, fmt.Sprintf("%d requests", len(items))
		}
		pending = items[0]
		return true, ""
	})
	want := []string{cluster.SignerName(), iss.SignerName()}
	if !slices.Equal(pending.Spec.SignerNames, want) {
		t.Errorf("signer names = %v, want %v", pending.Spec.SignerNames, want)
	}
	waitReady(t, iss, metav1.ConditionFalse, controller.ReasonPending, provisionTimeout)

	// The restarted issuer resumes the pending request instead of making
	// another one.
	f.restart()
	waitReady(t, iss, metav1.ConditionFalse, controller.ReasonPending, provisionTimeout)
	items := listRequests(t)
	if len(items) != 1 || items[0].UID != pending.UID {
		t.Fatalf("after restart %d requests, want only %s", len(items), pending.Name)
	}

	// The issuer is down while the key server responds, and imports the
	// delivered keys when it is back.
	f.stop()
	w.startKeyServer(t, w.policy(t, true))
	eventually(t, provisionTimeout, "the key server's answer", func() (bool, string) {
		var qa sgxv1alpha1.QuoteAttestation
		if err := admin.Get(context.Background(), client.ObjectKeyFromObject(&pending), &qa); err != nil {
			return false, err.Error()
		}
		c := qa.Status.Condition
		return c != nil && c.Type == sgxv1alpha1.ConditionSuccess, "no Success condition"
	})
	f.start()
	waitReady(t, iss, metav1.ConditionTrue, controller.ReasonProvisioned, provisionTimeout)
	waitReady(t, cluster, metav1.ConditionTrue, controller.ReasonProvisioned, provisionTimeout)
	checkNoLeftovers(t)

	names, err := f.proc.tok.ListSigners()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, want) {
		t.Errorf("signers in the token = %v, want one CA each: %v", names, want)
	}
	if _, err := f.proc.tok.FindQuoteKey(pending.Name); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("quote key after provisioning: err = %v, want not found", err)
	}
}

func TestProvisioningReplacesLostRequest(t *testing.T) {
	w := newKeyServerWorld(t)
	iss := newIssuer("lost-request", false)
	w.addCA(t, iss.SignerName())
	f := startIssuer(t, issuerOptions{quoter: w.quoter(), keyServerKey: w.receiptPub})
	f.create(iss)

	var lost sgxv1alpha1.QuoteAttestation
	eventually(t, provisionTimeout, "a pending request", func() (bool, string) {
		items := listRequests(t)
		if len(items) != 1 {
			return false, fmt.Sprintf("%d requests", len(items))
		}
		lost = items[0]
		return true, ""
	})

	// The quote key disappears from the token while the issuer is down,
	// so nothing delivered for the request could be unwrapped.
	f.stop()
	tok, err := token.Open(token.Config{ModulePath: f.soft.Module, TokenLabel: f.label,
		UserPIN: softhsmtest.UserPIN})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.DeleteQuoteKey(lost.Name); err != nil {
		t.Fatalf("delete quote key: %v", err)
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	f.start()

	eventually(t, provisionTimeout, "a replacement request", func() (bool, string) {
		items := listRequests(t)
		if len(items) != 1 {
			return false, fmt.Sprintf("%d requests", len(items))
		}
		return items[0].UID != lost.UID, "still the lost request " + lost.Name
	})
	w.startKeyServer(t, w.policy(t, true))
	waitReady(t, iss, metav1.ConditionTrue, controller.ReasonProvisioned, provisionTimeout)
	checkNoLeftovers(t)
}

func TestProvisioningDeletedIssuer(t *testing.T) {
	w := newKeyServerWorld(t)
	iss := newIssuer("deleted-pending", false)
	f := startIssuer(t, issuerOptions{quoter: w.quoter()})
	f.create(iss)

	var pending sgxv1alpha1.QuoteAttestation
	eventually(t, provisionTimeout, "a pending request", func() (bool, string) {
		items := listRequests(t)
		if len(items) != 1 {
			return false, fmt.Sprintf("%d requests", len(items))
		}
		pending = items[0]
		return true, ""
	})

	// Deleting the only issuer of a pending request deletes the request
	// and its quote key.
	if err := admin.Delete(context.Background(), iss); err != nil {
		t.Fatal(err)
	}
	checkNoLeftovers(t)
	eventually(t, provisionTimeout, "deletion of the quote key", func() (bool, string) {
		_, err := f.proc.tok.FindQuoteKey(pending.Name)
		return errors.Is(err, token.ErrNotFound), fmt.Sprintf("FindQuoteKey: %v", err)
	})
}

func TestProvisioningQuoteFailure(t *testing.T) {
	// SoftHSM2 lacks crypto-api-toolkit's quoting mechanism, so every
	// quote fails the way it does on a machine without SGX.
	f := startIssuer(t, issuerOptions{quoter: &quoting.CTK{}, retry: time.Minute})
	iss := newIssuer("no-quote", false)
	f.create(iss)
	c := waitReady(t, iss, metav1.ConditionFalse, controller.ReasonProvisioningFailure, provisionTimeout)
	if !strings.Contains(c.Message, "Quoting failed") {
		t.Errorf("Ready message = %q, want it to say that the quote failed", c.Message)
	}
	if n := len(listRequests(t)); n != 0 {
		t.Errorf("%d QuoteAttestations after a failed quote, want none", n)
	}
}
