package keyserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/dcap/verify"
	"github.com/tcs-project/tcs/internal/keywrap"
	"github.com/tcs-project/tcs/internal/pccs"
	"github.com/tcs-project/tcs/internal/policy"
)

// Decider decides the answer to a QuoteAttestation without writing
// anything: it verifies the quote, checks the key binding, applies the
// release policy to each signer and wraps each allowed key.
type Decider struct {
	Verifier   *verify.Verifier
	Collateral pccs.Source
	Policy     *policy.Policy
	Keys       KeyStore
	Claims     Claims
	// ReceiptKey signs the release receipt of every Secret.
	ReceiptKey ed25519.PrivateKey
	// MaxRequestAge rejects requests created longer ago; zero turns the
	// check off.
	MaxRequestAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Answer is a decided answer: either a rejection or one Secret per signer.
type Answer struct {
	// State and Message are the condition to write. Failed is true for a
	// Failure condition.
	Failed  bool
	State   string
	Message string
	// Secrets holds, on success, the data of each signer's Secret.
	Secrets []SignerSecret
	// Result is the verification result, nil when the quote was not
	// verified.
	Result *verify.Result
	// Timings records where the time went, for metrics and benchmarks.
	Timings Timings
	// publicHash and quoteHash are claimed before the answer is written.
	publicHash, quoteHash []byte
}

// SignerSecret is the content of one provisioned Secret.
type SignerSecret struct {
	Signer string
	// Data holds tls.key (base64 of the KMRA blob), tls.crt (base64 of
	// the PEM chain) and the release receipt.
	Data map[string][]byte
}

// Timings splits the time of one decision.
type Timings struct {
	Collateral, Verification, Wrapping time.Duration
}

// Request is the part of a QuoteAttestation that a decision needs.
type Request struct {
	Spec    *sgxv1alpha1.QuoteAttestationSpec
	UID     types.UID
	Object  string
	Created time.Time
}

func (d *Decider) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Decide returns the answer to req. An error means the answer could not
// be decided yet, for example because the collateral service is down, and
// the request should be tried again.
func (d *Decider) Decide(ctx context.Context, req Request) (*Answer, error) {
	now := d.now()
	if d.MaxRequestAge > 0 && !req.Created.IsZero() && now.Sub(req.Created) > d.MaxRequestAge {
		return failed(reject(sgxv1alpha1.StateStaleRequest,
			"The request was created at %s, more than %s ago, and is stale. Create a new QuoteAttestation with a fresh quote.",
			req.Created.UTC().Format(time.RFC3339), d.MaxRequestAge)), nil
	}

	r, rej := decodeRequest(req.Spec)
	if rej != nil {
		return failed(rej), nil
	}
	rej, err := d.checkClaims(ctx, r, req.UID)
	if err != nil {
		return nil, err
	}
	if rej != nil {
		return failed(rej), nil
	}

	answer := &Answer{publicHash: r.publicHash[:], quoteHash: r.quoteHash[:]}
	res, rej, err := d.verifyQuote(ctx, r, now, &answer.Timings)
	if err != nil {
		return nil, err
	}
	answer.Result = res
	if rej != nil {
		answer.setFailure(rej)
		return answer, nil
	}
	if rej := checkBinding(r, res); rej != nil {
		answer.setFailure(rej)
		return answer, nil
	}
	if err := d.releaseKeys(ctx, r, req, res, now, answer); err != nil {
		return nil, err
	}
	return answer, nil
}

func failed(rej *rejection) *Answer {
	if rej == nil {
		return nil
	}
	a := &Answer{}
	a.setFailure(rej)
	return a
}

func (a *Answer) setFailure(rej *rejection) {
	a.Failed, a.State, a.Message, a.Secrets = true, rej.state, rej.message, nil
}

// checkClaims rejects a request whose public key or quote was answered
// for another object.
func (d *Decider) checkClaims(ctx context.Context, r *request, uid types.UID) (*rejection, error) {
	if d.Claims == nil {
		return nil, nil
	}
	for _, c := range []struct {
		kind string
		hash []byte
	}{{ClaimPublicKey, r.publicHash[:]}, {ClaimQuote, r.quoteHash[:]}} {
		owner, err := d.Claims.Owner(ctx, c.kind, c.hash)
		if err != nil {
			return nil, err
		}
		if owner != "" && owner != uid {
			return replayRejection(c.kind, owner), nil
		}
	}
	return nil, nil
}

func replayRejection(kind string, owner types.UID) *rejection {
	what := map[string]string{ClaimPublicKey: "public key", ClaimQuote: "quote"}[kind]
	return reject(sgxv1alpha1.StateReplayedRequest,
		"This %s was already answered for QuoteAttestation UID %s and is used once only. Create a new request with a fresh enclave key and quote.",
		what, owner)
}

// verifyQuote fetches the collateral for the quote's platform and verifies
// the quote at now.
func (d *Decider) verifyQuote(ctx context.Context, r *request, now time.Time, t *Timings) (*verify.Result, *rejection, error) {
	start := time.Now()
	// The PCK chain is verified before any collateral is fetched, so that a
	// self-made chain cannot make the key server query the collateral
	// service for arbitrary platforms.
	fmspc, caType, err := d.Verifier.Platform(r.quote)
	if err != nil {
		return nil, reject(verificationState(err),
			"The quote failed verification: %v. %s", err, verificationAdvice(err)), nil
	}
	platform := pccs.Key{FMSPC: fmspc, CA: caType}
	bundle, err := d.Collateral.Collateral(ctx, platform.FMSPC, platform.CA)
	t.Collateral = time.Since(start)
	if err != nil {
		if pccs.IsTransient(err) {
			return nil, nil, fmt.Errorf("fetch collateral for %s: %w", platform, err)
		}
		return nil, reject(sgxv1alpha1.StateInvalidCollateral,
			"No usable collateral for platform %s: %v. Check the collateral service or the offline bundles.",
			platform, err), nil
	}

	start = time.Now()
	res, err := d.Verifier.Verify(r.quote, bundle, now)
	t.Verification = time.Since(start)
	if err != nil {
		return res, reject(verificationState(err),
			"The quote failed verification: %v. %s", err, verificationAdvice(err)), nil
	}
	return res, nil, nil
}

// verificationAdvice returns what an operator should do about a
// verification failure.
func verificationAdvice(err error) string {
	switch {
	case errors.Is(err, verify.ErrCollateralExpired):
		return "Refresh the collateral from Intel PCS or the PCCS and retry."
	case errors.Is(err, verify.ErrInvalidCollateral):
		return "Check that the collateral service serves Intel's collateral for this platform."
	case errors.Is(err, verify.ErrTCBRevoked), errors.Is(err, verify.ErrRevokedPCKChain):
		return "The platform cannot be trusted until its TCB is recovered and a new PCK certificate is issued."
	case errors.Is(err, verify.ErrUntrustedPCKChain):
		return "The quote must be signed under the Intel SGX Root CA, or under a development root the policy lists."
	default:
		return "Create a new request with a fresh quote from the enclave."
	}
}

// checkBinding rejects a quote whose report data does not bind the
// request's public key and nonce.
func checkBinding(r *request, res *verify.Result) *rejection {
	want := expectedReportData(r.publicKey, r.nonce)
	got := res.Enclave.ReportData
	if bytes.Equal(want[:], got[:]) {
		return nil
	}
	return reject(sgxv1alpha1.StatePublicKeyMismatch,
		"The quote's report data %x does not bind spec.publicKey with nonce %x (expected %x). Quote the key that the request carries.",
		got[:32], r.nonce, want[:32])
}

// releaseKeys applies the policy to every signer and wraps each allowed
// key, filling answer. Every signer is judged even after a refusal, so the
// message lists every outcome.
func (d *Decider) releaseKeys(ctx context.Context, r *request, req Request, res *verify.Result, now time.Time, answer *Answer) error {
	start := time.Now()
	defer func() { answer.Timings.Wrapping = time.Since(start) }()

	var outcomes []string
	var first *rejection
	for _, signer := range r.signers {
		secret, rej, err := d.releaseKey(ctx, r, req, signer, res, now)
		if err != nil {
			return err
		}
		if rej != nil {
			outcomes = append(outcomes, fmt.Sprintf("%s: %s (%s)", signer, rej.message, rej.state))
			if first == nil {
				first = rej
			}
			continue
		}
		outcomes = append(outcomes, signer+": allowed")
		answer.Secrets = append(answer.Secrets, *secret)
	}

	if first != nil {
		answer.setFailure(&rejection{state: first.state, message: fmt.Sprintf(
			"No key was released because %d of %d signers were refused. %s",
			countRefused(outcomes), len(r.signers), joinBounded(outcomes, " "))})
		return nil
	}
	answer.State = sgxv1alpha1.StateQuoteVerified
	answer.Message = successMessage(res, r.signers)
	return nil
}

// maxListLength bounds a list of signers or signer outcomes in a message,
// so that the condition message stays well under the CRD's limit of 32768
// characters even with 64 signers at the maximum name length.
const maxListLength = 16384

// joinBounded joins items with sep up to maxListLength and notes how many
// it left out.
func joinBounded(items []string, sep string) string {
	var b strings.Builder
	for i, item := range items {
		if b.Len()+len(item)+len(sep) > maxListLength {
			fmt.Fprintf(&b, "%s(%d more left out)", sep, len(items)-i)
			break
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(item)
	}
	return b.String()
}

func countRefused(outcomes []string) int {
	n := 0
	for _, o := range outcomes {
		if !strings.HasSuffix(o, ": allowed") {
			n++
		}
	}
	return n
}

func successMessage(res *verify.Result, signers []string) string {
	msg := fmt.Sprintf("The quote verified with TCB status %s", res.TCBStatus)
	if len(res.AdvisoryIDs) > 0 {
		msg += " (advisories " + strings.Join(res.AdvisoryIDs, ", ") + ")"
	}
	msg += fmt.Sprintf(" and keys were released for %d signers: %s.", len(signers), joinBounded(signers, ", "))
	if res.DevelopmentRoot {
		msg += fmt.Sprintf(" WARNING: the quote chains to the development root %q, not to Intel's; never accept this in production.",
			res.TrustedRoot)
	}
	return msg
}

// releaseKey judges one signer and, when allowed, wraps its key and signs
// the receipt.
func (d *Decider) releaseKey(ctx context.Context, r *request, req Request, signer string, res *verify.Result, now time.Time) (*SignerSecret, *rejection, error) {
	decision := d.Policy.EvaluateResult(signer, res, now)
	if !decision.Allowed {
		return nil, &rejection{state: policyState(decision.Reason), message: decision.Message}, nil
	}

	blob, chainPEM, err := d.Keys.WrapKey(ctx, signer, r.publicKey)
	switch {
	case errors.Is(err, ErrUnknownSigner):
		return nil, reject(sgxv1alpha1.StateUnknownSigner,
			"The key store has no CA for %s: %v. Add the key or remove the signer from the request.", signer, err), nil
	case errors.Is(err, ErrKeyStore):
		return nil, reject(sgxv1alpha1.StateKeyStoreFailure,
			"The key store cannot release the CA of %s: %v. Fix the key store entry.", signer, err), nil
	case err != nil:
		return nil, nil, fmt.Errorf("key store for %s: %w", signer, err)
	}

	tlsKey := []byte(base64.StdEncoding.EncodeToString(blob))
	tlsCrt := []byte(base64.StdEncoding.EncodeToString(chainPEM))
	receipt, err := keywrap.NewReceipt(r.quote, r.publicKey, signer, string(req.UID), tlsKey, tlsCrt)
	if err != nil {
		return nil, nil, fmt.Errorf("build the receipt for %s: %w", signer, err)
	}
	signed, err := receipt.Sign(d.ReceiptKey)
	if err != nil {
		return nil, nil, fmt.Errorf("sign the receipt for %s: %w", signer, err)
	}
	return &SignerSecret{Signer: signer, Data: map[string][]byte{
		"tls.key":                tlsKey,
		"tls.crt":                tlsCrt,
		keywrap.ReceiptSecretKey: signed,
	}}, nil, nil
}
