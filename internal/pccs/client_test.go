package pccs

import (
	"context"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/dcap/verify"
)

// startServer serves cat on a loopback port and returns the v4 base URL.
func startServer(t *testing.T, cat Catalog) string {
	t.Helper()
	srv := httptest.NewServer(NewHandler(cat, HandlerOptions{}))
	t.Cleanup(srv.Close)
	return srv.URL + DefaultPathPrefix
}

func newTestClient(t *testing.T, base string, opts ClientOptions) *Client {
	t.Helper()
	c, err := NewClient(base, opts)
	if err != nil {
		t.Fatalf("NewClient(%q): %v", base, err)
	}
	return c
}

func TestClientRoundTripSynthetic(t *testing.T) {
	for _, ca := range []string{CAPlatform, CAProcessor} {
		t.Run(ca, func(t *testing.T) {
			want := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, ca: ca})
			base := startServer(t, StaticCatalog{mustDescribe(t, want, "")})

			got, err := newTestClient(t, base, ClientOptions{}).Collateral(context.Background(), testFMSPC, ca)
			if err != nil {
				t.Fatalf("Collateral: %v", err)
			}
			compareBundles(t, got, want)
		})
	}
}

func TestClientRoundTripReal(t *testing.T) {
	for _, path := range realBundles(t) {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := collateral.ParseBundleJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			entry := mustDescribe(t, want, "")
			base := startServer(t, StaticCatalog{entry})

			got, err := newTestClient(t, base, ClientOptions{}).
				Collateral(context.Background(), entry.Key.FMSPC, entry.Key.CA)
			if err != nil {
				t.Fatalf("Collateral(%s): %v", entry.Key, err)
			}
			compareBundles(t, got, want)

			// The fetched bundle verifies the real quote at the sample's time,
			// so every signed byte came through unchanged.
			quote, at, status := readRealQuote(t, filepath.Dir(path))
			res, err := verify.New(verify.Config{}).Verify(quote, got, at)
			if err != nil {
				t.Fatalf("Verify with fetched collateral: %v", err)
			}
			if res.TCBStatus != status {
				t.Errorf("TCB status %s, want %s", res.TCBStatus, status)
			}
		})
	}
}

func TestServerHeaders(t *testing.T) {
	b := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, ca: CAProcessor})
	base := startServer(t, StaticCatalog{mustDescribe(t, b, "")})

	tests := map[string]struct {
		path        string
		headers     []string
		contentType string
		chain       []byte
	}{
		"tcb": {
			path:        "/tcb?fmspc=00906EA10000",
			headers:     []string{"TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"},
			contentType: contentJSON,
			chain:       b.TCBInfoIssuerChain,
		},
		"qe identity": {
			path:        "/qe/identity",
			headers:     []string{"SGX-Enclave-Identity-Issuer-Chain"},
			contentType: contentJSON,
			chain:       b.QEIdentityIssuerChain,
		},
		"pck crl der": {
			path:        "/pckcrl?ca=processor&encoding=der",
			headers:     []string{"SGX-PCK-CRL-Issuer-Chain"},
			contentType: contentPKIX,
			chain:       b.PCKCRLIssuerChain,
		},
		"pck crl pem": {
			path:        "/pckcrl?ca=PROCESSOR",
			headers:     []string{"SGX-PCK-CRL-Issuer-Chain"},
			contentType: contentPEM,
			chain:       b.PCKCRLIssuerChain,
		},
		"root crl": {path: "/rootcacrl", contentType: contentHexCRL},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp, err := http.Get(base + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			for _, h := range tc.headers {
				raw := resp.Header.Get(h)
				if raw == "" {
					t.Fatalf("header %s is missing", h)
				}
				if strings.ContainsAny(raw, "\n +/=") {
					t.Errorf("header %s is not fully percent-encoded: %.40q", h, raw)
				}
				decoded, err := url.PathUnescape(raw)
				if err != nil {
					t.Fatalf("header %s: %v", h, err)
				}
				if decoded != string(tc.chain) {
					t.Errorf("header %s decodes to a different chain", h)
				}
			}
		})
	}
}

func TestServerBodies(t *testing.T) {
	b := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, ca: CAPlatform})
	base := startServer(t, StaticCatalog{mustDescribe(t, b, "")})

	pemBody := get(t, base+"/pckcrl?ca=platform")
	block, _ := pem.Decode(pemBody)
	if block == nil || block.Type != "X509 CRL" || string(block.Bytes) != string(b.PCKCRL) {
		t.Errorf("PCK CRL without encoding=der is not the PEM of the bundle's CRL")
	}
	if got := get(t, base+"/pckcrl?ca=platform&encoding=der"); string(got) != string(b.PCKCRL) {
		t.Errorf("PCK CRL with encoding=der is not the bundle's DER")
	}
	if got := get(t, base+"/rootcacrl"); string(got) != hex.EncodeToString(b.RootCACRL) {
		t.Errorf("root CA CRL is not the hex of the bundle's DER")
	}
}

func get(t *testing.T, target string) []byte {
	t.Helper()
	c := newTestClient(t, "http://127.0.0.1:1", ClientOptions{})
	body, _, err := c.get(context.Background(), target)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return body
}

// variantHandler serves the bundle the way other PCCS and PCS releases
// do: other header names, other encodings.
type variantHandler struct {
	b              *collateral.Bundle
	tcbHeader      string
	qeHeader       string
	escape         func(string) string
	pckCRLBody     func([]byte) []byte
	rootCRLBody    func([]byte) []byte
	rootCRLPath    string
	tcbBodyReplace func([]byte) []byte
}

func (v *variantHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, DefaultPathPrefix) {
	case "/tcb":
		w.Header().Set(v.tcbHeader, v.escape(string(v.b.TCBInfoIssuerChain)))
		body := joinSignedBody(memberTCBInfo, v.b.TCBInfo, v.b.TCBInfoSignature)
		if v.tcbBodyReplace != nil {
			body = v.tcbBodyReplace(body)
		}
		w.Write(body)
	case "/qe/identity":
		w.Header().Set(v.qeHeader, v.escape(string(v.b.QEIdentityIssuerChain)))
		w.Write(joinSignedBody(memberEnclaveIdentity, v.b.QEIdentity, v.b.QEIdentitySignature))
	case "/pckcrl":
		w.Header().Set(headerPCKCRLChain, v.escape(string(v.b.PCKCRLIssuerChain)))
		w.Write(v.pckCRLBody(v.b.PCKCRL))
	default:
		if r.URL.Path == v.rootCRLPath {
			w.Write(v.rootCRLBody(v.b.RootCACRL))
			return
		}
		http.NotFound(w, r)
	}
}

func identity(b []byte) []byte    { return b }
func escapeChain(s string) string { return encodeIssuerChain([]byte(s)) }
func hexText(b []byte) []byte     { return []byte(hex.EncodeToString(b) + "\n") }

func TestClientResponseVariants(t *testing.T) {
	tests := map[string]variantHandler{
		"pcs v4 tcb header": {
			tcbHeader: "TCB-Info-Issuer-Chain", qeHeader: "SGX-Enclave-Identity-Issuer-Chain",
			escape: escapeChain, pckCRLBody: identity, rootCRLBody: hexText,
		},
		"old enclave identity header": {
			tcbHeader: "SGX-TCB-Info-Issuer-Chain", qeHeader: "Enclave-Identity-Issuer-Chain",
			escape: escapeChain, pckCRLBody: identity, rootCRLBody: hexText,
		},
		"lower-case header names": {
			tcbHeader: "sgx-tcb-info-issuer-chain", qeHeader: "sgx-enclave-identity-issuer-chain",
			escape: escapeChain, pckCRLBody: identity, rootCRLBody: hexText,
		},
		"plus left unescaped": {
			tcbHeader: "TCB-Info-Issuer-Chain", qeHeader: "SGX-Enclave-Identity-Issuer-Chain",
			escape: url.PathEscape, pckCRLBody: identity, rootCRLBody: hexText,
		},
		"pck crl as pem": {
			tcbHeader: "TCB-Info-Issuer-Chain", qeHeader: "SGX-Enclave-Identity-Issuer-Chain",
			escape: escapeChain, pckCRLBody: encodeCRLPEM, rootCRLBody: hexText,
		},
		"pck crl as hex": {
			tcbHeader: "TCB-Info-Issuer-Chain", qeHeader: "SGX-Enclave-Identity-Issuer-Chain",
			escape: escapeChain, pckCRLBody: hexText, rootCRLBody: hexText,
		},
		"root crl as der at distribution point": {
			tcbHeader: "TCB-Info-Issuer-Chain", qeHeader: "SGX-Enclave-Identity-Issuer-Chain",
			escape: escapeChain, pckCRLBody: identity, rootCRLBody: identity,
			rootCRLPath: "/IntelSGXRootCA.der",
		},
		"root crl as hex of pem": {
			tcbHeader: "TCB-Info-Issuer-Chain", qeHeader: "SGX-Enclave-Identity-Issuer-Chain",
			escape: escapeChain, pckCRLBody: identity,
			rootCRLBody: func(der []byte) []byte { return hexText(encodeCRLPEM(der)) },
		},
		"signed body with white space": {
			tcbHeader: "TCB-Info-Issuer-Chain", qeHeader: "SGX-Enclave-Identity-Issuer-Chain",
			escape: escapeChain, pckCRLBody: identity, rootCRLBody: hexText,
			tcbBodyReplace: func(body []byte) []byte {
				s := strings.Replace(string(body), `{"tcbInfo":`, "{\n  \"tcbInfo\" :\t", 1)
				return []byte(strings.Replace(s, `,"signature":`, " ,\n  \"signature\": ", 1) + "\n")
			},
		},
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			want := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, ca: CAPlatform})
			v.b = want
			opts := ClientOptions{}
			if v.rootCRLPath == "" {
				v.rootCRLPath = DefaultPathPrefix + "/rootcacrl"
			}
			srv := httptest.NewServer(&v)
			t.Cleanup(srv.Close)
			if v.rootCRLPath != DefaultPathPrefix+"/rootcacrl" {
				opts.RootCACRLURL = srv.URL + v.rootCRLPath
			}

			got, err := newTestClient(t, srv.URL+DefaultPathPrefix, opts).
				Collateral(context.Background(), testFMSPC, CAPlatform)
			if err != nil {
				t.Fatalf("Collateral: %v", err)
			}
			compareBundles(t, got, want)
		})
	}
}

func TestClientErrors(t *testing.T) {
	b := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, ca: CAPlatform})
	good := NewHandler(StaticCatalog{mustDescribe(t, b, "")}, HandlerOptions{})
	chain := encodeIssuerChain(b.TCBInfoIssuerChain)

	tests := map[string]struct {
		handler   http.HandlerFunc
		kind      error
		transient bool
		inMessage string
	}{
		"service unavailable": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "maintenance", http.StatusServiceUnavailable)
			},
			kind: ErrUnavailable, transient: true, inMessage: "503",
		},
		"too many requests": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			kind: ErrUnavailable, transient: true, inMessage: "Retry-After 30",
		},
		"internal error": {
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) },
			kind:    ErrUnavailable, transient: true, inMessage: "500",
		},
		"unknown fmspc": {
			handler: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			kind:    ErrNotFound, inMessage: "404",
		},
		"bad request": {
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) },
			kind:    ErrRejected, inMessage: "400",
		},
		"unexpected status": {
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			kind:    ErrInvalidResponse, inMessage: "204",
		},
		"body not json": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(headerTCBInfoChain, chain)
				w.Write([]byte("<html>"))
			},
			kind: ErrInvalidResponse, inMessage: "invalid JSON",
		},
		"tcb info missing": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(headerTCBInfoChain, chain)
				w.Write([]byte(`{"signature":"00"}`))
			},
			kind: ErrInvalidResponse, inMessage: `"tcbInfo" is missing`,
		},
		"duplicate tcb info": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(headerTCBInfoChain, chain)
				body := joinSignedBody(memberTCBInfo, b.TCBInfo, b.TCBInfoSignature)
				w.Write([]byte(strings.Replace(string(body), `{"tcbInfo":`, `{"tcbInfo":{},"tcbInfo":`, 1)))
			},
			kind: ErrInvalidResponse, inMessage: "duplicate",
		},
		"signature not hex": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(headerTCBInfoChain, chain)
				w.Write([]byte(`{"tcbInfo":{},"signature":"zz"}`))
			},
			kind: ErrInvalidResponse, inMessage: "not hex",
		},
		"signature short": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(headerTCBInfoChain, chain)
				w.Write([]byte(`{"tcbInfo":{},"signature":"0011"}`))
			},
			kind: ErrInvalidResponse, inMessage: "2 bytes",
		},
		"chain header missing": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write(joinSignedBody(memberTCBInfo, b.TCBInfo, b.TCBInfoSignature))
			},
			kind: ErrInvalidResponse, inMessage: "TCB-Info-Issuer-Chain or SGX-TCB-Info-Issuer-Chain is missing",
		},
		"chain header not pem": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(headerTCBInfoChain, "hello")
				w.Write(joinSignedBody(memberTCBInfo, b.TCBInfo, b.TCBInfoSignature))
			},
			kind: ErrInvalidResponse, inMessage: "no PEM certificate",
		},
		"pck crl garbage": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/pckcrl") {
					w.Header().Set(headerPCKCRLChain, encodeIssuerChain(b.PCKCRLIssuerChain))
					w.Write([]byte("not a crl"))
					return
				}
				good.ServeHTTP(w, r)
			},
			kind: ErrInvalidResponse, inMessage: "CRL does not parse",
		},
		"root crl missing": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/rootcacrl") {
					http.NotFound(w, r)
					return
				}
				good.ServeHTTP(w, r)
			},
			kind: ErrNotFound, inMessage: "/rootcacrl",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)

			_, err := newTestClient(t, srv.URL+DefaultPathPrefix, ClientOptions{}).
				Collateral(context.Background(), testFMSPC, CAPlatform)
			if err == nil {
				t.Fatal("Collateral succeeded, want an error")
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %q does not wrap %q", err, tc.kind)
			}
			if IsTransient(err) != tc.transient {
				t.Errorf("IsTransient = %v, want %v for %q", !tc.transient, tc.transient, err)
			}
			if !strings.Contains(err.Error(), tc.inMessage) {
				t.Errorf("error %q does not contain %q", err, tc.inMessage)
			}
			if !strings.Contains(err.Error(), srv.URL) {
				t.Errorf("error %q does not name the URL %s", err, srv.URL)
			}
		})
	}
}

func TestClientConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	_, err = newTestClient(t, "http://"+addr+DefaultPathPrefix, ClientOptions{}).
		Collateral(context.Background(), testFMSPC, CAPlatform)
	if !errors.Is(err, ErrUnavailable) || !IsTransient(err) {
		t.Errorf("error %v is not transient ErrUnavailable", err)
	}
}

func TestClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	_, err := newTestClient(t, srv.URL, ClientOptions{Timeout: 50 * time.Millisecond}).
		TCBInfo(context.Background(), testFMSPC)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap ErrUnavailable and context.DeadlineExceeded", err)
	}
	if !IsTransient(err) {
		t.Errorf("timeout %v is not transient", err)
	}
}

func TestClientCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := newTestClient(t, srv.URL, ClientOptions{}).QEIdentity(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	if IsTransient(err) {
		t.Errorf("cancellation %v counts as transient", err)
	}
}

func TestClientRecoversAfterUnavailable(t *testing.T) {
	want := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, ca: CAPlatform})
	good := NewHandler(StaticCatalog{mustDescribe(t, want, "")}, HandlerOptions{})
	var down atomic.Bool
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		good.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL+DefaultPathPrefix, ClientOptions{})

	if _, err := c.Collateral(context.Background(), testFMSPC, CAPlatform); !IsTransient(err) {
		t.Fatalf("while down: error %v, want a transient one", err)
	}
	down.Store(false)
	got, err := c.Collateral(context.Background(), testFMSPC, CAPlatform)
	if err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	compareBundles(t, got, want)
}

func TestClientBodyLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 2048))
	}))
	t.Cleanup(srv.Close)

	_, err := newTestClient(t, srv.URL, ClientOptions{MaxBodyBytes: 1024}).RootCACRL(context.Background())
	if !errors.Is(err, ErrInvalidResponse) || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Errorf("error %v, want ErrInvalidResponse about the size", err)
	}
}

func TestNewClientURL(t *testing.T) {
	tests := map[string]struct {
		base    string
		rootCRL string
		wantErr string
	}{
		"empty":           {base: "", wantErr: "PCCS base URL is missing"},
		"no scheme":       {base: "localhost:8081", wantErr: "scheme must be http or https"},
		"ftp":             {base: "ftp://127.0.0.1/", wantErr: "scheme must be http or https"},
		"no host":         {base: "http:///sgx", wantErr: "host is missing"},
		"query":           {base: "http://127.0.0.1/x?a=b", wantErr: "remove the query"},
		"bad root crl":    {base: "http://127.0.0.1", rootCRL: "file:///crl", wantErr: "root CA CRL URL"},
		"trailing slash":  {base: "https://127.0.0.1:8081/sgx/certification/v4/"},
		"with root crl":   {base: "http://[::1]:8081", rootCRL: "http://[::1]:9/root.der"},
		"intel pcs (doc)": {base: IntelPCSURL},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := NewClient(tc.base, ClientOptions{RootCACRLURL: tc.rootCRL})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			if strings.HasSuffix(c.BaseURL(), "/") {
				t.Errorf("BaseURL %q keeps a trailing slash", c.BaseURL())
			}
		})
	}
}

func TestClientRejectsBadCA(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1", ClientOptions{})
	_, err := c.Collateral(context.Background(), testFMSPC, "intermediate")
	if err == nil || !strings.Contains(err.Error(), `"intermediate"`) {
		t.Errorf("error %v, want one naming the CA type", err)
	}
}

// readRealQuote reads quote.bin and expect ("UNIX_TIME STATUS") of a real
// sample folder.
func readRealQuote(t *testing.T, dir string) (quote []byte, at time.Time, status string) {
	t.Helper()
	quote, err := os.ReadFile(filepath.Join(dir, "quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	expect, err := os.ReadFile(filepath.Join(dir, "expect"))
	if err != nil {
		t.Fatal(err)
	}
	var unix int64
	if _, err := fmt.Sscanf(string(expect), "%d %s", &unix, &status); err != nil {
		t.Fatalf("expect %q: %v", expect, err)
	}
	return quote, time.Unix(unix, 0), status
}

func BenchmarkClientCollateral(b *testing.B) {
	bundle := newSyntheticBundle(b, bundleSpec{fmspc: testFMSPC})
	e, err := Describe(bundle, "")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(StaticCatalog{e}, HandlerOptions{}))
	b.Cleanup(srv.Close)
	c, err := NewClient(srv.URL+DefaultPathPrefix, ClientOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Collateral(ctx, testFMSPC, CAPlatform); err != nil {
			b.Fatal(err)
		}
	}
}
