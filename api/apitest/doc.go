// Package apitest holds integration tests of the project's CRDs and RBAC
// manifests against a real kube-apiserver.
package apitest
