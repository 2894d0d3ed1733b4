// Package token keeps the enclave side's keys in a PKCS#11 token: the RSA
// quote key whose public half goes into an SGX quote, and the CA signing
// keys, either unwrapped from a KMRA blob or generated in the token. On SGX
// hardware the module is Intel's crypto-api-toolkit; in tests and the demo
// it is SoftHSM2. The same code serves both.
package token

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// maxIdleSessions is the number of open sessions a Token keeps for reuse.
// More concurrent operations open more sessions and close them after use.
const maxIdleSessions = 4

// modules shares one loaded, initialised module per path in the process,
// because PKCS#11 lets an application initialise a module once (a second
// C_Initialize returns CKR_CRYPTOKI_ALREADY_INITIALIZED), so every Token of
// that module must share it.
var modules = struct {
	sync.Mutex
	byPath map[string]*module
}{byPath: map[string]*module{}}

type module struct {
	ctx  *pkcs11.Ctx
	refs int
	// logins holds the user login of each slot that a Token of this
	// process has open. PKCS#11 keeps login state per application, not per
	// session, so all Tokens of one slot share it.
	logins map[uint]*login
}

// login is the shared user login of one slot.
type login struct {
	refs int
	// session stays open while a Token of the slot is open, because a token
	// logs out when its application's last session closes.
	session pkcs11.SessionHandle
	// pinHash lets a later Open of the same slot check its PIN, which the
	// token itself no longer checks once the user is logged in.
	pinHash [sha256.Size]byte
}

func acquireModule(path string) (*pkcs11.Ctx, error) {
	modules.Lock()
	defer modules.Unlock()
	if m, ok := modules.byPath[path]; ok {
		m.refs++
		return m.ctx, nil
	}

	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %v; install the module or correct the module path",
			ErrModuleNotFound, err)
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("%w: %s could not be loaded as a pkcs#11 module; check that it "+
			"is a shared library exporting C_GetFunctionList", ErrModuleNotFound, path)
	}
	if err := ctx.Initialize(); err != nil && !isRV(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		ctx.Destroy()
		return nil, fmt.Errorf("initialise pkcs#11 module %s: %w", path, err)
	}
	modules.byPath[path] = &module{ctx: ctx, refs: 1, logins: map[uint]*login{}}
	return ctx, nil
}

func releaseModule(path string) error {
	modules.Lock()
	defer modules.Unlock()
	m, ok := modules.byPath[path]
	if !ok {
		return nil
	}
	m.refs--
	if m.refs > 0 {
		return nil
	}
	delete(modules.byPath, path)
	err := m.ctx.Finalize()
	m.ctx.Destroy()
	if err != nil {
		return fmt.Errorf("finalise pkcs#11 module %s: %w", path, err)
	}
	return nil
}

// Token is one logged-in PKCS#11 token. Its methods are safe for
// concurrent use; Close waits for running operations to end.
type Token struct {
	modulePath string
	label      string
	ctx        *pkcs11.Ctx
	slot       uint

	idle chan pkcs11.SessionHandle

	mu     sync.RWMutex
	closed bool

	// kmraOnce and kmraErr cache the result of requireKMRAMechanisms.
	kmraOnce sync.Once
	kmraErr  error
}

// Open loads the module, finds the token labelled cfg.TokenLabel,
// initialises it when no such token exists (which needs cfg.SOPIN), and
// logs in as the user.
func Open(cfg Config) (*Token, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	ctx, err := acquireModule(cfg.ModulePath)
	if err != nil {
		return nil, err
	}
	t := &Token{modulePath: cfg.ModulePath, label: cfg.TokenLabel, ctx: ctx,
		idle: make(chan pkcs11.SessionHandle, maxIdleSessions)}
	if err := t.open(cfg); err != nil {
		_ = releaseModule(cfg.ModulePath)
		return nil, err
	}
	return t, nil
}

func (t *Token) open(cfg Config) error {
	slot, found, err := findSlot(t.ctx, cfg.TokenLabel)
	if err != nil {
		return err
	}
	if !found {
		if slot, err = initToken(t.ctx, cfg); err != nil {
			return err
		}
	}
	t.slot = slot
	return t.logIn(cfg.UserPIN)
}

// logIn logs the user in to the Token's slot, or joins the login of
// another Token of this process on the same slot after checking the PIN.
func (t *Token) logIn(pin string) error {
	modules.Lock()
	defer modules.Unlock()
	m := modules.byPath[t.modulePath]
	pinHash := sha256.Sum256([]byte(pin))
	if l, ok := m.logins[t.slot]; ok {
		if subtle.ConstantTimeCompare(l.pinHash[:], pinHash[:]) != 1 {
			return fmt.Errorf("log in to token %q: %w: the pin differs from the one this "+
				"process logged in with", t.label, ErrPINIncorrect)
		}
		l.refs++
		return nil
	}

	s, err := t.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("open a session on token %q: %w", t.label, err)
	}
	err = t.ctx.Login(s, pkcs11.CKU_USER, pin)
	if err != nil && !isRV(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		_ = t.ctx.CloseSession(s)
		return loginError(t.label, err)
	}
	m.logins[t.slot] = &login{refs: 1, session: s, pinHash: pinHash}
	return nil
}

// logOut leaves the slot's shared login and logs out with its last Token.
func (t *Token) logOut() {
	modules.Lock()
	defer modules.Unlock()
	m := modules.byPath[t.modulePath]
	l, ok := m.logins[t.slot]
	if !ok {
		return
	}
	l.refs--
	if l.refs > 0 {
		return
	}
	delete(m.logins, t.slot)
	_ = t.ctx.Logout(l.session)
	_ = t.ctx.CloseSession(l.session)
}

// findSlot returns the slot whose initialised token has the label.
func findSlot(ctx *pkcs11.Ctx, label string) (uint, bool, error) {
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, false, fmt.Errorf("list pkcs#11 slots: %w", err)
	}
	for _, slot := range slots {
		info, err := ctx.GetTokenInfo(slot)
		if err != nil {
			return 0, false, fmt.Errorf("read the token information of slot %d: %w", slot, err)
		}
		if info.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 && tokenLabel(info) == label {
			return slot, true, nil
		}
	}
	return 0, false, nil
}

func tokenLabel(info pkcs11.TokenInfo) string {
	return strings.TrimRight(info.Label, " \x00")
}

// initToken initialises a token with the configured label and user PIN in
// the first slot whose token is not initialised yet.
func initToken(ctx *pkcs11.Ctx, cfg Config) (uint, error) {
	if cfg.SOPIN == "" {
		return 0, fmt.Errorf("%w: no token is labelled %q and no security officer pin is "+
			"configured to initialise one", ErrTokenNotFound, cfg.TokenLabel)
	}
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("list pkcs#11 slots: %w", err)
	}
	free, ok := uint(0), false
	for _, slot := range slots {
		info, err := ctx.GetTokenInfo(slot)
		if err != nil {
			return 0, fmt.Errorf("read the token information of slot %d: %w", slot, err)
		}
		if info.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			free, ok = slot, true
			break
		}
	}
	if !ok {
		return 0, fmt.Errorf("%w: no token is labelled %q and no slot has an uninitialised token",
			ErrTokenNotFound, cfg.TokenLabel)
	}
	if err := ctx.InitToken(free, cfg.SOPIN, cfg.TokenLabel); err != nil {
		return 0, fmt.Errorf("initialise token %q in slot %d: %w", cfg.TokenLabel, free, err)
	}

	// SoftHSM2 moves a token to a new slot ID when it is initialised, so
	// find it again by label.
	slot, found, err := findSlot(ctx, cfg.TokenLabel)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%w: token %q is not listed after its initialisation",
			ErrTokenNotFound, cfg.TokenLabel)
	}
	if err := initUserPIN(ctx, slot, cfg); err != nil {
		return 0, err
	}
	return slot, nil
}

func initUserPIN(ctx *pkcs11.Ctx, slot uint, cfg Config) error {
	s, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("open a session on token %q: %w", cfg.TokenLabel, err)
	}
	defer func() { _ = ctx.CloseSession(s) }()
	if err := ctx.Login(s, pkcs11.CKU_SO, cfg.SOPIN); err != nil {
		return fmt.Errorf("log in as security officer to token %q: %w", cfg.TokenLabel, err)
	}
	defer func() { _ = ctx.Logout(s) }()
	if err := ctx.InitPIN(s, cfg.UserPIN); err != nil {
		return fmt.Errorf("set the user pin of token %q: %w", cfg.TokenLabel, err)
	}
	return nil
}

// Label returns the token label.
func (t *Token) Label() string { return t.label }

// Close logs out, closes the token's sessions and, with the last Token of
// the module in this process, finalises and unloads the module.
func (t *Token) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()

	close(t.idle)
	for s := range t.idle {
		_ = t.ctx.CloseSession(s)
	}
	t.logOut()
	return releaseModule(t.modulePath)
}

// withSession runs fn on a session that no other goroutine uses meanwhile.
func (t *Token) withSession(fn func(s pkcs11.SessionHandle) error) error {
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

	err := fn(s)
	if isRV(err, pkcs11.CKR_SESSION_HANDLE_INVALID) || isRV(err, pkcs11.CKR_SESSION_CLOSED) {
		return err
	}
	select {
	case t.idle <- s:
	default:
		_ = t.ctx.CloseSession(s)
	}
	return err
}

// errorsJoin joins a primary error with a cleanup error, keeping both.
func errorsJoin(primary, cleanup error) error {
	if cleanup == nil {
		return primary
	}
	return errors.Join(primary, fmt.Errorf("clean up: %w", cleanup))
}
