// Package v1alpha1 contains the TCSIssuer and TCSClusterIssuer API, group
// tcs.intel.com: certificate issuers whose CA key lives in an SGX enclave.
//
// +kubebuilder:object:generate=true
// +groupName=tcs.intel.com
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the objects in this package.
	GroupVersion = schema.GroupVersion{Group: "tcs.intel.com", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
