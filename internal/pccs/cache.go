package pccs

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
)

// Source returns the collateral for one platform. The Client, the Cache and
// the DirSource implement it. fmspc is the platform's FMSPC from its PCK
// certificate; ca is CAPlatform or CAProcessor. The returned bundle may be
// shared with other callers, so callers must not modify it.
type Source interface {
	Collateral(ctx context.Context, fmspc [fmspcLen]byte, ca string) (*collateral.Bundle, error)
}

// Defaults for CacheOptions.
const (
	// DefaultRefreshMargin is how long before the earliest nextUpdate a
	// bundle is refreshed. Intel issues TCB Info and QE Identity with
	// about 30 days of validity, so a day leaves room for many retries.
	DefaultRefreshMargin = 24 * time.Hour
	// DefaultRetryInterval is the minimum time between two refreshes of
	// one bundle inside its refresh margin.
	DefaultRetryInterval = time.Minute
	// DefaultFetchTimeout bounds one fetch from the upstream Source.
	DefaultFetchTimeout = 2 * time.Minute
	// DefaultPollInterval is how often Run looks for bundles due for
	// refresh.
	DefaultPollInterval = time.Minute
)

// CacheOptions configures a Cache. The zero value gives the defaults.
type CacheOptions struct {
	// RefreshMargin is how long before its earliest nextUpdate a bundle
	// is refreshed.
	RefreshMargin time.Duration
	// RetryInterval is the minimum time between two refreshes of one
	// bundle inside its refresh margin.
	RetryInterval time.Duration
	// FetchTimeout bounds each fetch from the upstream Source.
	FetchTimeout time.Duration
	// PollInterval is how often Run checks for bundles due for refresh.
	PollInterval time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// Logger receives refresh failures that the cache absorbs. Nil means
	// no logging.
	Logger *slog.Logger
	// Validate, when set, checks each bundle fetched from upstream before
	// the cache keeps it, typically its signatures. A bundle it rejects is
	// never cached, so one damaged response is not served until the next
	// update; the fetch fails with ErrInvalidBundle.
	Validate func(*collateral.Bundle) error
}

// Cache keeps bundles from an upstream Source in memory and serves each
// until RefreshMargin before its earliest nextUpdate. Then it fetches a new
// one; while that fails it serves the old bundle, but only until the old
// bundle's nextUpdate. Concurrent requests for one key share one upstream
// fetch. A Cache is safe for concurrent use.
type Cache struct {
	upstream Source
	opts     CacheOptions

	mu       sync.Mutex
	entries  map[Key]*cacheEntry
	inflight map[Key]*fetchCall
}

type cacheEntry struct {
	entry     Entry
	fetchedAt time.Time
	// lastAttempt is when the last fetch for the key ended, whatever its
	// outcome. Inside the refresh margin the cache asks upstream again only
	// RetryInterval after it, so that a failing upstream, or one with
	// nothing newer yet, is not asked on every request.
	lastAttempt time.Time
	lastErr     error
}

// fetchCall is one upstream fetch that concurrent callers wait on.
type fetchCall struct {
	done  chan struct{}
	entry Entry
	err   error
}

// NewCache returns a cache in front of upstream.
func NewCache(upstream Source, opts CacheOptions) *Cache {
	if opts.RefreshMargin <= 0 {
		opts.RefreshMargin = DefaultRefreshMargin
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = DefaultRetryInterval
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = DefaultFetchTimeout
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{
		upstream: upstream,
		opts:     opts,
		entries:  map[Key]*cacheEntry{},
		inflight: map[Key]*fetchCall{},
	}
}

// Collateral returns the cached bundle for the key while it is fresh. A
// bundle inside its refresh margin is refreshed first, at most once per
// RetryInterval, and the old one is returned if that fails. An expired or
// missing bundle is fetched, and a failure is returned as the upstream
// error. A bundle that upstream returns already expired is returned as it
// is, so that the verifier reports it as expired.
func (c *Cache) Collateral(ctx context.Context, fmspc [fmspcLen]byte, ca string) (*collateral.Bundle, error) {
	ca, err := ParseCA(ca)
	if err != nil {
		return nil, err
	}
	key := Key{FMSPC: fmspc, CA: ca}
	now := c.opts.Now()

	c.mu.Lock()
	cached := c.entries[key]
	var old Entry
	var lastAttempt time.Time
	if cached != nil {
		old, lastAttempt = cached.entry, cached.lastAttempt
	}
	c.mu.Unlock()

	// Fresh: serve from memory.
	if cached != nil && now.Before(c.refreshAt(old)) {
		return old.Bundle, nil
	}

	// Inside the refresh margin but still valid: refresh unless another
	// attempt ended recently, and fall back to the old bundle.
	if cached != nil && now.Before(old.Validity.NextUpdate) {
		if c.attemptedRecently(lastAttempt, now) {
			return old.Bundle, nil
		}
		fresh, err := c.fetch(ctx, key)
		if err != nil {
			return old.Bundle, nil
		}
		return fresh.Bundle, nil
	}

	// Missing or expired: the caller must wait for the upstream.
	fresh, err := c.fetch(ctx, key)
	if err != nil {
		if cached != nil {
			return nil, fmt.Errorf("cached collateral for %s expired at %s and the refresh failed: %w",
				key, old.Validity.NextUpdate.UTC().Format(time.RFC3339), err)
		}
		return nil, err
	}
	return fresh.Bundle, nil
}

func (c *Cache) attemptedRecently(lastAttempt, now time.Time) bool {
	return !lastAttempt.IsZero() && now.Before(lastAttempt.Add(c.opts.RetryInterval))
}

func (c *Cache) refreshAt(e Entry) time.Time {
	return e.Validity.NextUpdate.Add(-c.opts.RefreshMargin)
}

// Refresh fetches the bundle for the key from upstream now, whatever the
// state of the cached one. It stores the result unless that is older than
// a cached bundle that is still valid.
func (c *Cache) Refresh(ctx context.Context, fmspc [fmspcLen]byte, ca string) error {
	ca, err := ParseCA(ca)
	if err != nil {
		return err
	}
	_, err = c.fetch(ctx, Key{FMSPC: fmspc, CA: ca})
	return err
}

// RefreshDue refreshes every cached bundle whose refresh time has come and
// whose last fetch ended more than RetryInterval ago. It returns the
// number of bundles it tried to refresh.
func (c *Cache) RefreshDue(ctx context.Context) int {
	now := c.opts.Now()
	var due []Key
	c.mu.Lock()
	for key, e := range c.entries {
		if now.Before(c.refreshAt(e.entry)) {
			continue
		}
		if c.attemptedRecently(e.lastAttempt, now) {
			continue
		}
		due = append(due, key)
	}
	c.mu.Unlock()

	for _, key := range due {
		// fetch records and logs a failure.
		_, _ = c.fetch(ctx, key)
	}
	return len(due)
}

// Run calls RefreshDue every PollInterval until ctx is done, so that
// bundles are renewed before a request needs them.
func (c *Cache) Run(ctx context.Context) {
	ticker := time.NewTicker(c.opts.PollInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			c.RefreshDue(ctx)
		}
	}
}

// fetch gets the bundle for key from upstream, sharing one call among
// concurrent callers. The upstream call does not stop when the first
// caller's context ends, because other callers may be waiting on it.
func (c *Cache) fetch(ctx context.Context, key Key) (Entry, error) {
	c.mu.Lock()
	call, running := c.inflight[key]
	if !running {
		call = &fetchCall{done: make(chan struct{})}
		c.inflight[key] = call
		go c.runFetch(context.WithoutCancel(ctx), key, call)
	}
	c.mu.Unlock()

	select {
	case <-call.done:
		return call.entry, call.err
	case <-ctx.Done():
		return Entry{}, fmt.Errorf("waiting for collateral %s: %w", key, ctx.Err())
	}
}

func (c *Cache) runFetch(ctx context.Context, key Key, call *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.FetchTimeout)
	defer cancel()

	entry, err := c.fetchEntry(ctx, key)
	now := c.opts.Now()

	c.mu.Lock()
	cached := c.entries[key]
	kept := false
	switch {
	case err != nil && cached != nil:
		cached.lastAttempt = now
		cached.lastErr = err
	case err != nil:
	case cached != nil && entry.Validity.IssueDate.Before(cached.entry.Validity.IssueDate) &&
		cached.entry.Validity.Contains(now):
		// Never roll back to older collateral while the newer one is
		// valid: older TCB Info may rate a platform better than it is.
		cached.lastAttempt = now
		entry, kept = cached.entry, true
	default:
		c.entries[key] = &cacheEntry{entry: entry, fetchedAt: now, lastAttempt: now}
	}
	delete(c.inflight, key)
	c.mu.Unlock()

	if err != nil {
		c.opts.Logger.Warn("collateral refresh failed", "fmspc", FormatFMSPC(key.FMSPC), "ca", key.CA, "error", err)
	}
	if kept {
		c.opts.Logger.Warn("upstream returned collateral older than the cached one; keeping the cached one",
			"fmspc", FormatFMSPC(key.FMSPC), "ca", key.CA,
			"cachedIssueDate", entry.Validity.IssueDate.UTC().Format(time.RFC3339))
	}
	call.entry, call.err = entry, err
	close(call.done)
}

func (c *Cache) fetchEntry(ctx context.Context, key Key) (Entry, error) {
	b, err := c.upstream.Collateral(ctx, key.FMSPC, key.CA)
	if err != nil {
		return Entry{}, err
	}
	if c.opts.Validate != nil {
		if err := c.opts.Validate(b); err != nil {
			return Entry{}, fmt.Errorf("%w: collateral %s from upstream failed validation and was not cached: %v",
				ErrInvalidBundle, key, err)
		}
	}
	entry, err := Describe(b, key.CA)
	if err != nil {
		return Entry{}, fmt.Errorf("collateral for %s from upstream: %w", key, err)
	}
	if entry.Key != key {
		return Entry{}, fmt.Errorf("%w: upstream returned collateral for %s when asked for %s",
			ErrInvalidBundle, entry.Key, key)
	}
	return entry, nil
}

// CacheStatus describes one cached bundle, for metrics and status pages.
type CacheStatus struct {
	Key      Key
	Validity Validity
	// FetchedAt is when the bundle was stored.
	FetchedAt time.Time
	// RefreshAt is when the cache starts to refresh the bundle.
	RefreshAt time.Time
	// LastError is the error of the last failed refresh since the bundle
	// was stored, or nil.
	LastError error
}

// Status lists the cached bundles, sorted by key.
func (c *Cache) Status() []CacheStatus {
	c.mu.Lock()
	list := make([]CacheStatus, 0, len(c.entries))
	for key, e := range c.entries {
		list = append(list, CacheStatus{
			Key:       key,
			Validity:  e.entry.Validity,
			FetchedAt: e.fetchedAt,
			RefreshAt: c.refreshAt(e.entry),
			LastError: e.lastErr,
		})
	}
	c.mu.Unlock()

	sort.Slice(list, func(i, j int) bool { return list[i].Key.String() < list[j].Key.String() })
	return list
}

// Validity returns the validity window of the cached bundle for the key.
func (c *Cache) Validity(fmspc [fmspcLen]byte, ca string) (Validity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[Key{FMSPC: fmspc, CA: ca}]
	if !ok {
		return Validity{}, false
	}
	return e.entry.Validity, true
}
