package keyserver_test

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/enclave/token/softhsmtest"
	"github.com/tcs-project/tcs/internal/keyserver"
)

// TestProvisionFromPKCS11Store runs the key server on the real API server
// with its CA key in a SoftHSM2 token and nowhere else.
func TestProvisionFromPKCS11Store(t *testing.T) {
	w := newWorld(t)
	f := newPKCS11Fixture(t)
	base := filepath.Join(w.keyDir, keyserver.FileBase(signerEC))
	keyPEM, err := os.ReadFile(base + ".key")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(base + ".crt")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.ImportCAPEM(signerEC, keyPEM, certPEM); err != nil {
		t.Fatalf("ImportCAPEM: %v", err)
	}
	// Without the key file only the token can serve the key.
	if err := os.Remove(base + ".key"); err != nil {
		t.Fatal(err)
	}

	w.startKeyServer(t, false, func(d *keyserver.Decider) { d.Keys = f.store })
	e := newEnclave(t)
	quote := e.quote(t, w.platforms["main"])
	qa := request(t, "pkcs11-store", e, quote, signerEC)
	got := waitAnswer(t, qa, 30*time.Second)
	checkProvisioned(t, w, e, got, quote)
	if n := len(secretsOf(t, got)); n != 1 {
		t.Errorf("%d Secrets, want 1", n)
	}
}

func TestOptionsValidatePKCS11(t *testing.T) {
	pinFile := filepath.Join(t.TempDir(), "user.pin")
	valid := keyserver.Options{
		Namespaces: requestNamespace, PolicyFile: "policy.yaml", PCCSURL: "http://127.0.0.1:8081",
		ReceiptKeyFile: "receipt.pem", ClaimsNamespace: claimsNamespace, MaxConcurrent: 1,
		KeyStore: keyserver.KeyStorePKCS11, PKCS11Module: softhsmtest.DefaultModule,
		PKCS11TokenLabel: pkcs11TokenLabel, PKCS11UserPINFile: pinFile,
	}
	for name, tc := range map[string]struct {
		edit    func(*keyserver.Options)
		pinEnv  string
		wantErr string
	}{
		"valid":        {edit: func(*keyserver.Options) {}},
		"pin from env": {edit: func(o *keyserver.Options) { o.PKCS11UserPINFile = "" }, pinEnv: "1234"},
		"no module":    {edit: func(o *keyserver.Options) { o.PKCS11Module = "" }, wantErr: "--pkcs11-module is required"},
		"no label":     {edit: func(o *keyserver.Options) { o.PKCS11TokenLabel = "" }, wantErr: "--token-label is required"},
		"no pin": {edit: func(o *keyserver.Options) { o.PKCS11UserPINFile = "" },
			wantErr: "set --user-pin-file or $" + keyserver.EnvUserPIN},
		"unknown store": {edit: func(o *keyserver.Options) { o.KeyStore = "hsm" }, wantErr: `use "dir", "secret" or "pkcs11"`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(keyserver.EnvUserPIN, tc.pinEnv)
			if tc.pinEnv == "" {
				_ = os.Unsetenv(keyserver.EnvUserPIN)
			}
			o := valid
			tc.edit(&o)
			err := o.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// TestOptionsNewPKCS11 builds the key server from flags with
// --key-store=pkcs11 and checks that the store wraps and closes with the
// manager.
func TestOptionsNewPKCS11(t *testing.T) {
	w := newWorld(t)
	hsm := softhsmtest.New(t)
	// Initialise the token as an operator would before the key server
	// starts, and import one CA.
	admin, err := keyserver.OpenPKCS11Store(token.Config{ModulePath: hsm.Module,
		TokenLabel: pkcs11TokenLabel, UserPIN: softhsmtest.UserPIN, SOPIN: softhsmtest.SOPIN})
	if err != nil {
		t.Fatal(err)
	}
	key, cert := newCA(t, "P-256", pkcs11Signer)
	err = admin.ImportCA(pkcs11Signer, key, []*x509.Certificate{cert})
	if closeErr := admin.Close(); err != nil || closeErr != nil {
		t.Fatalf("import the CA: %v, close: %v", err, closeErr)
	}

	receiptDER, err := x509.MarshalPKCS8PrivateKey(w.receiptKey)
	if err != nil {
		t.Fatal(err)
	}
	receiptFile := filepath.Join(w.dir, "receipt.pem")
	writePEM(t, receiptFile, "PRIVATE KEY", receiptDER)
	opts := keyserver.Options{
		Namespaces: requestNamespace, PolicyFile: w.policyPath, PCCSURL: w.platforms["main"].pccs.url(),
		ReceiptKeyFile: receiptFile, ClaimsNamespace: claimsNamespace, MaxConcurrent: 1,
		KeyStore: keyserver.KeyStorePKCS11, PKCS11Module: hsm.Module,
		PKCS11TokenLabel: pkcs11TokenLabel, PKCS11UserPINFile: hsm.UserPINFile,
	}
	if err := opts.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}

	t.Run("wrong pin", func(t *testing.T) {
		wrong := filepath.Join(t.TempDir(), "wrong.pin")
		if err := os.WriteFile(wrong, []byte("0000\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		o := opts
		o.PKCS11UserPINFile = wrong
		if _, err := o.New(newTestManager(t)); !errors.Is(err, token.ErrPINIncorrect) {
			t.Errorf("New error = %v, want token.ErrPINIncorrect", err)
		}
	})

	mgr := newTestManager(t)
	server, err := opts.New(mgr)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	store, ok := server.Decider.Keys.(*keyserver.PKCS11Store)
	if !ok {
		t.Fatalf("Decider.Keys is a %T, want *keyserver.PKCS11Store", server.Decider.Keys)
	}
	e := newEnclave(t)
	if _, _, err := store.WrapKey(context.Background(), pkcs11Signer, &e.key.PublicKey); err != nil {
		t.Fatalf("WrapKey: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	// Elected closes once the manager has started its runnables.
	select {
	case <-mgr.Elected():
	case <-time.After(30 * time.Second):
		t.Fatal("the manager did not start within 30s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("manager: %v", err)
	}
	if _, _, err := store.WrapKey(context.Background(), pkcs11Signer, &e.key.PublicKey); !errors.Is(err, token.ErrClosed) {
		t.Errorf("WrapKey after the manager stopped: error %v, want token.ErrClosed", err)
	}
}

func newTestManager(t *testing.T) ctrl.Manager {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             ctrlConfigForTests(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return mgr
}
