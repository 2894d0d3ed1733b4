package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
)

func (d *demo) provisionIssuer(ctx context.Context) error {
	// Watch before creating the issuer, so that no state of the request
	// is missed: the issuer deletes it once the key is imported.
	watcher, err := d.client.Watch(ctx, &sgxv1alpha1.QuoteAttestationList{}, client.InNamespace(operatorNamespace))
	if err != nil {
		return fmt.Errorf("watch QuoteAttestation objects: %w", err)
	}
	defer watcher.Stop()

	selfSign := false
	issuer := &tcsv1alpha1.TCSIssuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: demoNamespace, Name: issuerName},
		Spec:       tcsv1alpha1.TCSIssuerSpec{SecretName: issuerName, SelfSign: &selfSign},
	}
	if err := d.client.Create(ctx, issuer); err != nil {
		return fmt.Errorf("create TCSIssuer %s/%s: %w", demoNamespace, issuerName, err)
	}
	d.printf("created TCSIssuer %s/%s with selfSign: false (signer %s)", demoNamespace, issuerName, signerName)

	answered, err := d.followAttestation(ctx, watcher)
	if err != nil {
		return err
	}
	if err := d.saveAttestation(answered); err != nil {
		return err
	}
	if answered.Status.Condition.Type != sgxv1alpha1.ConditionSuccess {
		return fmt.Errorf("%w: the key server answered %s (%s): %s", errStep, answered.Status.Condition.Type,
			answered.Status.Condition.State, answered.Status.Condition.Message)
	}
	return d.waitIssuerReady(ctx)
}

// followAttestation prints each state of the QuoteAttestation for the demo
// signer and returns it as the key server answered it.
func (d *demo) followAttestation(ctx context.Context, watcher watch.Interface) (*sgxv1alpha1.QuoteAttestation, error) {
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no answered QuoteAttestation for %s: %w", signerName, ctx.Err())
		case ev, ok := <-watcher.ResultChan():
			if !ok {
				return nil, fmt.Errorf("the watch of QuoteAttestation objects ended early")
			}
			qa, isQA := ev.Object.(*sgxv1alpha1.QuoteAttestation)
			if !isQA || !contains(qa.Spec.SignerNames, signerName) {
				continue
			}
			switch {
			case ev.Type == watch.Added:
				d.printf("tcs-issuer created QuoteAttestation %s/%s: %d-byte quote, signers %s",
					qa.Namespace, qa.Name, len(qa.Spec.Quote), strings.Join(qa.Spec.SignerNames, ", "))
			case ev.Type == watch.Modified && qa.Status.Condition != nil:
				c := qa.Status.Condition
				d.printf("tcs-keyserver answered %s, state %s:", c.Type, c.State)
				d.printf("  %s", c.Message)
				for _, signer := range sortedKeys(qa.Status.Secrets) {
					s := qa.Status.Secrets[signer]
					d.printf("  Secret %s (%s) for %s", s.SecretName, s.SecretType, signer)
				}
				return qa, nil
			}
		}
	}
}

// saveAttestation writes the answered object, without server bookkeeping,
// to quoteattestation.yaml.
func (d *demo) saveAttestation(qa *sgxv1alpha1.QuoteAttestation) error {
	saved := qa.DeepCopy()
	saved.ManagedFields = nil
	saved.APIVersion = sgxv1alpha1.GroupVersion.String()
	saved.Kind = "QuoteAttestation"
	data, err := yaml.Marshal(saved)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.opts.OutDir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(d.opts.OutDir, "quoteattestation.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	d.printf("saved the answered object to %s", path)
	return nil
}

// waitIssuerReady waits until the TCSIssuer's Ready condition is True.
func (d *demo) waitIssuerReady(ctx context.Context) error {
	key := client.ObjectKey{Namespace: demoNamespace, Name: issuerName}
	var last string
	err := poll(ctx, func() (bool, error) {
		var issuer tcsv1alpha1.TCSIssuer
		if err := d.client.Get(ctx, key, &issuer); err != nil {
			return false, err
		}
		ready := apimeta.FindStatusCondition(issuer.Status.Conditions, tcsv1alpha1.ConditionReady)
		if ready == nil {
			return false, nil
		}
		last = fmt.Sprintf("Ready=%s reason %s: %s", ready.Status, ready.Reason, ready.Message)
		return ready.Status == metav1.ConditionTrue, nil
	})
	if err != nil {
		return fmt.Errorf("TCSIssuer %s did not become Ready (last seen: %s): %w", key, last, err)
	}
	d.printf("TCSIssuer %s is %s", key, last)

	var remaining sgxv1alpha1.QuoteAttestationList
	if err := poll(ctx, func() (bool, error) {
		err := d.client.List(ctx, &remaining, client.InNamespace(operatorNamespace))
		return err == nil && len(remaining.Items) == 0, err
	}); err != nil {
		return fmt.Errorf("tcs-issuer left %d QuoteAttestation objects behind: %w", len(remaining.Items), err)
	}
	d.printf("tcs-issuer imported the key into the token and deleted the QuoteAttestation and its Secrets")
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
