package pccs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
)

// upstreamSource is a Source whose result a test can change. It counts the
// calls and can hold them until released.
type upstreamSource struct {
	mu     sync.Mutex
	bundle *collateral.Bundle
	err    error
	calls  int
	gate   chan struct{} // when non-nil, calls wait for it to close
}

func (u *upstreamSource) Collateral(ctx context.Context, fmspc [6]byte, ca string) (*collateral.Bundle, error) {
	u.mu.Lock()
	u.calls++
	gate := u.gate
	u.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.bundle, u.err
}

func (u *upstreamSource) set(b *collateral.Bundle, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.bundle, u.err = b, err
}

func (u *upstreamSource) callCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls
}

// fakeClock is a settable clock for the cache.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

const testMargin = 48 * time.Hour

func newTestCache(t *testing.T, up *upstreamSource, clock *fakeClock) *Cache {
	t.Helper()
	return NewCache(up, CacheOptions{
		RefreshMargin: testMargin,
		RetryInterval: time.Minute,
		Now:           clock.Now,
	})
}

func mustCollateral(t *testing.T, c *Cache) *collateral.Bundle {
	t.Helper()
	b, err := c.Collateral(context.Background(), testFMSPC, CAPlatform)
	if err != nil {
		t.Fatalf("Collateral: %v", err)
	}
	return b
}

func TestCacheServesFromMemory(t *testing.T) {
	first := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC})
	up := &upstreamSource{bundle: first}
	clock := &fakeClock{now: testIssue.Add(time.Hour)}
	c := newTestCache(t, up, clock)

	for i := range 3 {
		if got := mustCollateral(t, c); got != first {
			t.Fatalf("call %d returned another bundle", i)
		}
		clock.Set(clock.Now().Add(24 * time.Hour))
	}
	if n := up.callCount(); n != 1 {
		t.Errorf("upstream called %d times, want 1", n)
	}
}

func TestCacheRefreshesInMargin(t *testing.T) {
	first := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC})
	up := &upstreamSource{bundle: first}
	clock := &fakeClock{now: testIssue.Add(time.Hour)}
	c := newTestCache(t, up, clock)
	mustCollateral(t, c)

	second := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, issue: testNext.Add(-72 * time.Hour)})
	up.set(second, nil)

	// Just before the margin: still the first bundle, no upstream call.
	clock.Set(testNext.Add(-testMargin - time.Second))
	if got := mustCollateral(t, c); got != first {
		t.Fatal("bundle replaced before the refresh margin")
	}
	// Inside the margin: refreshed on demand.
	clock.Set(testNext.Add(-testMargin + time.Second))
	if got := mustCollateral(t, c); got != second {
		t.Fatal("bundle not refreshed inside the refresh margin")
	}
	if n := up.callCount(); n != 2 {
		t.Errorf("upstream called %d times, want 2", n)
	}
	v, ok := c.Validity(testFMSPC, CAPlatform)
	if !ok || !v.IssueDate.Equal(testNext.Add(-72*time.Hour)) {
		t.Errorf("Validity = %+v, %v; want the second bundle's issue date", v, ok)
	}
}

func TestCacheKeepsOldBundleOnFailedRefresh(t *testing.T) {
	first := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC})
	up := &upstreamSource{bundle: first}
	clock := &fakeClock{now: testIssue.Add(time.Hour)}
	c := newTestCache(t, up, clock)
	mustCollateral(t, c)

	down := fmt.Errorf("%w: GET http://127.0.0.1/tcb: status 503", ErrUnavailable)
	up.set(nil, down)
	clock.Set(testNext.Add(-time.Hour))
	if got := mustCollateral(t, c); got != first {
		t.Fatal("old bundle not served after a failed refresh")
	}
	if n := up.callCount(); n != 2 {
		t.Fatalf("upstream called %d times, want 2", n)
	}
	status := c.Status()
	if len(status) != 1 || !errors.Is(status[0].LastError, ErrUnavailable) {
		t.Errorf("Status = %+v, want one entry with the refresh error", status)
	}

	// Within RetryInterval the cache does not ask upstream again.
	clock.Set(testNext.Add(-time.Hour + 30*time.Second))
	mustCollateral(t, c)
	if n := up.callCount(); n != 2 {
		t.Errorf("upstream called %d times within the retry interval, want 2", n)
	}

	// After expiry the old bundle is no longer served.
	clock.Set(testNext)
	_, err := c.Collateral(context.Background(), testFMSPC, CAPlatform)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("after expiry: error %v, want ErrUnavailable", err)
	}
	if !IsTransient(err) {
		t.Errorf("after expiry: error %v is not transient", err)
	}
}

func TestCacheMissingReturnsUpstreamError(t *testing.T) {
	up := &upstreamSource{err: fmt.Errorf("%w: no such FMSPC", ErrNotFound)}
	c := newTestCache(t, up, &fakeClock{now: testIssue})
	_, err := c.Collateral(context.Background(), testFMSPC, CAPlatform)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("error %v, want ErrNotFound", err)
	}
	if len(c.Status()) != 0 {
		t.Error("failed fetch left an entry in the cache")
	}
}

func TestCacheSingleFlight(t *testing.T) {
	want := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC})
	gate := make(chan struct{})
	up := &upstreamSource{bundle: want, gate: gate}
	c := newTestCache(t, up, &fakeClock{now: testIssue.Add(time.Hour)})

	const callers = 32
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := c.Collateral(context.Background(), testFMSPC, CAPlatform)
			if err == nil && b != want {
				err = errors.New("got another bundle")
			}
			errs <- err
		}()
	}
	// Wait until the one upstream call is running, then release it.
	for up.callCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("caller: %v", err)
		}
	}
	if n := up.callCount(); n != 1 {
		t.Errorf("upstream called %d times for %d concurrent callers, want 1", n, callers)
	}
}

func TestCacheWaiterCancel(t *testing.T) {
	want := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC})
	gate := make(chan struct{})
	up := &upstreamSource{bundle: want, gate: gate}
	c := newTestCache(t, up, &fakeClock{now: testIssue.Add(time.Hour)})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Collateral(ctx, testFMSPC, CAPlatform)
		done <- err
	}()
	for up.callCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled caller: error %v, want context.Canceled", err)
	}

	// The fetch went on without the canceled caller and filled the cache.
	close(gate)
	if got := mustCollateral(t, c); got != want {
		t.Fatal("cache does not hold the bundle of the abandoned fetch")
	}
	if n := up.callCount(); n != 1 {
		t.Errorf("upstream called %d times, want 1", n)
	}
}

func TestCacheRefreshDue(t *testing.T) {
	up := &upstreamSource{bundle: newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC})}
	clock := &fakeClock{now: testIssue.Add(time.Hour)}
	c := newTestCache(t, up, clock)
	mustCollateral(t, c)

	if n := c.RefreshDue(context.Background()); n != 0 {
		t.Errorf("RefreshDue on a fresh bundle refreshed %d", n)
	}
	second := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, issue: testNext.Add(-time.Hour)})
	up.set(second, nil)
	clock.Set(testNext.Add(-time.Hour))
	if n := c.RefreshDue(context.Background()); n != 1 {
		t.Fatalf("RefreshDue inside the margin refreshed %d, want 1", n)
	}
	// The background refresh means no request waits on upstream.
	if got := mustCollateral(t, c); got != second {
		t.Error("Collateral after RefreshDue does not return the new bundle")
	}
	if n := up.callCount(); n != 2 {
		t.Errorf("upstream called %d times, want 2", n)
	}
}

func TestCacheRejectsWrongBundle(t *testing.T) {
	other := [6]byte{0x00, 0x60, 0x6a, 0x00, 0x00, 0x00}
	tests := map[string]*collateral.Bundle{
		"other fmspc": newSyntheticBundle(t, bundleSpec{fmspc: other}),
		"other ca":    newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, ca: CAProcessor}),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			c := newTestCache(t, &upstreamSource{bundle: b}, &fakeClock{now: testIssue})
			_, err := c.Collateral(context.Background(), testFMSPC, CAPlatform)
			if !errors.Is(err, ErrInvalidBundle) {
				t.Errorf("error %v, want ErrInvalidBundle", err)
			}
		})
	}
}

func TestCacheStatus(t *testing.T) {
	up := &upstreamSource{bundle: newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC})}
	clock := &fakeClock{now: testIssue.Add(time.Hour)}
	c := newTestCache(t, up, clock)
	mustCollateral(t, c)

	status := c.Status()
	if len(status) != 1 {
		t.Fatalf("Status has %d entries, want 1", len(status))
	}
	s := status[0]
	if s.Key != (Key{FMSPC: testFMSPC, CA: CAPlatform}) {
		t.Errorf("Key = %s", s.Key)
	}
	if !s.RefreshAt.Equal(testNext.Add(-testMargin)) {
		t.Errorf("RefreshAt = %s, want %s", s.RefreshAt, testNext.Add(-testMargin))
	}
	if got := s.Validity.Age(clock.Now()); got != time.Hour {
		t.Errorf("Age = %s, want 1h", got)
	}
	if got := s.Validity.Remaining(clock.Now()); got != testNext.Sub(testIssue)-time.Hour {
		t.Errorf("Remaining = %s", got)
	}
}

func BenchmarkCacheHit(b *testing.B) {
	up := &upstreamSource{bundle: newSyntheticBundle(b, bundleSpec{fmspc: testFMSPC})}
	clock := &fakeClock{now: testIssue.Add(time.Hour)}
	c := NewCache(up, CacheOptions{Now: clock.Now})
	ctx := context.Background()
	if _, err := c.Collateral(ctx, testFMSPC, CAPlatform); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Collateral(ctx, testFMSPC, CAPlatform); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestCacheLimitsRefreshesWithoutNewer(t *testing.T) {
	first := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC})
	up := &upstreamSource{bundle: first}
	clock := &fakeClock{now: testIssue.Add(time.Hour)}
	c := newTestCache(t, up, clock)
	mustCollateral(t, c)

	// Upstream has nothing newer yet: inside the margin the cache asks it
	// once per RetryInterval, not on every request.
	clock.Set(testNext.Add(-time.Hour))
	for range 5 {
		mustCollateral(t, c)
	}
	if n := up.callCount(); n != 2 {
		t.Errorf("upstream called %d times, want 2", n)
	}
	clock.Set(testNext.Add(-time.Hour + 2*time.Minute))
	mustCollateral(t, c)
	if n := up.callCount(); n != 3 {
		t.Errorf("upstream called %d times after the retry interval, want 3", n)
	}
}

func TestCacheKeepsNewerOnRollback(t *testing.T) {
	newer := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC})
	up := &upstreamSource{bundle: newer}
	clock := &fakeClock{now: testIssue.Add(time.Hour)}
	c := newTestCache(t, up, clock)
	mustCollateral(t, c)

	older := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, issue: testIssue.Add(-time.Hour), next: testNext})
	up.set(older, nil)
	if err := c.Refresh(context.Background(), testFMSPC, CAPlatform); err != nil {
		t.Fatal(err)
	}
	if got := mustCollateral(t, c); got != newer {
		t.Error("cache replaced its bundle with an older one")
	}
}
