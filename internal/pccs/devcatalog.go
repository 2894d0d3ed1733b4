package pccs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tcs-project/tcs/internal/devpki"
)

// AuthorityCatalog serves the development collateral of a devpki
// authority, which a development root signs for the authority's one
// platform. It issues a bundle on first use and a new one once the time
// passes the middle of the current bundle's validity. So a client cache
// with a refresh margin of up to half the lifetime never holds a bundle
// close to expiry. It is safe for concurrent use.
type AuthorityCatalog struct {
	authority *devpki.Authority
	now       func() time.Time

	mu      sync.Mutex
	current *Entry
}

// NewAuthorityCatalog returns a catalog for a. now is the clock; nil
// means time.Now.
func NewAuthorityCatalog(a *devpki.Authority, now func() time.Time) *AuthorityCatalog {
	if now == nil {
		now = time.Now
	}
	return &AuthorityCatalog{authority: a, now: now}
}

// Entries returns the authority's current bundle.
func (c *AuthorityCatalog) Entries(context.Context) ([]Entry, error) {
	e, err := c.Entry()
	if err != nil {
		return nil, err
	}
	return []Entry{e}, nil
}

// Entry returns the current bundle, issuing a new one when needed.
func (c *AuthorityCatalog) Entry() (Entry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	now := c.now()
	if c.current != nil && now.Before(midpoint(c.current.Validity)) && c.current.Validity.Contains(now) {
		return *c.current, nil
	}
	b, err := c.authority.Collateral(now)
	if err != nil {
		return Entry{}, fmt.Errorf("issuing development collateral: %w", err)
	}
	e, err := Describe(b, string(c.authority.CAType()))
	if err != nil {
		return Entry{}, fmt.Errorf("development collateral: %w", err)
	}
	c.current = &e
	return e, nil
}

func midpoint(v Validity) time.Time {
	return v.IssueDate.Add(v.NextUpdate.Sub(v.IssueDate) / 2)
}
