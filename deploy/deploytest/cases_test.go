package deploytest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/tcs-project/tcs/internal/devpki"
)

// testPCCSURL is the collateral service of the rendered manifests. The
// .invalid top-level domain never resolves (RFC 6761), so nothing can
// contact it; the tests only render and dry-run.
const testPCCSURL = "https://pccs.invalid:8081/sgx/certification/v4"

// rendering is one rendered set of manifests and what it must contain.
type rendering struct {
	name    string
	objects []*unstructured.Unstructured
	// preexisting are namespaces that the manifests expect to exist.
	preexisting []*corev1.Namespace
	want        expectations
}

// expectations are the properties a rendering must have.
type expectations struct {
	issuerNamespace    string
	keyServerNamespace string
	keyServerReplicas  int32
	// sgx is true when the issuer requests the SGX device plugin's
	// resources.
	sgx bool
	// keyServerFlagsError is a substring of the error that the key
	// server's flag validation must return; empty means none.
	keyServerFlagsError string
	// policyRendered is true when the release policy ConfigMap is part of
	// the output.
	policyRendered bool
	// keyStore is the key server's --key-store.
	keyStore string
}

var (
	renderOnce    sync.Once
	renderedCases []rendering
)

// renderings returns every rendered set of manifests, rendered once per
// test binary.
func renderings(t *testing.T) []rendering {
	t.Helper()
	renderOnce.Do(func() { renderedCases = renderAll(t) })
	if renderedCases == nil {
		t.Fatal("rendering the manifests failed in an earlier test")
	}
	return renderedCases
}

// renderingNamed returns the rendering of the given name.
func renderingNamed(t *testing.T, name string) rendering {
	t.Helper()
	for _, r := range renderings(t) {
		if r.name == name {
			return r
		}
	}
	t.Fatalf("no rendering named %q", name)
	return rendering{}
}

func renderAll(t *testing.T) []rendering {
	t.Helper()
	dir := t.TempDir()
	defaults := expectations{
		issuerNamespace: "tcs-issuer", keyServerNamespace: "tcs-keyserver",
		keyServerReplicas: 2, sgx: true, policyRendered: true, keyStore: "secret",
	}

	var cases []rendering

	// The kustomize base has no collateral service: the key server's flag
	// check must name what is missing.
	base := defaults
	base.keyServerFlagsError = "--pccs-url or --collateral-dir is required"
	cases = append(cases, rendering{
		name:    "kustomize default",
		objects: decodeObjects(t, buildKustomization(t, "config/default")),
		want:    base,
	})

	// The overlay that config/README.md shows for setting the PCCS URL.
	root := repositoryRoot(t)
	overlay := filepath.Join(dir, "overlay")
	mkdir(t, overlay)
	writeFile(t, overlay, "kustomization.yaml", fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- %s
configMapGenerator:
- name: tcs-keyserver-collateral
  namespace: tcs-keyserver
  behavior: replace
  literals:
  - pccs-url=%s
`, relative(t, overlay, filepath.Join(root, "config", "default")), testPCCSURL))
	cases = append(cases, rendering{
		name:    "kustomize overlay",
		objects: decodeObjects(t, buildKustomization(t, overlay)),
		want:    defaults,
	})

	cases = append(cases, rendering{
		name: "chart minimal",
		objects: decodeObjects(t, mustRenderChart(t,
			"--set", "keyServer.collateral.pccsURL="+testPCCSURL,
			"--set-file", "keyServer.policy.content=config/keyserver/policy.yaml")),
		want: defaults,
	})

	custom := expectations{
		issuerNamespace: "tcs-enclave", keyServerNamespace: "tcs-keys",
		keyServerReplicas: 3, sgx: true, keyStore: "pkcs11",
	}
	cases = append(cases, rendering{
		name:    "chart custom",
		objects: decodeObjects(t, mustRenderChart(t, "--values", writeFile(t, dir, "custom.yaml", customValues(t)))),
		preexisting: []*corev1.Namespace{
			restrictedNamespace("tcs-enclave"), restrictedNamespace("tcs-enclave-2"),
			restrictedNamespace("tcs-keys"), restrictedNamespace("tcs-cluster-certs"),
			restrictedNamespace("team-a"),
		},
		want: custom,
	})

	dev := defaults
	dev.sgx = false
	cases = append(cases, rendering{
		name:    "chart dev backend",
		objects: decodeObjects(t, mustRenderChart(t, "--values", writeFile(t, dir, "dev.yaml", devValues(t)))),
		want:    dev,
	})
	return cases
}

func mustRenderChart(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := renderChart(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// customValues sets every value away from its default, with the
// namespaces made by the cluster administrator beforehand.
func customValues(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf(`namespaces:
  create: false
  issuer: tcs-enclave
  keyServer: tcs-keys
  clusterIssuerSecrets: tcs-cluster-certs
issuer:
  image:
    repository: registry.invalid/tcs/tcs-issuer
    tag: v9.9.9
    pullPolicy: Always
  caPublisherNamespaces: [default, team-a]
  pkcs11:
    modulePath: /opt/intel/cryptoapitoolkit/lib/libp11sgx.so
    tokenLabel: ca-token
    pinSecretName: ca-token-pins
    tokenDirectory: /var/lib/tokens
  quoting:
    backend: ctk
    ctkMechanism: "0x2111"
  receipts:
    publicKeyConfigMap: receipt-public-key
    publicKeyFile: key.pem
    publicKey: |
%s
  sgx:
    epc: 1Mi
  metricsPort: 9080
  probePort: 9081
  extraArgs: [--zap-log-level=debug]
  nodeSelector:
    sgx.intel.com/capable: "true"
keyServer:
  image:
    repository: registry.invalid/tcs/tcs-keyserver
    tag: v9.9.9
  replicas: 3
  watchNamespaces: [tcs-enclave, tcs-enclave-2]
  policy:
    existingConfigMap: release-policy
  collateral:
    offlineBundlesConfigMap: collateral-bundles
    refreshMargin: 12h
  keyStore:
    type: pkcs11
    pkcs11:
      modulePath: /usr/lib/softhsm/libsofthsm2.so
      tokenLabel: ca-keys
      pinSecretName: ca-keys-pin
  extraEnv:
    - name: SOFTHSM2_CONF
      value: /etc/softhsm/softhsm2.conf
  extraVolumes:
    - name: softhsm-config
      configMap:
        name: softhsm-config
    - name: softhsm-tokens
      persistentVolumeClaim:
        claimName: softhsm-tokens
  extraVolumeMounts:
    - name: softhsm-config
      mountPath: /etc/softhsm
      readOnly: true
    - name: softhsm-tokens
      mountPath: /var/lib/softhsm/tokens
  receiptKey:
    secretName: receipt-signing-key
    file: key.pem
  maxRequestAge: 30m
  maxConcurrentRequests: 8
  metricsPort: 9090
  probePort: 9091
  podDisruptionBudget:
    enabled: false
  extraArgs: [--zap-log-level=debug]
`, indent(receiptPublicKeyPEM(t), 6))
}

// devValues runs the issuer with the development quoting backend and no
// SGX resources, and gives the key server a policy that trusts a
// development root shipped beside it.
func devValues(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf(`issuer:
  quoting:
    backend: dev
    devAuthoritySecret: dev-authority
  certManager: false
  sgx:
    epc: 0
    enclave: 0
    provision: 0
keyServer:
  collateral:
    pccsURL: %s
    rootCACRLURL: https://pccs.invalid:8081/sgx/certification/v4/rootcacrl
  policy:
    content: |
      developmentRoots:
        - dev-root.pem
      rules:
        - name: development enclave
          signers: ["tcsissuer.tcs.intel.com/*"]
          mrenclave: ["%s"]
          isvProdId: 1
    extraFiles:
      dev-root.pem: |
%s
`, testPCCSURL, hex.EncodeToString(devpki.DevMREnclave[:]), indent(developmentRootPEM(t), 8))
}

// receiptPublicKeyPEM returns a fresh Ed25519 public key as PEM.
func receiptPublicKeyPEM(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// developmentRootPEM returns a fresh self-signed CA certificate as PEM.
func developmentRootPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "deploytest development root"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// indent prefixes every line of text with n spaces.
func indent(text string, n int) string {
	prefix := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, line := range lines {
		lines[i] = prefix + line
	}
	return strings.Join(lines, "\n")
}

func relative(t *testing.T, from, to string) string {
	t.Helper()
	rel, err := filepath.Rel(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

func metaType(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func objectMeta(name, namespace string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}
}

// objectsOfKind returns the objects of one kind.
func objectsOfKind(objects []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, obj := range objects {
		if obj.GetKind() == kind {
			out = append(out, obj)
		}
	}
	return out
}

// find returns the object of kind, namespace and name, or nil.
func find(objects []*unstructured.Unstructured, kind, namespace, name string) *unstructured.Unstructured {
	for _, obj := range objects {
		if obj.GetKind() == kind && obj.GetNamespace() == namespace && obj.GetName() == name {
			return obj
		}
	}
	return nil
}

// toYAML renders an object for failure messages.
func toYAML(v any) string {
	out, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(out)
}
