package controller

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/issuer/metrics"
)

// requestNamePrefix starts the name of every QuoteAttestation and of its
// quote key in the token, which share the name.
const requestNamePrefix = "tcs-issuer-"

// request makes a quote key and a quote and creates one QuoteAttestation
// for the signers.
func (p *Provisioner) request(ctx context.Context, signers []string) error {
	if p.cfg.Quoter == nil {
		return nil
	}
	name, err := newRequestName()
	if err != nil {
		return err
	}
	for _, s := range signers {
		p.setProgress(s, Progress{Phase: PhaseRequested, Request: name, Attempts: p.Progress(s).Attempts})
	}
	qa, err := p.newRequest(ctx, name, signers)
	if err != nil {
		for _, s := range signers {
			p.fail(s, name, ReasonProvisioningFailure, sentence(err))
		}
		return err
	}
	if err := p.client.Create(ctx, qa); err != nil {
		_ = p.cfg.Token.DeleteQuoteKey(name)
		err = fmt.Errorf("create QuoteAttestation %s/%s: %w", p.cfg.Namespace, name, err)
		for _, s := range signers {
			p.fail(s, name, ReasonProvisioningFailure, sentence(err))
		}
		return err
	}
	p.created[name] = struct{}{}
	metrics.ProvisioningRequests.Inc()
	log.FromContext(ctx).Info("Requested CA keys from the key server",
		"quoteAttestation", name, "signerNames", signers)
	return nil
}

func (p *Provisioner) newRequest(ctx context.Context, name string, signers []string) (
	*sgxv1alpha1.QuoteAttestation, error) {
	// NOTE: a process that stops between here and creating the request
	// leaves this quote key in the token, because the token layer cannot
	// list quote keys to collect it later.
	qk, err := p.cfg.Token.GenerateQuoteKey(name)
	if err != nil {
		return nil, fmt.Errorf("generate quote key %s: %w", name, err)
	}
	quote, err := p.cfg.Quoter.Quote(qk)
	if err != nil {
		_ = p.cfg.Token.DeleteQuoteKey(name)
		return nil, fmt.Errorf("quoting failed for quote key %s: %w", name, err)
	}
	der, err := x509.MarshalPKIXPublicKey(qk.Public)
	if err != nil {
		_ = p.cfg.Token.DeleteQuoteKey(name)
		return nil, fmt.Errorf("encode quote key %s: %w", name, err)
	}
	return &sgxv1alpha1.QuoteAttestation{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: p.cfg.Namespace,
			Name:      name,
			Labels:    p.requestLabels(ctx, signers),
		},
		Spec: sgxv1alpha1.QuoteAttestationSpec{
			Quote:        quote.Quote,
			QuoteVersion: sgxv1alpha1.ECDSAQuoteVersion3,
			ServiceID:    p.cfg.ServiceID,
			PublicKey:    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
			SignerNames:  signers,
			Nonce:        quote.Nonce[:],
		},
	}, nil
}

// requestLabels merges the spec.labels of the issuers of a request; the
// managed-by label wins over any of them.
func (p *Provisioner) requestLabels(ctx context.Context, signers []string) map[string]string {
	labels := make(map[string]string)
	for _, s := range signers {
		key, ok := ParseSignerName(s)
		if !ok {
			continue
		}
		obj, _ := NewIssuerObject(key.Kind)
		if err := p.client.Get(ctx, key.Key, obj); err != nil {
			continue
		}
		v, _ := viewIssuer(obj)
		for k, val := range v.spec.Labels {
			if _, exists := labels[k]; !exists {
				labels[k] = val
			}
		}
	}
	labels[ManagedByLabel] = ManagedByValue
	return labels
}

func newRequestName() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make a request name: %w", err)
	}
	return requestNamePrefix + hex.EncodeToString(b[:]), nil
}
