package pccs

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// DefaultPathPrefix is the path under which a PCCS serves the SGX
// certification API version 4.
const DefaultPathPrefix = "/sgx/certification/v4"

// DefaultListenAddress is the development server's default listen address:
// loopback only, on the PCCS's usual port.
const DefaultListenAddress = "127.0.0.1:8081"

// shutdownTimeout bounds how long Serve waits for open requests to finish.
const shutdownTimeout = 5 * time.Second

// Content types the PCCS sets (QuoteGeneration/pccs/controllers).
const (
	contentJSON   = "application/json"
	contentPKIX   = "application/pkix-crl"
	contentPEM    = "application/x-pem-file"
	contentHexCRL = "text/plain; charset=utf-8"
)

// Catalog lists the bundles a Handler serves.
type Catalog interface {
	Entries(ctx context.Context) ([]Entry, error)
}

// StaticCatalog is a fixed list of bundles.
type StaticCatalog []Entry

// Entries returns the list.
func (s StaticCatalog) Entries(context.Context) ([]Entry, error) { return s, nil }

// CatalogFunc adapts a function to a Catalog, for collateral made on
// demand such as that of a development PKI.
type CatalogFunc func(ctx context.Context) ([]Entry, error)

// Entries calls f.
func (f CatalogFunc) Entries(ctx context.Context) ([]Entry, error) { return f(ctx) }

// MultiCatalog joins catalogs. A failing member fails the whole lookup, so
// that a broken source is noticed rather than silently skipped.
type MultiCatalog []Catalog

// Entries concatenates the entries of every member.
func (m MultiCatalog) Entries(ctx context.Context) ([]Entry, error) {
	var all []Entry
	for _, c := range m {
		entries, err := c.Entries(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, entries...)
	}
	return all, nil
}

// HandlerOptions configures NewHandler.
type HandlerOptions struct {
	// PathPrefix is the path of the API root. Empty means DefaultPathPrefix.
	PathPrefix string
	// Logger receives one line per request at debug level and every
	// failure at warning level. Nil means no logging.
	Logger *slog.Logger
}

// NewHandler returns an HTTP handler that serves the bundles of cat with
// the paths, parameters and headers of PCCS and PCS v4, as Client reads
// them:
//
//	GET <prefix>/tcb?fmspc=<hex>         TCB Info of the newest bundle for the FMSPC
//	GET <prefix>/qe/identity             QE Identity of the newest bundle
//	GET <prefix>/pckcrl?ca=<ca>[&encoding=der]
//	                                     PCK CRL of the newest bundle for the CA
//	GET <prefix>/rootcacrl               root CA CRL of the newest bundle, as hex
//
// QE Identity and the CRLs do not depend on the FMSPC in this API, so a
// handler over bundles of different origins serves those of the newest
// bundle ("newest" is the latest Validity.IssueDate).
func NewHandler(cat Catalog, opts HandlerOptions) http.Handler {
	prefix := strings.TrimRight(opts.PathPrefix, "/")
	if prefix == "" {
		prefix = DefaultPathPrefix
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &server{catalog: cat, logger: logger}

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+pathTCBInfo, s.serveTCBInfo)
	mux.HandleFunc("GET "+prefix+pathQEIdentity, s.serveQEIdentity)
	mux.HandleFunc("GET "+prefix+pathPCKCRL, s.servePCKCRL)
	mux.HandleFunc("GET "+prefix+pathRootCACRL, s.serveRootCACRL)
	return s.logRequests(mux)
}

type server struct {
	catalog Catalog
	logger  *slog.Logger
}

// statusRecorder keeps the status a handler wrote, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.logger.Debug("collateral request", "method", r.Method, "uri", r.URL.RequestURI(),
			"status", rec.status, "remote", r.RemoteAddr)
	})
}

// fail writes a plain-text error and logs it.
func (s *server) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.logger.Warn("collateral request failed", "uri", r.URL.RequestURI(), "status", status, "error", msg)
	http.Error(w, msg, status)
}

// newest returns the entry with the latest issue date that match accepts.
func (s *server) newest(w http.ResponseWriter, r *http.Request, what string, match func(Entry) bool) (Entry, bool) {
	entries, err := s.catalog.Entries(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, fmt.Sprintf("reading bundles: %v", err))
		return Entry{}, false
	}
	var best *Entry
	for i := range entries {
		e := &entries[i]
		if match(*e) && (best == nil || e.Validity.IssueDate.After(best.Validity.IssueDate)) {
			best = e
		}
	}
	if best == nil {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no %s in the served bundles", what))
		return Entry{}, false
	}
	return *best, true
}

func matchAll(Entry) bool { return true }

func (s *server) serveTCBInfo(w http.ResponseWriter, r *http.Request) {
	fmspc, err := ParseFMSPC(r.URL.Query().Get("fmspc"))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	what := "TCB Info for FMSPC " + FormatFMSPC(fmspc)
	e, ok := s.newest(w, r, what, func(e Entry) bool { return e.Key.FMSPC == fmspc })
	if !ok {
		return
	}

	chain := encodeIssuerChain(e.Bundle.TCBInfoIssuerChain)
	w.Header().Set(headerTCBInfoChain, chain)
	w.Header().Set(headerTCBInfoChainSGX, chain)
	w.Header().Set("Content-Type", contentJSON)
	w.Write(joinSignedBody(memberTCBInfo, e.Bundle.TCBInfo, e.Bundle.TCBInfoSignature))
}

func (s *server) serveQEIdentity(w http.ResponseWriter, r *http.Request) {
	e, ok := s.newest(w, r, "QE Identity", matchAll)
	if !ok {
		return
	}
	w.Header().Set(headerEnclaveIdentityChain, encodeIssuerChain(e.Bundle.QEIdentityIssuerChain))
	w.Header().Set("Content-Type", contentJSON)
	w.Write(joinSignedBody(memberEnclaveIdentity, e.Bundle.QEIdentity, e.Bundle.QEIdentitySignature))
}

func (s *server) servePCKCRL(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	ca, err := ParseCA(query.Get("ca"))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	e, ok := s.newest(w, r, "PCK CRL for the "+ca+" CA", func(e Entry) bool { return e.Key.CA == ca })
	if !ok {
		return
	}

	w.Header().Set(headerPCKCRLChain, encodeIssuerChain(e.Bundle.PCKCRLIssuerChain))
	// PEM unless DER is requested, as the PCS and the PCCS do.
	if strings.EqualFold(query.Get("encoding"), "der") {
		w.Header().Set("Content-Type", contentPKIX)
		w.Write(e.Bundle.PCKCRL)
		return
	}
	w.Header().Set("Content-Type", contentPEM)
	w.Write(encodeCRLPEM(e.Bundle.PCKCRL))
}

// serveRootCACRL sends the root CA CRL as hex of its DER, the form the
// PCCS sends (QuoteGeneration/pccs/services/rootcacrlService.js).
func (s *server) serveRootCACRL(w http.ResponseWriter, r *http.Request) {
	e, ok := s.newest(w, r, "root CA CRL", matchAll)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", contentHexCRL)
	w.Write([]byte(hex.EncodeToString(e.Bundle.RootCACRL)))
}

// ErrNotLoopback is returned by Listen for an address other hosts could
// reach when non-loopback listening was not allowed.
var ErrNotLoopback = errors.New("listen address is not loopback")

// Listen opens a TCP listener on addr, as "host:port" where port 0 picks a
// free one. Unless allowNonLoopback is set, the host must be a loopback
// address or "localhost", because the development server serves anyone
// who can reach it.
func Listen(addr string, allowNonLoopback bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("invalid listen address %q: %w", addr, err)
	}
	if !allowNonLoopback && !isLoopbackHost(host) {
		return nil, fmt.Errorf("%w: %q; use 127.0.0.1 or [::1], or allow other hosts explicitly", ErrNotLoopback, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	// "localhost" could resolve to something else; check what was bound.
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !allowNonLoopback && !tcp.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("%w: %q bound %s", ErrNotLoopback, addr, tcp)
	}
	return ln, nil
}

// IsLoopbackListener reports whether ln accepts only loopback connections.
func IsLoopbackListener(ln net.Listener) bool {
	tcp, ok := ln.Addr().(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve serves HTTP requests on ln with h until ctx is done, then shuts
// down, waiting up to five seconds for open requests.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serving collateral: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down the collateral server: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving collateral: %w", err)
	}
	return nil
}
