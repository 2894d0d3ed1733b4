package csr

import (
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestDecide(t *testing.T) {
	cond := func(typ certificatesv1.RequestConditionType, status corev1.ConditionStatus) certificatesv1.CertificateSigningRequestCondition {
		return certificatesv1.CertificateSigningRequestCondition{Type: typ, Status: status}
	}
	approved := cond(certificatesv1.CertificateApproved, corev1.ConditionTrue)
	tests := map[string]struct {
		status  certificatesv1.CertificateSigningRequestStatus
		caReady bool
		want    action
	}{
		"unapproved":           {caReady: true, want: actionNone},
		"approved":             {status: withConditions(approved), caReady: true, want: actionSign},
		"approved, CA missing": {status: withConditions(approved), want: actionWaitForCA},
		"approval false": {status: withConditions(cond(certificatesv1.CertificateApproved, corev1.ConditionFalse)),
			caReady: true, want: actionNone},
		"denied":       {status: withConditions(cond(certificatesv1.CertificateDenied, corev1.ConditionTrue)), caReady: true, want: actionNone},
		"failed":       {status: withConditions(approved, cond(certificatesv1.CertificateFailed, corev1.ConditionTrue)), caReady: true, want: actionNone},
		"signed":       {status: certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{approved}, Certificate: []byte("x")}, caReady: true, want: actionNone},
		"denied later": {status: withConditions(approved, cond(certificatesv1.CertificateDenied, corev1.ConditionTrue)), caReady: true, want: actionNone},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := &certificatesv1.CertificateSigningRequest{Status: tc.status}
			if got := decide(c, tc.caReady); got != tc.want {
				t.Errorf("decide = %v, want %v", got, tc.want)
			}
		})
	}
}

func withConditions(c ...certificatesv1.CertificateSigningRequestCondition) certificatesv1.CertificateSigningRequestStatus {
	return certificatesv1.CertificateSigningRequestStatus{Conditions: c}
}

func TestIsOwnSigner(t *testing.T) {
	tests := map[string]struct {
		name string
		want bool
	}{
		"issuer":         {"tcsissuer.tcs.intel.com/default.ca", true},
		"cluster issuer": {"tcsclusterissuer.tcs.intel.com/ca", true},
		"kubelet":        {"kubernetes.io/kubelet-serving", false},
		"prefix only":    {"tcsissuer.tcs.intel.com", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := IsOwnSigner(tc.name); got != tc.want {
				t.Errorf("IsOwnSigner(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}
