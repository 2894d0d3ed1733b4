package deploytest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/testenv"
)

// keyServerSigner is the signer name of the test's request.
const keyServerSigner = "tcsissuer.tcs.intel.com/default.sandbox-ca"

// serviceAccountKubeconfig writes a kubeconfig that connects with cfg's
// credentials and impersonates a service account, with the groups the API
// server gives service accounts, so that RBAC applies as in a pod.
func serviceAccountKubeconfig(t *testing.T, cfg *rest.Config, namespace, name string) string {
	t.Helper()
	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["test"] = &clientcmdapi.Cluster{
		Server: cfg.Host, CertificateAuthorityData: cfg.CAData,
	}
	kubeconfig.AuthInfos["test"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
		Impersonate:           "system:serviceaccount:" + namespace + ":" + name,
		ImpersonateGroups: []string{
			"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated",
		},
	}
	kubeconfig.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kubeconfig.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// pemFile writes one PEM block to a file in dir and returns its path.
func pemFile(t *testing.T, dir, name, blockType string, der []byte) string {
	t.Helper()
	return writeFile(t, dir, name, string(pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})))
}

// testCA returns a fresh CA key and self-signed certificate as PEM.
func testCA(t *testing.T) (keyPEM, certPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "deploytest sandbox CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// localArgs turns the key server's container arguments into arguments for
// a process on this machine. The files come from the test's folder and the
// listeners are on loopback. An empty folder of offline bundles replaces
// the collateral service, which is never contacted. The Lease goes to the
// key server's namespace, which a pod would find by itself.
func localArgs(t *testing.T, args []string, dir, namespace, kubeconfig string) []string {
	t.Helper()
	collateral := filepath.Join(dir, "collateral")
	mkdir(t, collateral)
	replaced := map[string]string{
		"policy":                    filepath.Join(dir, "policy.yaml"),
		"receipt-key":               filepath.Join(dir, "receipt-key.pem"),
		"metrics-bind-address":      "127.0.0.1:0",
		"health-probe-bind-address": "127.0.0.1:0",
	}
	var out []string
	for _, arg := range args {
		name, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if name == "pccs-url" || name == "root-ca-crl-url" {
			continue
		}
		if value, ok := replaced[name]; ok {
			arg = "--" + name + "=" + value
		}
		out = append(out, arg)
	}
	return append(out, "--collateral-dir="+collateral, "--kubeconfig="+kubeconfig,
		"--leader-election-namespace="+namespace)
}

// TestKeyServerAsServiceAccount applies the kustomize output for real,
// starts the key server binary with the rendered flags and the rights of
// its service account, and checks that it writes an answer to a request. The request
// carries a quote that does not parse, so the answer needs no collateral:
// MalformedQuote, with no Secret.
func TestKeyServerAsServiceAccount(t *testing.T) {
	t.Parallel()
	bin := buildServers(t)
	env := testenv.Start(t, testenv.Options{})
	ctx := context.Background()
	r := renderingNamed(t, "kustomize overlay")
	for _, obj := range r.objects {
		if obj.GetKind() == "Namespace" {
			applyForReal(t, env.Client, obj)
		}
	}
	for _, obj := range r.objects {
		if obj.GetKind() != "Namespace" {
			applyForReal(t, env.Client, obj)
		}
	}

	// What the operator creates before the first start.
	dir := t.TempDir()
	_, receiptKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	receiptDER, err := x509.MarshalPKCS8PrivateKey(receiptKey)
	if err != nil {
		t.Fatal(err)
	}
	pemFile(t, dir, "receipt-key.pem", "PRIVATE KEY", receiptDER)
	caKey, caCert := testCA(t)
	caSecret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: "sandbox-ca", Namespace: "tcs-keyserver",
			Annotations: map[string]string{"tcs.intel.com/signer-name": keyServerSigner},
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSPrivateKeyKey: caKey, corev1.TLSCertKey: caCert},
	}
	if err := env.Client.Create(ctx, caSecret); err != nil {
		t.Fatal(err)
	}
	var policyMap *unstructured.Unstructured
	for _, cm := range objectsOfKind(r.objects, "ConfigMap") {
		if strings.HasPrefix(cm.GetName(), "tcs-keyserver-policy-") {
			policyMap = cm
		}
	}
	if policyMap == nil {
		t.Fatal("the kustomize output has no tcs-keyserver-policy ConfigMap")
	}
	policyText, _, _ := unstructured.NestedString(policyMap.Object, "data", "policy.yaml")
	writeFile(t, dir, "policy.yaml", policyText)

	d := deployment(t, r, "tcs-keyserver", "tcs-keyserver")
	kubeconfig := serviceAccountKubeconfig(t, env.Config, "tcs-keyserver", "tcs-keyserver")
	args := localArgs(t, expandArgs(t, r, d, d.Spec.Template.Spec.Containers[0]), dir, "tcs-keyserver", kubeconfig)
	var logs bytes.Buffer
	cmd := exec.Command(filepath.Join(bin, "tcs-keyserver"), args...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("tcs-keyserver output:\n%s", logs.String())
		}
	})

	request := &sgxv1alpha1.QuoteAttestation{
		ObjectMeta: metav1.ObjectMeta{Name: "deploytest-request", Namespace: "tcs-issuer"},
		Spec: sgxv1alpha1.QuoteAttestationSpec{
			Quote:        []byte("not a quote"),
			QuoteVersion: sgxv1alpha1.ECDSAQuoteVersion3,
			ServiceID:    "deploytest",
			PublicKey:    rsaPublicKeyPEM(t),
			SignerNames:  []string{keyServerSigner},
		},
	}
	if err := env.Client.Create(ctx, request); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(30 * time.Second)
	for request.Status.Condition == nil && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(request), request); err != nil {
			t.Fatal(err)
		}
	}
	if request.Status.Condition == nil {
		t.Fatal("the key server did not answer within 30 seconds")
	}
	if got := request.Status.Condition.State; got != sgxv1alpha1.StateMalformedQuote {
		t.Errorf("answer state = %s (%s), want %s", got, request.Status.Condition.Message,
			sgxv1alpha1.StateMalformedQuote)
	}
	var secrets corev1.SecretList
	if err := env.Client.List(ctx, &secrets, client.InNamespace("tcs-issuer")); err != nil {
		t.Fatal(err)
	}
	if len(secrets.Items) != 0 {
		t.Errorf("%d Secrets in tcs-issuer after a Failure answer, want none", len(secrets.Items))
	}
}

// applyForReal applies obj with server-side apply, not as a dry run.
func applyForReal(t *testing.T, c client.Client, obj *unstructured.Unstructured) {
	t.Helper()
	err := c.Patch(context.Background(), obj.DeepCopy(), client.Apply, client.FieldOwner(fieldOwner),
		client.ForceOwnership)
	if err != nil {
		t.Fatalf("apply %s: %v", describe(obj), err)
	}
}

// rsaPublicKeyPEM returns a fresh RSA-2048 public key as PEM "PUBLIC KEY".
func rsaPublicKeyPEM(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
