package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ECDSAQuoteVersion3 is the only quoteVersion the API accepts.
const ECDSAQuoteVersion3 = "ECDSA Quote 3"

// SecretTypeKMRA names the format of a provisioned Secret's tls.key, as
// Intel's km-wrap tool writes it. It is the base64 of RSA-OAEP (SHA-1) of a
// fresh AES-256 key, followed by the AES key wrap with padding (RFC 5649)
// of the CA private key's PKCS#8 DER.
const SecretTypeKMRA = "KMRA"

// Size limits of the spec. The API server measures []byte fields in their
// base64 form, so each limit below is the encoded length.
const (
	// MaxQuoteLength admits up to 65538 bytes, so a double-encoded quote of
	// up to 48 KiB; a v3 quote with its PCK chain is about 5 KiB.
	MaxQuoteLength = 87384
	// MaxPublicKeyLength admits a PEM RSA public key of up to 8192 bits.
	MaxPublicKeyLength = 4096
	// MaxSignerNames bounds the signers one request can ask for.
	MaxSignerNames = 64
	// MaxSignerNameLength is the length of the longest signer name: the
	// prefix and a 63-character namespace, a dot and a 253-character name.
	MaxSignerNameLength = 341
	// NonceSize is the size in bytes of spec.nonce, whose standard base64
	// form is NonceLength characters long.
	NonceSize   = 16
	NonceLength = 24
)

// NOTE: the []byte fields of the spec are declared to the API server as
// plain strings whose base64 alphabet and length are checked by pattern, not
// as format "byte". kube-apiserver v1.37.2 decodes format "byte" values for
// CEL with the URL alphabet, so the immutability rule failed on every
// standard base64 value that contains '+' or '/'. Go clients still read and
// write standard base64.

// QuoteAttestationSpec is the request of the enclave side. All of it is
// immutable once created.
type QuoteAttestationSpec struct {
	// Quote is the SGX ECDSA quote of the enclave. Older producers stored a
	// base64 string here (so the JSON carries base64 twice); readers accept
	// both forms and writers use single encoding.
	// +required
	// +kubebuilder:validation:Format=""
	// +kubebuilder:validation:MinLength=4
	// +kubebuilder:validation:MaxLength=87384
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9+/]*={0,2}$`
	Quote []byte `json:"quote"`

	// QuoteVersion is the quote format; only "ECDSA Quote 3" is supported.
	// +required
	// +kubebuilder:validation:Enum="ECDSA Quote 3"
	QuoteVersion string `json:"quoteVersion"`

	// ServiceID identifies the service that requests the secrets.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ServiceID string `json:"serviceId,omitempty"`

	// PublicKey is the PEM "PUBLIC KEY" of the enclave's RSA key, for which
	// the key server wraps each CA private key. The quote's report data
	// binds it.
	// +required
	// +kubebuilder:validation:Format=""
	// +kubebuilder:validation:MinLength=4
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9+/]*={0,2}$`
	PublicKey []byte `json:"publicKey"`

	// SignerNames lists the Kubernetes signer names that need a CA, such as
	// tcsissuer.tcs.intel.com/<namespace>.<name> or
	// tcsclusterissuer.tcs.intel.com/<name>.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=341
	// +kubebuilder:validation:items:Pattern=`^(tcsissuer\.tcs\.intel\.com/[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9]([-a-z0-9.]*[a-z0-9])?|tcsclusterissuer\.tcs\.intel\.com/[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$`
	SignerNames []string `json:"signerNames"`

	// Nonce is the 16-byte nonce that the quote's report data binds
	// together with PublicKey. When it is absent the enclave toolkit's
	// default nonce 0x00, 0x01, ..., 0x0f applies.
	// +optional
	// +kubebuilder:validation:Format=""
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9+/]{21}[AQgw]==$`
	Nonce []byte `json:"nonce,omitempty"`
}

// ConditionType is the outcome of an attestation.
// +kubebuilder:validation:Enum=Success;Failure
type ConditionType string

const (
	// ConditionSuccess means the quote verified and the secrets were
	// provisioned.
	ConditionSuccess ConditionType = "Success"
	// ConditionFailure means the key server rejected the request for good;
	// State and Message explain why.
	ConditionFailure ConditionType = "Failure"
)

// QuoteAttestationCondition is the key server's answer.
type QuoteAttestationCondition struct {
	// Type is Success or Failure.
	// +required
	Type ConditionType `json:"type"`

	// State is a TitleCase reason code such as QuoteVerified or TCBRevoked.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^([A-Z][A-Za-z0-9]*)?$`
	State string `json:"state,omitempty"`

	// Message explains the outcome for a person: what failed, on which
	// value, and what to do.
	// +optional
	// +kubebuilder:validation:MaxLength=32768
	Message string `json:"message,omitempty"`

	// LastUpdatedTime is when the key server set this condition.
	// +optional
	LastUpdatedTime metav1.Time `json:"lastUpdatedTime,omitempty"`
}

// QuoteAttestationSecret names the Secret provisioned for one signer.
type QuoteAttestationSecret struct {
	// SecretName is the Secret in the object's namespace that holds the
	// wrapped CA private key (tls.key) and the CA certificate (tls.crt).
	// +required
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`

	// SecretType is the format of the Secret's tls.key; "KMRA" is the one
	// in use.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	SecretType string `json:"secretType,omitempty"`
}

// QuoteAttestationStatus is written by the key server alone, once.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.condition) || self == oldSelf",message="status is final once a condition is set: create a new QuoteAttestation to ask again"
type QuoteAttestationStatus struct {
	// Condition is the outcome of the attestation.
	// +optional
	Condition *QuoteAttestationCondition `json:"condition,omitempty"`

	// Secrets maps each provisioned signer name to its Secret.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Secrets map[string]QuoteAttestationSecret `json:"secrets,omitempty"`
}

// QuoteAttestation asks a key server to verify an SGX quote and to
// provision the CA keys of the listed signers, wrapped for the enclave's
// public key.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=qa
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.status.condition.type`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.condition.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type QuoteAttestation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable: delete the QuoteAttestation and create a new one"
	Spec QuoteAttestationSpec `json:"spec"`

	// +optional
	Status QuoteAttestationStatus `json:"status,omitempty"`
}

// QuoteAttestationList is a list of QuoteAttestation objects.
//
// +kubebuilder:object:root=true
type QuoteAttestationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []QuoteAttestation `json:"items"`
}

func init() {
	SchemeBuilder.Register(&QuoteAttestation{}, &QuoteAttestationList{})
}
