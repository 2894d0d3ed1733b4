package deploytest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
	"github.com/tcs-project/tcs/internal/testenv"
)

// softHSMModule is where Debian's softhsm2 package puts the module.
const softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// certManagerCRDs returns the CRD folder of the cert-manager module that
// go.mod pins.
func certManagerCRDs(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager")
	cmd.Dir = repositoryRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("find the cert-manager module: %v (run go mod download)", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds")
}

// localIssuerArgs turns the issuer's container arguments into arguments
// for a process on this machine. SoftHSM2 is the token, the PIN and key
// files come from the test's folder, and the listeners are on loopback.
// The Lease goes to the issuer's namespace, which a pod would find by
// itself.
func localIssuerArgs(args []string, dir, namespace, kubeconfig string) []string {
	replaced := map[string]string{
		"pkcs11-module":             softHSMModule,
		"user-pin-file":             filepath.Join(dir, "user-pin"),
		"so-pin-file":               filepath.Join(dir, "so-pin"),
		"keyserver-public-key":      filepath.Join(dir, "receipt-public-key.pem"),
		"metrics-bind-address":      "127.0.0.1:0",
		"health-probe-bind-address": "127.0.0.1:0",
	}
	var out []string
	for _, arg := range args {
		name, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if value, ok := replaced[name]; ok {
			arg = "--" + name + "=" + value
		}
		out = append(out, arg)
	}
	return append(out, "--kubeconfig="+kubeconfig, "--leader-election-namespace="+namespace)
}

// TestIssuerAsServiceAccount applies the kustomize output for real and
// starts the issuer binary with the rendered flags, a SoftHSM2 token in
// place of the enclave, and only the rights of its service account. A
// self-signed TCSIssuer in the default namespace must turn Ready, which
// needs the issuer's RBAC to cover its cache, its token-backed CA and the
// publication of the CA certificate.
func TestIssuerAsServiceAccount(t *testing.T) {
	if _, err := os.Stat(softHSMModule); err != nil {
		t.Fatalf("SoftHSM2 not found at %s: run make softhsm (or make test, which does)", softHSMModule)
	}
	t.Parallel()
	bin := buildServers(t)
	env := testenv.Start(t, testenv.Options{ExtraCRDDirs: []string{certManagerCRDs(t)}})
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

	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	mkdir(t, tokens)
	writeFile(t, dir, "softhsm2.conf", "directories.tokendir = "+tokens+"\nobjectstore.backend = file\n")
	writeFile(t, dir, "user-pin", "deploytest-user-pin\n")
	writeFile(t, dir, "so-pin", "deploytest-so-pin\n")
	writeFile(t, dir, "receipt-public-key.pem", receiptPublicKeyPEM(t))

	d := deployment(t, r, "tcs-issuer", "tcs-issuer")
	kubeconfig := serviceAccountKubeconfig(t, env.Config, "tcs-issuer", "tcs-issuer")
	args := localIssuerArgs(expandArgs(t, r, d, d.Spec.Template.Spec.Containers[0]), dir, "tcs-issuer", kubeconfig)
	var logs bytes.Buffer
	cmd := exec.Command(filepath.Join(bin, "tcs-issuer"), args...)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+filepath.Join(dir, "softhsm2.conf"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("tcs-issuer output:\n%s", logs.String())
		}
	})

	issuer := &tcsv1alpha1.TCSIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "self-ca", Namespace: "default"},
		Spec:       tcsv1alpha1.TCSIssuerSpec{SecretName: "self-ca-cert"},
	}
	if err := env.Client.Create(ctx, issuer); err != nil {
		t.Fatal(err)
	}
	var ready *metav1.Condition
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(issuer), issuer); err != nil {
			t.Fatal(err)
		}
		ready = meta.FindStatusCondition(issuer.Status.Conditions, "Ready")
		if ready != nil && ready.Status == metav1.ConditionTrue {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ready == nil || ready.Status != metav1.ConditionTrue {
		t.Fatalf("TCSIssuer default/self-ca is not Ready after 30 seconds: %+v", ready)
	}
}
