// Package castore keeps the CAs that are ready to sign, shared by the issuer
// reconcilers that load them and the request signers that use them.
package castore

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"sync"
)

// CA is one signer that can sign: a private key behind crypto.Signer and the
// chain of its certificate.
type CA struct {
	// SignerName is the Kubernetes signer name of the issuer.
	SignerName string
	// Signer signs with the CA private key, normally inside the token.
	Signer crypto.Signer
	// Chain starts with the CA certificate, followed by the certificates
	// that issued it. A self-signed CA has a chain of one.
	Chain []*x509.Certificate
}

// Certificate returns the CA certificate, the first of the chain.
func (c *CA) Certificate() *x509.Certificate {
	return c.Chain[0]
}

// Root returns the last certificate of the chain, which relying parties
// trust: the CA certificate itself when it is self-signed.
func (c *CA) Root() *x509.Certificate {
	return c.Chain[len(c.Chain)-1]
}

// Intermediates returns the chain without its last certificate when that is
// self-signed, as a TLS server sends it after its own certificate.
func (c *CA) Intermediates() []*x509.Certificate {
	root := c.Root()
	if len(c.Chain) > 1 && root.CheckSignatureFrom(root) == nil {
		return c.Chain[:len(c.Chain)-1]
	}
	if len(c.Chain) == 1 {
		return nil
	}
	return c.Chain
}

// EncodePEM returns the certificates as concatenated PEM blocks.
func EncodePEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// Store maps signer names to ready CAs. It is safe for concurrent use.
type Store struct {
	mu       sync.RWMutex
	cas      map[string]*CA
	watchers []func(signerName string)
}

// New returns an empty Store.
func New() *Store {
	return &Store{cas: make(map[string]*CA)}
}

// Get returns the CA of the signer name, if it is ready.
func (s *Store) Get(signerName string) (*CA, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ca, ok := s.cas[signerName]
	return ca, ok
}

// Put stores ca under its signer name, replacing an earlier one, then calls
// the functions registered with OnPut.
func (s *Store) Put(ca *CA) {
	s.mu.Lock()
	s.cas[ca.SignerName] = ca
	watchers := s.watchers
	s.mu.Unlock()
	for _, f := range watchers {
		f(ca.SignerName)
	}
}

// OnPut registers f to be called with the signer name after every Put, so
// that requests waiting for a CA are looked at once it is ready. f must not
// block.
func (s *Store) OnPut(f func(signerName string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = append(s.watchers, f)
}

// Delete removes the CA of the signer name.
func (s *Store) Delete(signerName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cas, signerName)
}
