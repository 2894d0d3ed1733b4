package keyserver

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tcs-project/tcs/internal/keywrap"
)

var (
	// ErrUnknownSigner means the key store has no CA for a signer name.
	ErrUnknownSigner = errors.New("unknown signer")
	// ErrKeyStore marks a permanent key store failure, such as a key that
	// does not match its certificate. Errors without it are retried.
	ErrKeyStore = errors.New("key store failure")
)

// KeyStore provides the CA keys that the key server releases.
type KeyStore interface {
	// WrapKey wraps the CA private key of signer for enclaveKey in the
	// KMRA format and returns it with the PEM certificate chain of the CA.
	// Its error wraps ErrUnknownSigner when the store has no CA for signer
	// and ErrKeyStore when the store's content is unusable. Other errors
	// are transient.
	WrapKey(ctx context.Context, signer string, enclaveKey *rsa.PublicKey) (blob, chainPEM []byte, err error)
}

// DirStore is a folder of PEM files. For each signer name, with NAME from
// FileBase, NAME.key contains the CA private key (PKCS#1, SEC 1 or
// PKCS#8) and NAME.crt the CA certificate chain, CA certificate first. The
// files are read on every request, so a key can be replaced in place.
type DirStore struct {
	Dir string
}

// maxFileBase keeps FileBase and an extension within the 255-byte file
// name limit of Linux file systems.
const maxFileBase = 200

// FileBase returns the file name, without extension, of signer's files:
// the signer name with "/" replaced by "_". A name longer than
// maxFileBase is cut there and ends in the first 16 hex digits of its
// SHA-256, so that long names stay distinct.
func FileBase(signer string) string {
	base := strings.ReplaceAll(signer, "/", "_")
	if len(base) <= maxFileBase {
		return base
	}
	sum := sha256.Sum256([]byte(signer))
	return base[:maxFileBase-17] + "-" + hex.EncodeToString(sum[:8])
}

// WrapKey implements KeyStore.
func (s DirStore) WrapKey(_ context.Context, signer string, enclaveKey *rsa.PublicKey) ([]byte, []byte, error) {
	base := filepath.Join(s.Dir, FileBase(signer))
	keyPEM, err := os.ReadFile(base + ".key")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w: %s has no key file %s.key", ErrUnknownSigner, signer, base)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read the CA key of %s: %v", ErrKeyStore, signer, err)
	}
	chainPEM, err := os.ReadFile(base + ".crt")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w: %s has a key but no certificate file %s.crt", ErrKeyStore, signer, base)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read the CA certificate of %s: %v", ErrKeyStore, signer, err)
	}
	return wrapPEM(signer, keyPEM, chainPEM, enclaveKey)
}

// SecretStore reads CA keys from Secrets of type kubernetes.io/tls in one
// namespace that only the key server may read. A Secret serves the signer
// named in its annotation SignerAnnotation.
type SecretStore struct {
	Reader    client.Reader
	Namespace string
}

// SignerAnnotation names the signer whose CA a key store Secret holds.
const SignerAnnotation = "tcs.intel.com/signer-name"

// WrapKey implements KeyStore.
func (s SecretStore) WrapKey(ctx context.Context, signer string, enclaveKey *rsa.PublicKey) ([]byte, []byte, error) {
	var list corev1.SecretList
	if err := s.Reader.List(ctx, &list, client.InNamespace(s.Namespace)); err != nil {
		return nil, nil, fmt.Errorf("list key store Secrets in %s: %w", s.Namespace, err)
	}
	var found []*corev1.Secret
	for i := range list.Items {
		if list.Items[i].Annotations[SignerAnnotation] == signer {
			found = append(found, &list.Items[i])
		}
	}
	switch len(found) {
	case 0:
		return nil, nil, fmt.Errorf("%w: no Secret in %s has annotation %s=%s",
			ErrUnknownSigner, s.Namespace, SignerAnnotation, signer)
	case 1:
	default:
		return nil, nil, fmt.Errorf("%w: %d Secrets in %s have annotation %s=%s; keep one",
			ErrKeyStore, len(found), s.Namespace, SignerAnnotation, signer)
	}
	secret := found[0]
	return wrapPEM(signer, secret.Data[corev1.TLSPrivateKeyKey], secret.Data[corev1.TLSCertKey], enclaveKey)
}

// wrapPEM parses a PEM key and chain, checks that they match, and wraps
// the key for enclaveKey.
func wrapPEM(signer string, keyPEM, chainPEM []byte, enclaveKey *rsa.PublicKey) ([]byte, []byte, error) {
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: CA key of %s: %v", ErrKeyStore, signer, err)
	}
	cert, err := parseChain(chainPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: CA certificate of %s: %v", ErrKeyStore, signer, err)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, nil, fmt.Errorf("%w: the CA key of %s does not match its certificate %q",
			ErrKeyStore, signer, cert.Subject.String())
	}
	blob, err := keywrap.Wrap(enclaveKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: wrap the CA key of %s: %v", ErrKeyStore, signer, err)
	}
	return blob, chainPEM, nil
}

// parsePrivateKey reads a PEM private key in PKCS#1, SEC 1 or PKCS#8.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block type %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	return signer, nil
}

// parseChain checks that chainPEM is nothing but PEM certificates, so
// that only certificates are released as tls.crt, and returns the first.
func parseChain(chainPEM []byte) (*x509.Certificate, error) {
	var first *x509.Certificate
	rest := chainPEM
	for i := 0; ; i++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q, not a CERTIFICATE", i+1, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i+1, err)
		}
		if first == nil {
			first = cert
		}
	}
	if first == nil {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%d bytes after the last certificate are not PEM", len(bytes.TrimSpace(rest)))
	}
	return first, nil
}

// publicKeysEqual reports whether two public keys are the same key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch k := a.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return k.(equaler).Equal(b)
	default:
		return false
	}
}
