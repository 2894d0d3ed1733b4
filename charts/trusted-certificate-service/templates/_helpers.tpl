{{/*
Labels of every object; the name label is the component's.
*/}}
{{- define "tcs.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: trusted-certificate-service
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/*
Labels that select a component's pods; they never change across upgrades.
*/}}
{{- define "tcs.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/*
The image reference of a component, with the chart's appVersion as the
default tag.
*/}}
{{- define "tcs.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/*
The restricted Pod Security Standard for a pod and for its container.
*/}}
{{- define "tcs.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "tcs.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Liveness and readiness probes on the probe port.
*/}}
{{- define "tcs.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: probes
  initialDelaySeconds: 5
  periodSeconds: 20
readinessProbe:
  httpGet:
    path: /readyz
    port: probes
  initialDelaySeconds: 5
  periodSeconds: 10
{{- end -}}

{{/*
Namespaces whose QuoteAttestation objects the key server answers.
*/}}
{{- define "tcs.watchNamespaces" -}}
{{- if .Values.keyServer.watchNamespaces -}}
{{- join "," .Values.keyServer.watchNamespaces -}}
{{- else -}}
{{- .Values.namespaces.issuer -}}
{{- end -}}
{{- end -}}

{{/*
Fails the render when the key server's required settings are missing, so
that a release never starts a key server that would exit at once.
*/}}
{{- define "tcs.keyServer.check" -}}
{{- $c := .Values.keyServer.collateral -}}
{{- if and (not $c.pccsURL) (not $c.offlineBundlesConfigMap) -}}
{{- fail "keyServer.collateral.pccsURL is empty and no offline bundles are given: set it to the base URL of your PCCS (such as https://PCCS_HOST:8081/sgx/certification/v4) or of Intel's PCS, or set keyServer.collateral.offlineBundlesConfigMap to a ConfigMap of bundles that `tcsctl collateral fetch` wrote" -}}
{{- end -}}
{{- if and $c.pccsURL $c.offlineBundlesConfigMap -}}
{{- fail "keyServer.collateral.pccsURL and keyServer.collateral.offlineBundlesConfigMap are both set: the key server takes one collateral source, so set only one" -}}
{{- end -}}
{{- $k := .Values.keyServer.keyStore -}}
{{- if and (eq $k.type "pkcs11") (or (not $k.pkcs11.modulePath) (not $k.pkcs11.tokenLabel) (not $k.pkcs11.pinSecretName)) -}}
{{- fail "keyServer.keyStore.type is pkcs11: set keyServer.keyStore.pkcs11.modulePath, .tokenLabel and .pinSecretName (a Secret with the file user-pin)" -}}
{{- end -}}
{{- $p := .Values.keyServer.policy -}}
{{- if and (not $p.content) (not $p.existingConfigMap) -}}
{{- fail "keyServer.policy.content is empty and keyServer.policy.existingConfigMap is not set: give the release policy (see docs/policy.md), because without one the key server releases no key and exits" -}}
{{- end -}}
{{- if and $p.content $p.existingConfigMap -}}
{{- fail "keyServer.policy.content and keyServer.policy.existingConfigMap are both set: set only one" -}}
{{- end -}}
{{- end -}}
