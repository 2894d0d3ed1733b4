package controller

import (
	"fmt"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
)

// issuerView is a uniform view of either issuer kind: the object, its kind,
// signer name, spec and status.
type issuerView struct {
	object     client.Object
	kind       string
	signerName string
	spec       *tcsv1alpha1.TCSIssuerSpec
	status     *tcsv1alpha1.TCSIssuerStatus
}

func viewIssuer(obj client.Object) (issuerView, error) {
	switch o := obj.(type) {
	case *tcsv1alpha1.TCSIssuer:
		return issuerView{o, "TCSIssuer", o.SignerName(), &o.Spec, &o.Status}, nil
	case *tcsv1alpha1.TCSClusterIssuer:
		return issuerView{o, "TCSClusterIssuer", o.SignerName(), &o.Spec, &o.Status}, nil
	}
	return issuerView{}, fmt.Errorf("object of type %T is not an issuer", obj)
}

// IssuerKey is the kind and object key of the issuer behind a signer name.
type IssuerKey struct {
	Kind string
	Key  types.NamespacedName
}

// ParseSignerName returns the issuer that signs as signerName. It reports
// false for a name of another signer. Namespaces cannot contain a dot, so
// the first dot after the TCSIssuer prefix ends the namespace.
func ParseSignerName(signerName string) (IssuerKey, bool) {
	if rest, ok := strings.CutPrefix(signerName, tcsv1alpha1.IssuerSignerPrefix); ok {
		ns, name, ok := strings.Cut(rest, ".")
		if !ok || ns == "" || name == "" {
			return IssuerKey{}, false
		}
		return IssuerKey{"TCSIssuer", types.NamespacedName{Namespace: ns, Name: name}}, true
	}
	if name, ok := strings.CutPrefix(signerName, tcsv1alpha1.ClusterIssuerSignerPrefix); ok {
		if name == "" || strings.Contains(name, "/") {
			return IssuerKey{}, false
		}
		return IssuerKey{"TCSClusterIssuer", types.NamespacedName{Name: name}}, true
	}
	return IssuerKey{}, false
}

// NewIssuerObject returns an empty object of the issuer kind.
func NewIssuerObject(kind string) (client.Object, bool) {
	switch kind {
	case "TCSIssuer":
		return &tcsv1alpha1.TCSIssuer{}, true
	case "TCSClusterIssuer":
		return &tcsv1alpha1.TCSClusterIssuer{}, true
	}
	return nil, false
}

// signerLocks serialises the token changes for one signer name, so that an
// import by the provisioner cannot race the deletion of the issuer.
type signerLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (l *signerLocks) lock(name string) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = make(map[string]*sync.Mutex)
	}
	m, ok := l.locks[name]
	if !ok {
		m = new(sync.Mutex)
		l.locks[name] = m
	}
	l.mu.Unlock()
	m.Lock()
	return m.Unlock
}
