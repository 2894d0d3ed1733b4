package verify

import (
	"sync"
	"testing"
)

func TestCacheGetPut(t *testing.T) {
	c := newCache[int](2)
	a, b, d := [][]byte{[]byte("a")}, [][]byte{[]byte("b")}, [][]byte{[]byte("d")}
	c.put(a, 1)
	c.put(b, 2)
	if v, ok := c.get(a); !ok || v != 1 {
		t.Errorf("get(a) = %d, %v, want 1, true", v, ok)
	}
	c.put(d, 3) // evicts b, the least recently used
	if _, ok := c.get(b); ok {
		t.Error("b is still cached after eviction")
	}
	if c.len() != 2 {
		t.Errorf("len = %d, want 2", c.len())
	}
	if _, ok := c.get([][]byte{[]byte("a"), nil}); ok {
		t.Error("an input with another part count hit the cache")
	}
}

func TestCacheSplitParts(t *testing.T) {
	c := newCache[int](4)
	c.put([][]byte{[]byte("ab"), []byte("c")}, 1)
	if _, ok := c.get([][]byte{[]byte("a"), []byte("bc")}); ok {
		t.Error("moving a byte between parts hit the cache")
	}
}

func TestCacheCopiesInput(t *testing.T) {
	c := newCache[int](4)
	in := []byte("abc")
	c.put([][]byte{in}, 1)
	in[0] = 'x'
	if _, ok := c.get([][]byte{[]byte("abc")}); !ok {
		t.Error("changing the caller's slice changed the cached input")
	}
}

func TestVerifyWarmCacheReused(t *testing.T) {
	samples := realSamples(t)
	v := New(Config{})
	for range 3 {
		for _, s := range samples {
			r, err := v.Verify(s.quote, s.collateral, s.at)
			if err != nil || r.TCBStatus != s.status {
				t.Fatalf("%s: status %q, err %v", s.name, r.TCBStatus, err)
			}
		}
	}
	if n := v.chains.len(); n != len(samples) {
		t.Errorf("%d cached chains, want %d", n, len(samples))
	}
	if n := v.collateral.len(); n != len(samples) {
		t.Errorf("%d cached bundles, want %d", n, len(samples))
	}
}

func TestVerifyCacheBounded(t *testing.T) {
	samples := realSamples(t)
	v := New(Config{})
	v.chains, v.collateral = newCache[*pckChain](1), newCache[*verifiedCollateral](1)
	for range 2 {
		for _, s := range samples {
			if _, err := v.Verify(s.quote, s.collateral, s.at); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
	}
	if v.chains.len() != 1 || v.collateral.len() != 1 {
		t.Errorf("cache sizes %d and %d, want 1 and 1", v.chains.len(), v.collateral.len())
	}
}

func TestVerifyConcurrent(t *testing.T) {
	samples := realSamples(t)
	v := New(Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				s := samples[(g+i)%len(samples)]
				r, err := v.Verify(s.quote, s.collateral, s.at)
				if err == nil && r.TCBStatus != s.status {
					err = &Error{Step: StepTCBEvaluation, Kind: ErrNoMatchingTCBLevel, Value: r.TCBStatus}
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
