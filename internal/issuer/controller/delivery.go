package controller

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/keywrap"
)

// Errors of a delivery that the issuer rejects.
var (
	// ErrInvalidDelivery reports a delivered Secret that cannot be read: an
	// unknown secretType, or a tls.key or tls.crt that does not decode.
	ErrInvalidDelivery = errors.New("invalid delivery")
	// ErrReceiptMissing reports a delivered Secret without a release
	// receipt while receipt checking is on.
	ErrReceiptMissing = errors.New("release receipt missing")
)

// maxChainLength bounds the certificates read from a delivered tls.crt; a
// CA chain of a private PKI rarely has more than four.
const maxChainLength = 8

type delivery struct {
	blob  []byte
	chain []*x509.Certificate
}

// decodeDelivery reads a key server's Secret: tls.key is the base64 of a
// KMRA blob, and tls.crt is the base64 of a PEM chain, as the original
// tools write it, or the plain PEM chain.
func decodeDelivery(ref sgxv1alpha1.QuoteAttestationSecret, s *corev1.Secret) (*delivery, error) {
	if ref.SecretType != "" && ref.SecretType != sgxv1alpha1.SecretTypeKMRA {
		return nil, fmt.Errorf("%w: secret %s has secretType %q; only %q is supported",
			ErrInvalidDelivery, s.Name, ref.SecretType, sgxv1alpha1.SecretTypeKMRA)
	}
	rawKey, ok := s.Data[corev1.TLSPrivateKeyKey]
	if !ok || len(rawKey) == 0 {
		return nil, fmt.Errorf("%w: secret %s has no %s", ErrInvalidDelivery, s.Name, corev1.TLSPrivateKeyKey)
	}
	blob, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(rawKey)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s of secret %s is not base64: %v",
			ErrInvalidDelivery, corev1.TLSPrivateKeyKey, s.Name, err)
	}

	rawCert, ok := s.Data[corev1.TLSCertKey]
	if !ok || len(rawCert) == 0 {
		return nil, fmt.Errorf("%w: secret %s has no %s", ErrInvalidDelivery, s.Name, corev1.TLSCertKey)
	}
	certPEM := bytes.TrimSpace(rawCert)
	if !bytes.HasPrefix(certPEM, []byte("-----BEGIN")) {
		certPEM, err = base64.StdEncoding.DecodeString(string(certPEM))
		if err != nil {
			return nil, fmt.Errorf("%w: %s of secret %s is neither PEM nor base64 of PEM: %v",
				ErrInvalidDelivery, corev1.TLSCertKey, s.Name, err)
		}
	}

	chain, err := parsePEMChain(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: %s of secret %s: %v", ErrInvalidDelivery, corev1.TLSCertKey, s.Name, err)
	}
	if err := checkChain(chain); err != nil {
		return nil, fmt.Errorf("%w: %s of secret %s: %v", ErrInvalidDelivery, corev1.TLSCertKey, s.Name, err)
	}
	return &delivery{blob: blob, chain: chain}, nil
}

// parsePEMChain parses concatenated CERTIFICATE blocks, at least one.
func parsePEMChain(data []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q; only CERTIFICATE blocks are allowed", block.Type)
		}
		if len(chain) == maxChainLength {
			return nil, fmt.Errorf("more than %d certificates", maxChainLength)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(chain)+1, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return chain, nil
}

// checkChain requires a CA certificate first and each certificate to be
// signed by the next one.
func checkChain(chain []*x509.Certificate) error {
	if !chain[0].IsCA || !chain[0].BasicConstraintsValid {
		return fmt.Errorf("certificate %q is not a CA certificate", chain[0].Subject)
	}
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return fmt.Errorf("certificate %q is not signed by the next one, %q: %w",
				chain[i].Subject, chain[i+1].Subject, err)
		}
	}
	return nil
}

// verifyReceipt checks the release receipt of one delivery against the
// pinned key-server public key: it must cover this request's quote, quote
// key, UID and signer name and the exact bytes of tls.key and tls.crt.
func verifyReceipt(keyServer ed25519.PublicKey, qa *sgxv1alpha1.QuoteAttestation, qk *token.QuoteKey,
	signerName string, s *corev1.Secret) error {
	encoded, ok := s.Data[keywrap.ReceiptSecretKey]
	if !ok || len(encoded) == 0 {
		return fmt.Errorf("%w: secret %s has no %q entry, and receipts are required",
			ErrReceiptMissing, s.Name, keywrap.ReceiptSecretKey)
	}
	expected, err := keywrap.NewReceipt(qa.Spec.Quote, qk.Public, signerName, string(qa.UID),
		s.Data[corev1.TLSPrivateKeyKey], s.Data[corev1.TLSCertKey])
	if err != nil {
		return fmt.Errorf("hash the delivery in secret %s: %w", s.Name, err)
	}
	if err := keywrap.VerifyReceipt(encoded, keyServer, expected); err != nil {
		return fmt.Errorf("release receipt of secret %s: %w", s.Name, err)
	}
	return nil
}
