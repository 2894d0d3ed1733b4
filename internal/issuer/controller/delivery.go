package controller

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/issuer/castore"
	"github.com/tcs-project/tcs/internal/issuer/metrics"
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

// deliverAll imports the keys that a request with Success delivered, for
// each signer that still needs a CA. A signer whose delivery is rejected
// fails and is requested again after its backoff. It returns an error only
// when reading from the API server failed, and then the request is kept.
func (p *Provisioner) deliverAll(ctx context.Context, qa *sgxv1alpha1.QuoteAttestation, needed []string) error {
	qk, findErr := p.cfg.Token.FindQuoteKey(qa.Name)
	var transient []error
	for _, s := range qa.Spec.SignerNames {
		if !slices.Contains(needed, s) {
			continue
		}
		err := findErr
		if err == nil {
			err = p.deliver(ctx, qa, qk, s)
		}
		if errors.Is(err, errTransient) {
			transient = append(transient, err)
			continue
		}
		if errors.Is(err, errNotNeeded) {
			p.Forget(s)
			continue
		}
		if err != nil {
			log.FromContext(ctx).Error(err, "Rejected a delivery", "quoteAttestation", qa.Name, "signerName", s)
			p.fail(s, qa.Name, ReasonDeliveryRejected, sentence(err))
			p.events.Eventf(qa, nil, "Warning", ReasonDeliveryRejected, "Import", "%s: %s", s, err.Error())
			continue
		}
		p.setProgress(s, Progress{})
		metrics.ProvisioningResults.WithLabelValues("Imported").Inc()
		log.FromContext(ctx).Info("Imported a CA key into the token", "quoteAttestation", qa.Name, "signerName", s)
	}
	return errors.Join(transient...)
}

// errTransient marks a failed read from the API server during a delivery,
// which is worth retrying with the same request.
var errTransient = errors.New("temporary failure")

// errNotNeeded reports a delivery for an issuer that was deleted meanwhile.
var errNotNeeded = errors.New("issuer no longer exists")

// deliver verifies and imports one signer's Secret.
func (p *Provisioner) deliver(ctx context.Context, qa *sgxv1alpha1.QuoteAttestation, qk *token.QuoteKey,
	signerName string) error {
	ref, ok := qa.Status.Secrets[signerName]
	if !ok {
		return fmt.Errorf("the key server set Success but status.secrets has no entry for %s", signerName)
	}
	var secret corev1.Secret
	key := types.NamespacedName{Namespace: qa.Namespace, Name: ref.SecretName}
	err := p.apiReader.Get(ctx, key, &secret)
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("delivered secret %s named in status.secrets does not exist", key)
	}
	if err != nil {
		return fmt.Errorf("%w: read delivered secret %s: %w", errTransient, key, err)
	}
	d, err := decodeDelivery(ref, &secret)
	if err != nil {
		return err
	}
	if p.cfg.KeyServerPublicKey != nil {
		if err := verifyReceipt(p.cfg.KeyServerPublicKey, qa, qk, signerName, &secret); err != nil {
			return err
		}
	}

	unlock := p.locks.lock(signerName)
	defer unlock()
	if still, err := p.stillNeeded(ctx, signerName); err != nil {
		return fmt.Errorf("%w: %w", errTransient, err)
	} else if !still {
		return errNotNeeded
	}
	s, err := p.cfg.Token.ImportKMRA(qk, signerName, d.blob, d.chain[0])
	if errors.Is(err, token.ErrExists) {
		// An earlier process imported it and stopped before cleaning up.
		s, err = p.cfg.Token.FindSigner(signerName)
		if err == nil && !s.Certificate().Equal(d.chain[0]) {
			err = fmt.Errorf("the token already has another CA for %s", signerName)
		}
	}
	if err != nil {
		return fmt.Errorf("import the CA key of %s into the token: %w", signerName, err)
	}
	p.cfg.CAs.Put(&castore.CA{SignerName: signerName, Signer: s, Chain: d.chain})
	return nil
}

// stillNeeded reads from the API server, not the cache, whether the signer's
// issuer exists and is not being deleted, so that no key is imported for
// an issuer whose finalizer already ran.
func (p *Provisioner) stillNeeded(ctx context.Context, signerName string) (bool, error) {
	key, ok := ParseSignerName(signerName)
	if !ok {
		return false, nil
	}
	obj, _ := NewIssuerObject(key.Kind)
	err := p.apiReader.Get(ctx, key.Key, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s %s: %w", key.Kind, key.Key, err)
	}
	return obj.GetDeletionTimestamp().IsZero(), nil
}
