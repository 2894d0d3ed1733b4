package v1alpha1

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Signer name prefixes, as in the original Trusted Certificate Service. A
// TCSIssuer signs as tcsissuer.tcs.intel.com/<namespace>.<name> and a
// TCSClusterIssuer as tcsclusterissuer.tcs.intel.com/<name>.
const (
	IssuerSignerPrefix        = "tcsissuer.tcs.intel.com/"
	ClusterIssuerSignerPrefix = "tcsclusterissuer.tcs.intel.com/"
)

// ConditionReady is the condition type that says whether an issuer can sign.
const ConditionReady = "Ready"

// TCSIssuerSpec is the desired state of a TCSIssuer or TCSClusterIssuer.
type TCSIssuerSpec struct {
	// SecretName is the Secret where the issuer publishes its CA
	// certificate (type kubernetes.io/tls with an empty tls.key). For a
	// TCSIssuer it is in the issuer's namespace; for a TCSClusterIssuer, in
	// the operator's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	SecretName string `json:"secretName"`

	// SelfSign makes the issuer generate its CA key and a self-signed CA
	// certificate inside the enclave. When false, the CA key is provisioned
	// by an external key server through a QuoteAttestation.
	// +optional
	// +kubebuilder:default=true
	SelfSign *bool `json:"selfSign,omitempty"`

	// Labels are set on the objects that the operator creates for this
	// issuer: the CA certificate Secret and the QuoteAttestation.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Labels map[string]string `json:"labels,omitempty"`
}

// SelfSigned reports whether the issuer makes its own CA, which is the
// default when SelfSign is unset.
func (s *TCSIssuerSpec) SelfSigned() bool {
	return s.SelfSign == nil || *s.SelfSign
}

// TCSIssuerStatus is the observed state of an issuer.
type TCSIssuerStatus struct {
	// Conditions holds the Ready condition: True once the CA key is in the
	// enclave and the CA certificate is published.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// TCSIssuer is a namespaced certificate issuer whose CA key is kept in an
// SGX enclave. It signs requests from its own namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TCSIssuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec TCSIssuerSpec `json:"spec,omitempty"`
	// +optional
	Status TCSIssuerStatus `json:"status,omitempty"`
}

// SignerName returns tcsissuer.tcs.intel.com/<namespace>.<name>.
func (i *TCSIssuer) SignerName() string {
	return fmt.Sprintf("%s%s.%s", IssuerSignerPrefix, i.Namespace, i.Name)
}

// TCSIssuerList is a list of TCSIssuer objects.
//
// +kubebuilder:object:root=true
type TCSIssuerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TCSIssuer `json:"items"`
}

// TCSClusterIssuer is a cluster-scoped certificate issuer whose CA key is
// kept in an SGX enclave. It signs requests from any namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TCSClusterIssuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec TCSIssuerSpec `json:"spec,omitempty"`
	// +optional
	Status TCSIssuerStatus `json:"status,omitempty"`
}

// SignerName returns tcsclusterissuer.tcs.intel.com/<name>.
func (i *TCSClusterIssuer) SignerName() string {
	return ClusterIssuerSignerPrefix + i.Name
}

// TCSClusterIssuerList is a list of TCSClusterIssuer objects.
//
// +kubebuilder:object:root=true
type TCSClusterIssuerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TCSClusterIssuer `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TCSIssuer{}, &TCSIssuerList{}, &TCSClusterIssuer{}, &TCSClusterIssuerList{})
}
