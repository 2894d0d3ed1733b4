package token

import (
	"fmt"

	"github.com/miekg/pkcs11"
)

// WithSession runs fn with the module and a logged-in session of the token
// that no other goroutine uses meanwhile, for PKCS#11 operations that this
// package does not offer, such as the key server's wrapping of CA keys.
//
// fn must not close the session or log out. On success the session goes
// back to the pool, so fn must destroy the session objects it made and end
// any search or operation it started. A session on which fn returns an
// error is closed instead, which destroys whatever fn left in it.
func (t *Token) WithSession(fn func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle) error) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return ErrClosed
	}

	var s pkcs11.SessionHandle
	select {
	case s = <-t.idle:
	default:
		var err error
		s, err = t.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return fmt.Errorf("open a session on token %q: %w", t.label, err)
		}
	}

	if err := fn(t.ctx, s); err != nil {
		_ = t.ctx.CloseSession(s)
		return err
	}
	select {
	case t.idle <- s:
	default:
		_ = t.ctx.CloseSession(s)
	}
	return nil
}
