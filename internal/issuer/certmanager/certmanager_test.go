package certmanager

import (
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDecide(t *testing.T) {
	cond := func(typ cmapi.CertificateRequestConditionType, status cmmeta.ConditionStatus, reason string) cmapi.CertificateRequestCondition {
		return cmapi.CertificateRequestCondition{Type: typ, Status: status, Reason: reason}
	}
	approved := cond(cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue, "")
	denied := cond(cmapi.CertificateRequestConditionDenied, cmmeta.ConditionTrue, "")
	now := metav1.Now()
	tests := map[string]struct {
		status cmapi.CertificateRequestStatus
		want   action
	}{
		"new":      {want: actionWaitApproval},
		"approved": {status: cmapi.CertificateRequestStatus{Conditions: []cmapi.CertificateRequestCondition{approved}}, want: actionCheckIssuer},
		"approved, issuer pending": {status: cmapi.CertificateRequestStatus{Conditions: []cmapi.CertificateRequestCondition{
			approved, cond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, ReasonIssuerNotReady)}},
			want: actionCheckIssuer},
		"denied": {status: cmapi.CertificateRequestStatus{Conditions: []cmapi.CertificateRequestCondition{denied}}, want: actionDeny},
		"denied and marked": {status: cmapi.CertificateRequestStatus{FailureTime: &now, Conditions: []cmapi.CertificateRequestCondition{
			denied, cond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonDenied)}},
			want: actionNone},
		"issued": {status: cmapi.CertificateRequestStatus{Certificate: []byte("x"), Conditions: []cmapi.CertificateRequestCondition{
			approved, cond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued)}},
			want: actionNone},
		"failed": {status: cmapi.CertificateRequestStatus{Conditions: []cmapi.CertificateRequestCondition{
			approved, cond(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonFailed)}},
			want: actionNone},
		"invalid request": {status: cmapi.CertificateRequestStatus{Conditions: []cmapi.CertificateRequestCondition{
			approved, cond(cmapi.CertificateRequestConditionInvalidRequest, cmmeta.ConditionTrue, "")}},
			want: actionNone},
		"approval false": {status: cmapi.CertificateRequestStatus{Conditions: []cmapi.CertificateRequestCondition{
			cond(cmapi.CertificateRequestConditionApproved, cmmeta.ConditionFalse, "")}},
			want: actionWaitApproval},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cr := &cmapi.CertificateRequest{Status: tc.status}
			if got := decide(cr); got != tc.want {
				t.Errorf("decide = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIsOwnIssuer(t *testing.T) {
	tests := map[string]struct {
		ref  cmmeta.IssuerReference
		want bool
	}{
		"issuer":          {cmmeta.IssuerReference{Group: "tcs.intel.com", Kind: "TCSIssuer", Name: "a"}, true},
		"cluster issuer":  {cmmeta.IssuerReference{Group: "tcs.intel.com", Kind: "TCSClusterIssuer", Name: "a"}, true},
		"other group":     {cmmeta.IssuerReference{Group: "cert-manager.io", Kind: "TCSIssuer", Name: "a"}, false},
		"empty kind":      {cmmeta.IssuerReference{Group: "tcs.intel.com", Name: "a"}, false},
		"cert-manager CA": {cmmeta.IssuerReference{Group: "cert-manager.io", Kind: "Issuer", Name: "a"}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := IsOwnIssuer(tc.ref); got != tc.want {
				t.Errorf("IsOwnIssuer(%+v) = %v, want %v", tc.ref, got, tc.want)
			}
		})
	}
}
