package verify

import (
	"bytes"
	"container/list"
	"hash/maphash"
	"sync"
)

// DefaultCacheEntries is the number of verified PCK chains and of verified
// collateral bundles that a Verifier keeps, each. A PCK chain is one per
// platform and a bundle one per FMSPC and CA, so this covers a fleet of a
// thousand platforms. An entry keeps a copy of its input: about 4 KB for a
// chain and 15 to 25 KB for Intel's collateral, so full caches take an
// estimated 30 MB.
const DefaultCacheEntries = 1024

// cache is a concurrency-safe LRU map from input bytes to what verifying
// them produced. Keys are a seeded hash, and a hit is confirmed by
// comparing the stored input in full, so a colliding input never gets
// another's result.
type cache[V any] struct {
	mu      sync.Mutex
	seed    maphash.Seed
	max     int
	order   *list.List // front is most recently used
	entries map[uint64]*list.Element
}

type cacheEntry[V any] struct {
	hash  uint64
	input [][]byte
	value V
}

func newCache[V any](max int) *cache[V] {
	return &cache[V]{
		seed:    maphash.MakeSeed(),
		max:     max,
		order:   list.New(),
		entries: make(map[uint64]*list.Element),
	}
}

func (c *cache[V]) hash(input [][]byte) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	for _, part := range input {
		// The length separates the parts, so that moving bytes from one
		// part to the next changes the hash.
		var n [8]byte
		for i, l := 0, uint64(len(part)); i < 8; i, l = i+1, l>>8 {
			n[i] = byte(l)
		}
		h.Write(n[:])
		h.Write(part)
	}
	return h.Sum64()
}

// get returns the value stored for input, if any.
func (c *cache[V]) get(input [][]byte) (V, bool) {
	key := c.hash(input)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cacheEntry[V])
		if sameInput(e.input, input) {
			c.order.MoveToFront(el)
			return e.value, true
		}
	}
	var zero V
	return zero, false
}

// put stores value for a copy of input, evicting the least recently used
// entry when the cache is full.
func (c *cache[V]) put(input [][]byte, value V) {
	if c.max <= 0 {
		return
	}
	stored := make([][]byte, len(input))
	for i, part := range input {
		stored[i] = bytes.Clone(part)
	}
	key := c.hash(input)

	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
		delete(c.entries, key)
	}
	for c.order.Len() >= c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry[V]).hash)
	}
	c.entries[key] = c.order.PushFront(&cacheEntry[V]{hash: key, input: stored, value: value})
}

func (c *cache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func sameInput(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
