package castore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

func makeCA(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func TestCAChain(t *testing.T) {
	root, rootKey := makeCA(t, "root", nil, nil)
	mid, midKey := makeCA(t, "mid", root, rootKey)
	ca, _ := makeCA(t, "ca", mid, midKey)
	tests := map[string]struct {
		chain         []*x509.Certificate
		root          *x509.Certificate
		intermediates int
	}{
		"self-signed":       {[]*x509.Certificate{root}, root, 0},
		"with root":         {[]*x509.Certificate{mid, root}, root, 1},
		"two levels":        {[]*x509.Certificate{ca, mid, root}, root, 2},
		"root not included": {[]*x509.Certificate{ca, mid}, mid, 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := &CA{Chain: tc.chain}
			if !c.Root().Equal(tc.root) {
				t.Errorf("root = %q, want %q", c.Root().Subject, tc.root.Subject)
			}
			if n := len(c.Intermediates()); n != tc.intermediates {
				t.Errorf("%d intermediates, want %d", n, tc.intermediates)
			}
			if !c.Certificate().Equal(tc.chain[0]) {
				t.Error("certificate is not the first of the chain")
			}
		})
	}
}

func TestStore(t *testing.T) {
	s := New()
	var put []string
	s.OnPut(func(name string) { put = append(put, name) })
	if _, ok := s.Get("a"); ok {
		t.Fatal("empty store returned a CA")
	}
	s.Put(&CA{SignerName: "a"})
	if ca, ok := s.Get("a"); !ok || ca.SignerName != "a" {
		t.Fatalf("Get after Put = %v, %v", ca, ok)
	}
	if len(put) != 1 || put[0] != "a" {
		t.Errorf("OnPut saw %v, want [a]", put)
	}
	s.Delete("a")
	if _, ok := s.Get("a"); ok {
		t.Fatal("Get after Delete returned a CA")
	}
}
