package deploytest

import (
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tcs-project/tcs/internal/keyserver"
	"github.com/tcs-project/tcs/internal/manager"
	"github.com/tcs-project/tcs/internal/policy"
)

// The SGX resources of the Intel device plugin that the issuer requests.
var sgxResources = []corev1.ResourceName{"sgx.intel.com/epc", "sgx.intel.com/enclave", "sgx.intel.com/provision"}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// typed converts an unstructured object into out.
func typed(t *testing.T, obj *unstructured.Unstructured, out any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, out, true); err != nil {
		t.Fatalf("convert %s: %v", describe(obj), err)
	}
}

// deployment returns the typed Deployment of a component or fails.
func deployment(t *testing.T, r rendering, namespace, name string) *appsv1.Deployment {
	t.Helper()
	obj := find(r.objects, "Deployment", namespace, name)
	if obj == nil {
		t.Fatalf("no Deployment %s/%s in the output", namespace, name)
	}
	var d appsv1.Deployment
	typed(t, obj, &d)
	return &d
}

// flagValue returns the value of --name=value in args and whether it is
// there.
func flagValue(args []string, name string) (string, bool) {
	for _, arg := range args {
		if value, ok := strings.CutPrefix(arg, "--"+name+"="); ok {
			return value, true
		}
		if arg == "--"+name {
			return "true", true
		}
	}
	return "", false
}

// port returns the port of a listen address such as ":8090".
func port(t *testing.T, address string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(address)
	if err != nil {
		t.Fatalf("listen address %q: %v", address, err)
	}
	return p
}

func TestManifestProperties(t *testing.T) {
	for _, r := range renderings(t) {
		t.Run(r.name, func(t *testing.T) {
			if secrets := objectsOfKind(r.objects, "Secret"); len(secrets) > 0 {
				t.Errorf("the output has %d Secrets, want none: PINs and keys come from Secrets the operator creates",
					len(secrets))
			}
			issuer := deployment(t, r, r.want.issuerNamespace, "tcs-issuer")
			keyServer := deployment(t, r, r.want.keyServerNamespace, "tcs-keyserver")
			for _, d := range []*appsv1.Deployment{issuer, keyServer} {
				checkPodSecurity(t, d)
				checkServerFlags(t, r, d)
			}
			checkReplicas(t, issuer, 1)
			checkReplicas(t, keyServer, r.want.keyServerReplicas)
			checkPINs(t, issuer, true)
			checkPINs(t, keyServer, r.want.keyStore == keyserver.KeyStorePKCS11)
			checkSGXResources(t, issuer, r.want.sgx)
			checkKeyServer(t, r, keyServer)
			checkDisruptionBudgets(t, r, keyServer)
		})
	}
}

// checkDisruptionBudgets checks that every PodDisruptionBudget of the key
// server selects its pods and leaves room to evict one, so that it cannot
// block a node drain.
func checkDisruptionBudgets(t *testing.T, r rendering, d *appsv1.Deployment) {
	t.Helper()
	for _, obj := range objectsOfKind(r.objects, "PodDisruptionBudget") {
		var pdb policyv1.PodDisruptionBudget
		typed(t, obj, &pdb)
		selector, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			t.Fatalf("PodDisruptionBudget %s: %v", pdb.Name, err)
		}
		if !selector.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("PodDisruptionBudget %s does not select the pods of %s", pdb.Name, d.Name)
		}
		if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
			t.Errorf("PodDisruptionBudget %s minAvailable %v with %d replicas would block every eviction",
				pdb.Name, pdb.Spec.MinAvailable, *d.Spec.Replicas)
		}
	}
}

func checkReplicas(t *testing.T, d *appsv1.Deployment, want int32) {
	t.Helper()
	if d.Spec.Replicas == nil || *d.Spec.Replicas != want {
		t.Errorf("%s: replicas = %s, want %d", d.Name, int32String(d.Spec.Replicas), want)
	}
}

// checkPodSecurity checks the fields of the restricted Pod Security
// Standard on the pod and on every container.
func checkPodSecurity(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec.SecurityContext
	if pod == nil {
		t.Errorf("%s: the pod has no securityContext", d.Name)
		return
	}
	if pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot {
		t.Errorf("%s: pod runAsNonRoot = %s, want true", d.Name, boolString(pod.RunAsNonRoot))
	}
	if pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod seccompProfile = %v, want RuntimeDefault", d.Name, pod.SeccompProfile)
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s/%s: the container has no securityContext", d.Name, c.Name)
			continue
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s/%s: allowPrivilegeEscalation = %s, want false", d.Name, c.Name,
				boolString(sc.AllowPrivilegeEscalation))
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s/%s: readOnlyRootFilesystem = %s, want true", d.Name, c.Name,
				boolString(sc.ReadOnlyRootFilesystem))
		}
		if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s/%s: runAsNonRoot = %s, want true", d.Name, c.Name, boolString(sc.RunAsNonRoot))
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("%s/%s: capabilities = %v, want drop [ALL]", d.Name, c.Name, sc.Capabilities)
		}
		if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s/%s: capabilities add %v, want none", d.Name, c.Name, sc.Capabilities.Add)
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s/%s: seccompProfile = %v, want RuntimeDefault", d.Name, c.Name, sc.SeccompProfile)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s/%s: privileged, want not", d.Name, c.Name)
		}
	}
}

// checkServerFlags checks the manager flags of a server against its pod:
// leader election, probes on the probe port, and a metrics Service that
// reaches the metrics port.
func checkServerFlags(t *testing.T, r rendering, d *appsv1.Deployment) {
	t.Helper()
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", d.Name, len(d.Spec.Template.Spec.Containers))
	}
	c := d.Spec.Template.Spec.Containers[0]
	if value, ok := flagValue(c.Args, "leader-elect"); !ok || value != "true" {
		t.Errorf("%s: args %q lack --leader-elect", d.Name, c.Args)
	}

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	probeAddress, ok := flagValue(c.Args, "health-probe-bind-address")
	if !ok {
		t.Errorf("%s: args %q lack --health-probe-bind-address; the default listens on loopback only", d.Name, c.Args)
	} else if got := port(t, probeAddress); got != itoa(ports["probes"]) {
		t.Errorf("%s: probes listen on %s, but the container port probes is %d", d.Name, got, ports["probes"])
	}
	for name, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		want := map[string]string{"liveness": "/healthz", "readiness": "/readyz"}[name]
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("%s: no HTTP %s probe", d.Name, name)
			continue
		}
		if probe.HTTPGet.Path != want || probe.HTTPGet.Port.String() != "probes" {
			t.Errorf("%s: %s probe = %s on port %s, want %s on port probes",
				d.Name, name, probe.HTTPGet.Path, probe.HTTPGet.Port.String(), want)
		}
	}

	metricsAddress, ok := flagValue(c.Args, "metrics-bind-address")
	if !ok {
		t.Errorf("%s: args %q lack --metrics-bind-address; the default listens on loopback only", d.Name, c.Args)
	} else if got := port(t, metricsAddress); got != itoa(ports["metrics"]) {
		t.Errorf("%s: metrics listen on %s, but the container port metrics is %d", d.Name, got, ports["metrics"])
	}
	checkMetricsService(t, r, d)
}

// checkMetricsService checks that a Service in the Deployment's namespace
// selects its pods and targets the metrics port.
func checkMetricsService(t *testing.T, r rendering, d *appsv1.Deployment) {
	t.Helper()
	obj := find(r.objects, "Service", d.Namespace, d.Name+"-metrics")
	if obj == nil {
		t.Errorf("no metrics Service %s/%s-metrics", d.Namespace, d.Name)
		return
	}
	var svc corev1.Service
	typed(t, obj, &svc)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("Service %s selects %v, which does not match the pod labels %v",
			svc.Name, svc.Spec.Selector, d.Spec.Template.Labels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "metrics" {
		t.Errorf("Service %s ports = %v, want one port targeting metrics", svc.Name, svc.Spec.Ports)
	}
}

// checkPINs checks that token PINs reach a server only as files of a
// Secret volume, never in an environment value or a flag. With
// wantPINFile the server must be given at least one PIN file.
func checkPINs(t *testing.T, d *appsv1.Deployment, wantPINFile bool) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	for _, e := range c.Env {
		if strings.Contains(strings.ToUpper(e.Name), "PIN") && e.Value != "" {
			t.Errorf("%s: environment variable %s has an inline value", d.Name, e.Name)
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			t.Errorf("%s: environment variable %s comes from Secret %s, want Secrets as files only",
				d.Name, e.Name, e.ValueFrom.SecretKeyRef.Name)
		}
	}
	pinFiles := 0
	for _, arg := range c.Args {
		name, value, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if !strings.Contains(name, "pin") {
			continue
		}
		if !strings.HasSuffix(name, "-pin-file") {
			t.Errorf("%s: flag %s carries a PIN on the command line, want a -pin-file flag", d.Name, name)
			continue
		}
		pinFiles++
		checkSecretFile(t, d, name, value)
	}
	if wantPINFile && pinFiles == 0 {
		t.Errorf("%s: args %q name no PIN file", d.Name, c.Args)
	}
}

// checkSecretFile checks that path lies in a read-only mount of a Secret
// volume.
func checkSecretFile(t *testing.T, d *appsv1.Deployment, flagName, path string) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	for _, m := range c.VolumeMounts {
		if filepath.Dir(path) != filepath.Clean(m.MountPath) {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("%s: --%s=%s is in the writable mount %s", d.Name, flagName, path, m.Name)
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.Secret == nil {
				t.Errorf("%s: --%s=%s is in volume %s, which is not a Secret", d.Name, flagName, path, v.Name)
			}
		}
		return
	}
	t.Errorf("%s: --%s=%s is in no mounted volume", d.Name, flagName, path)
}

// checkSGXResources checks the SGX device plugin resources of the issuer:
// present with requests equal to limits, or absent.
func checkSGXResources(t *testing.T, d *appsv1.Deployment, want bool) {
	t.Helper()
	res := d.Spec.Template.Spec.Containers[0].Resources
	for _, name := range sgxResources {
		request, inRequests := res.Requests[name]
		limit, inLimits := res.Limits[name]
		if !want {
			if inRequests || inLimits {
				t.Errorf("%s: %s is requested, want no SGX resources", d.Name, name)
			}
			continue
		}
		if !inRequests || !inLimits {
			t.Errorf("%s: %s in requests %v and in limits %v, want both", d.Name, name, inRequests, inLimits)
			continue
		}
		if request.Cmp(limit) != 0 {
			t.Errorf("%s: %s request %s differs from limit %s", d.Name, name, request.String(), limit.String())
		}
	}
}

// checkKeyServer parses the key server's flags with the key server's own
// flag definitions and validation, and checks its policy and RBAC.
func checkKeyServer(t *testing.T, r rendering, d *appsv1.Deployment) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	args := expandArgs(t, r, d, c)

	var mgr manager.Options
	var ks keyserver.Options
	fs := flag.NewFlagSet("tcs-keyserver", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	mgr.Bind(fs, "tcs-keyserver", manager.Defaults{})
	ks.Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("tcs-keyserver rejects its flags %q: %v", args, err)
	}
	if fs.NArg() > 0 {
		t.Errorf("tcs-keyserver: positional arguments %q, want none", fs.Args())
	}
	err := ks.Validate()
	switch {
	case r.want.keyServerFlagsError == "" && err != nil:
		t.Errorf("tcs-keyserver flag check: %v", err)
	case r.want.keyServerFlagsError != "" && (err == nil || !strings.Contains(err.Error(), r.want.keyServerFlagsError)):
		t.Errorf("tcs-keyserver flag check = %v, want an error containing %q", err, r.want.keyServerFlagsError)
	}

	checkSecretFile(t, d, "receipt-key", ks.ReceiptKeyFile)
	if ks.KeyStore != r.want.keyStore {
		t.Errorf("key store = %s, want %s", ks.KeyStore, r.want.keyStore)
	}
	if ks.KeyStore == keyserver.KeyStoreSecret && ks.KeySecretNamespace != d.Namespace {
		t.Errorf("key store Secrets in %q, want the key server's namespace %s", ks.KeySecretNamespace, d.Namespace)
	}
	for _, ns := range ks.NamespaceList() {
		if find(r.objects, "Role", ns, "tcs-keyserver-attestation") == nil {
			t.Errorf("the key server watches %s, but no Role tcs-keyserver-attestation lets it", ns)
		}
	}
	if r.want.policyRendered {
		checkPolicy(t, r, d, ks.PolicyFile)
	}
}

// expandArgs replaces $(NAME) in the container's arguments as the kubelet
// does, from the downward API and from ConfigMaps in the output.
func expandArgs(t *testing.T, r rendering, d *appsv1.Deployment, c corev1.Container) []string {
	t.Helper()
	values := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			values[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			values[e.Name] = d.Namespace
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			obj := find(r.objects, "ConfigMap", d.Namespace, ref.Name)
			if obj == nil {
				t.Fatalf("%s: environment variable %s reads ConfigMap %s, which is not in the output",
					d.Name, e.Name, ref.Name)
			}
			value, _, _ := unstructured.NestedString(obj.Object, "data", ref.Key)
			values[e.Name] = value
		default:
			t.Fatalf("%s: environment variable %s has a source the test does not resolve", d.Name, e.Name)
		}
	}
	expanded := make([]string, len(c.Args))
	for i, arg := range c.Args {
		for name, value := range values {
			arg = strings.ReplaceAll(arg, "$("+name+")", value)
		}
		if strings.Contains(arg, "$(") {
			t.Errorf("%s: argument %q refers to an undefined variable", d.Name, arg)
		}
		expanded[i] = arg
	}
	return expanded
}

// checkPolicy loads the release policy that the key server would read,
// with every file of its ConfigMap, through the key server's own loader.
func checkPolicy(t *testing.T, r rendering, d *appsv1.Deployment, path string) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	var configMap string
	for _, m := range c.VolumeMounts {
		if filepath.Dir(path) != filepath.Clean(m.MountPath) {
			continue
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				configMap = v.ConfigMap.Name
			}
		}
	}
	obj := find(r.objects, "ConfigMap", d.Namespace, configMap)
	if obj == nil {
		t.Fatalf("--policy=%s is not in a mounted ConfigMap of the output", path)
	}
	files, _, _ := unstructured.NestedStringMap(obj.Object, "data")
	dir := t.TempDir()
	for name, content := range files {
		writeFile(t, dir, name, content)
	}
	if _, err := policy.Load(filepath.Join(dir, filepath.Base(path))); err != nil {
		t.Errorf("the release policy in ConfigMap %s does not load: %v", configMap, err)
	}
}

func itoa(n int32) string {
	return strconv.Itoa(int(n))
}

// boolString prints an optional field.
func boolString(b *bool) string {
	if b == nil {
		return "unset"
	}
	return strconv.FormatBool(*b)
}

func int32String(n *int32) string {
	if n == nil {
		return "unset"
	}
	return itoa(*n)
}
