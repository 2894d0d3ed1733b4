package pccs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
)

// IntelPCSURL is the base URL of Intel's PCS API version 4 for SGX. It is
// documentation for operators only: nothing in this package uses it as a
// default, so the caller always names the service it trusts.
const IntelPCSURL = "https://api.trustedservices.intel.com/sgx/certification/v4"

// Paths below the base URL, from the routes and the PCS client of Intel's
// PCCS (github.com/intel/SGXDataCenterAttestationPrimitives,
// QuoteGeneration/pccs/routes/index.js and pcs_client/pcs_client.js). The
// root CA CRL path exists only on a PCCS;
// the PCS publishes that CRL at the distribution point of the root
// certificate instead (ClientOptions.RootCACRLURL).
const (
	pathTCBInfo    = "/tcb"
	pathQEIdentity = "/qe/identity"
	pathPCKCRL     = "/pckcrl"
	pathRootCACRL  = "/rootcacrl"
)

// Response headers with the URL-encoded PEM issuer chains. The PCCS
// (QuoteGeneration/pccs/constants/index.js) and PCS v3 name the TCB Info
// chain SGX-TCB-Info-Issuer-Chain, and PCS v4 names it
// TCB-Info-Issuer-Chain (as the header constants of Fortanix's
// dcap-artifact-retrieval crate record). Enclave-Identity-Issuer-Chain,
// without the SGX- prefix, is accepted as a fallback for older services.
// NOTE: no specification of that older name was checked. Header names are
// case-insensitive.
const (
	headerTCBInfoChain         = "TCB-Info-Issuer-Chain"
	headerTCBInfoChainSGX      = "SGX-TCB-Info-Issuer-Chain"
	headerEnclaveIdentityChain = "SGX-Enclave-Identity-Issuer-Chain"
	headerEnclaveIdentityOld   = "Enclave-Identity-Issuer-Chain"
	headerPCKCRLChain          = "SGX-PCK-CRL-Issuer-Chain"
)

// Defaults for ClientOptions.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxBodyBytes = 16 << 20
)

// maxErrorExcerpt bounds how much of an error response body goes into an
// error message.
const maxErrorExcerpt = 200

// ClientOptions configures a Client. The zero value is usable.
type ClientOptions struct {
	// HTTPClient sends the requests. Nil means a new http.Client.
	HTTPClient *http.Client
	// Timeout bounds each request, including reading the body. Zero
	// means DefaultTimeout.
	Timeout time.Duration
	// RootCACRLURL is the URL of the root CA CRL. Empty means the PCCS
	// path <base URL>/rootcacrl. For Intel's PCS, give the CRL
	// distribution point of the Intel SGX Root CA certificate.
	RootCACRLURL string
	// MaxBodyBytes bounds the size of a response body. Zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Client fetches collateral from a PCS or PCCS v4 service. It is safe for
// concurrent use.
type Client struct {
	base       string
	rootCRLURL string
	http       *http.Client
	timeout    time.Duration
	maxBody    int64
}

// NewClient returns a client for the service at baseURL, for example
// "https://pccs.example:8081/sgx/certification/v4" or IntelPCSURL. There
// is no default: the caller must give one.
func NewClient(baseURL string, opts ClientOptions) (*Client, error) {
	base, err := checkServiceURL(baseURL, "PCCS base URL")
	if err != nil {
		return nil, err
	}
	rootCRLURL := base + pathRootCACRL
	if opts.RootCACRLURL != "" {
		if rootCRLURL, err = checkServiceURL(opts.RootCACRLURL, "root CA CRL URL"); err != nil {
			return nil, err
		}
	}

	c := &Client{
		base:       base,
		rootCRLURL: rootCRLURL,
		http:       opts.HTTPClient,
		timeout:    opts.Timeout,
		maxBody:    opts.MaxBodyBytes,
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	return c, nil
}

// checkServiceURL requires an absolute http or https URL with a host and
// returns it without a trailing slash.
func checkServiceURL(raw, what string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", fmt.Errorf("%s is missing: give the service URL, such as %s", what, IntelPCSURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("invalid %s %q: %w", what, raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("invalid %s %q: scheme must be http or https", what, raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("invalid %s %q: host is missing", what, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("invalid %s %q: remove the query and fragment", what, raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// BaseURL returns the service URL the client was made with, without a
// trailing slash.
func (c *Client) BaseURL() string { return c.base }

// Collateral fetches the TCB Info for fmspc, the QE Identity, the PCK CRL of
// the given CA type and the root CA CRL, and returns them as a bundle. It
// implements Source.
func (c *Client) Collateral(ctx context.Context, fmspc [fmspcLen]byte, ca string) (*collateral.Bundle, error) {
	ca, err := ParseCA(ca)
	if err != nil {
		return nil, err
	}

	tcb, err := c.TCBInfo(ctx, fmspc)
	if err != nil {
		return nil, err
	}
	qe, err := c.QEIdentity(ctx)
	if err != nil {
		return nil, err
	}
	pckCRL, pckChain, err := c.PCKCRL(ctx, ca)
	if err != nil {
		return nil, err
	}
	rootCRL, err := c.RootCACRL(ctx)
	if err != nil {
		return nil, err
	}

	return &collateral.Bundle{
		TCBInfo:               tcb.Body,
		TCBInfoSignature:      tcb.Signature,
		TCBInfoIssuerChain:    tcb.IssuerChain,
		QEIdentity:            qe.Body,
		QEIdentitySignature:   qe.Signature,
		QEIdentityIssuerChain: qe.IssuerChain,
		PCKCRL:                pckCRL,
		PCKCRLIssuerChain:     pckChain,
		RootCACRL:             rootCRL,
	}, nil
}

// TCBInfo fetches GET <base>/tcb?fmspc=<hex>.
func (c *Client) TCBInfo(ctx context.Context, fmspc [fmspcLen]byte) (SignedJSON, error) {
	query := url.Values{"fmspc": {FormatFMSPC(fmspc)}}
	return c.getSigned(ctx, c.base+pathTCBInfo+"?"+query.Encode(), memberTCBInfo,
		headerTCBInfoChain, headerTCBInfoChainSGX)
}

// QEIdentity fetches GET <base>/qe/identity.
func (c *Client) QEIdentity(ctx context.Context) (SignedJSON, error) {
	return c.getSigned(ctx, c.base+pathQEIdentity, memberEnclaveIdentity,
		headerEnclaveIdentityChain, headerEnclaveIdentityOld)
}

func (c *Client) getSigned(ctx context.Context, target, member string, chainHeaders ...string) (SignedJSON, error) {
	body, header, err := c.get(ctx, target)
	if err != nil {
		return SignedJSON{}, err
	}
	object, signature, err := splitSignedBody(body, member)
	if err != nil {
		return SignedJSON{}, fmt.Errorf("%w: GET %s: %w", ErrInvalidResponse, target, err)
	}
	chain, err := issuerChain(header, chainHeaders...)
	if err != nil {
		return SignedJSON{}, fmt.Errorf("%w: GET %s: %w", ErrInvalidResponse, target, err)
	}
	return SignedJSON{Body: object, Signature: signature, IssuerChain: chain}, nil
}

// PCKCRL fetches GET <base>/pckcrl?ca=<ca>&encoding=der and returns the DER
// CRL and the PEM issuer chain. A PEM or hex body is accepted as well,
// because a PCCS may ignore the encoding parameter.
func (c *Client) PCKCRL(ctx context.Context, ca string) (der, chain []byte, err error) {
	ca, err = ParseCA(ca)
	if err != nil {
		return nil, nil, err
	}
	query := url.Values{"ca": {ca}, "encoding": {"der"}}
	target := c.base + pathPCKCRL + "?" + query.Encode()

	body, header, err := c.get(ctx, target)
	if err != nil {
		return nil, nil, err
	}
	der, err = normaliseCRL(body)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: GET %s: %w", ErrInvalidResponse, target, err)
	}
	chain, err = issuerChain(header, headerPCKCRLChain)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: GET %s: %w", ErrInvalidResponse, target, err)
	}
	return der, chain, nil
}

// RootCACRL fetches the root CA CRL from ClientOptions.RootCACRLURL or the
// PCCS path <base>/rootcacrl and returns it as DER. The body may be DER,
// PEM, or hex of either.
func (c *Client) RootCACRL(ctx context.Context) ([]byte, error) {
	body, _, err := c.get(ctx, c.rootCRLURL)
	if err != nil {
		return nil, err
	}
	der, err := normaliseCRL(body)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %w", ErrInvalidResponse, c.rootCRLURL, err)
	}
	return der, nil
}

// issuerChain reads the first of names present in header.
func issuerChain(header http.Header, names ...string) ([]byte, error) {
	for _, name := range names {
		if value := header.Get(name); value != "" {
			chain, err := decodeIssuerChain(value)
			if err != nil {
				return nil, fmt.Errorf("header %s: %w", name, err)
			}
			return chain, nil
		}
	}
	return nil, fmt.Errorf("issuer chain header %s is missing", strings.Join(names, " or "))
}

// get sends a GET request and returns the body of a 200 response. Other
// statuses become errors that wrap ErrNotFound, ErrUnavailable, ErrRejected
// or ErrInvalidResponse.
func (c *Client) get(ctx context.Context, target string) ([]byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", target, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: GET %s: %w", ErrUnavailable, target, err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: GET %s: reading the body: %w", ErrUnavailable, target, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, statusError(target, resp, body)
	}
	if int64(len(body)) > c.maxBody {
		return nil, nil, fmt.Errorf("%w: GET %s: body is larger than %d bytes", ErrInvalidResponse, target, c.maxBody)
	}
	return body, resp.Header, nil
}

func statusError(target string, resp *http.Response, body []byte) error {
	kind := ErrInvalidResponse
	switch code := resp.StatusCode; {
	case code == http.StatusNotFound:
		kind = ErrNotFound
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		kind = ErrUnavailable
	case code >= 400:
		kind = ErrRejected
	}

	msg := fmt.Sprintf("GET %s: status %s", target, resp.Status)
	if retry := resp.Header.Get("Retry-After"); retry != "" {
		msg += fmt.Sprintf(" (Retry-After %s)", retry)
	}
	if excerpt := printableExcerpt(body); excerpt != "" {
		msg += fmt.Sprintf(": %q", excerpt)
	}
	return fmt.Errorf("%w: %s", kind, msg)
}

// printableExcerpt returns the start of an error body when it is text, so
// that a message from the service reaches the operator.
func printableExcerpt(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > maxErrorExcerpt {
		s = s[:maxErrorExcerpt]
	}
	for _, r := range s {
		if r == unicode.ReplacementChar || (!unicode.IsPrint(r) && !unicode.IsSpace(r)) {
			return ""
		}
	}
	return s
}

// IsTransient reports whether err is worth retrying: it wraps
// ErrUnavailable, or a timeout, but not a cancellation by the caller.
func IsTransient(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}
