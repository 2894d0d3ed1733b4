package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/enclave/token/softhsmtest"
	"github.com/tcs-project/tcs/internal/keyserver"
	"github.com/tcs-project/tcs/internal/keywrap"
)

const keystoreTestLabel = "tcs-keystore-test"

// newKeystoreToken initialises an empty SoftHSM2 token as an operator
// would before the first import, and returns the flags that select it.
func newKeystoreToken(t *testing.T) (*softhsmtest.Token, []string) {
	t.Helper()
	hsm := softhsmtest.New(t)
	store, err := keyserver.OpenPKCS11Store(token.Config{ModulePath: hsm.Module,
		TokenLabel: keystoreTestLabel, UserPIN: softhsmtest.UserPIN, SOPIN: softhsmtest.SOPIN})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	return hsm, []string{"--pkcs11-module", hsm.Module, "--token-label", keystoreTestLabel,
		"--user-pin-file", hsm.UserPINFile}
}

// runKeystoreCommand runs tcsctl keystore with args and returns its
// standard output.
func runKeystoreCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newKeystoreCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestKeystoreImportListDelete(t *testing.T) {
	hsm, tokenFlags := newKeystoreToken(t)
	dir := t.TempDir()
	enclave, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	keys := map[string]crypto.PrivateKey{}
	for _, alg := range []string{"rsa", "p-256", "p-384"} {
		cert, keyBlock := wrapTestCA(t, alg)
		signer := "tcsclusterissuer.tcs.intel.com/" + alg
		keyFile := writePEM(t, dir, alg+".key", keyBlock)
		certFile := writePEM(t, dir, alg+".crt", &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
		out, err := runKeystoreCommand(t, append([]string{"import", "--signer", signer,
			"--key", keyFile, "--cert", certFile}, tokenFlags...)...)
		if err != nil {
			t.Fatalf("import %s: %v: %s", alg, err, out)
		}
		if !strings.Contains(out, "Imported the CA of "+signer) {
			t.Errorf("import output = %q, want it to name %s", out, signer)
		}
		if keys[signer], err = keywrap.ParsePrivateKeyPEM(pem.EncodeToMemory(keyBlock)); err != nil {
			t.Fatal(err)
		}
	}

	out, err := runKeystoreCommand(t, append([]string{"list"}, tokenFlags...)...)
	if err != nil {
		t.Fatalf("list: %v: %s", err, out)
	}
	for signer := range keys {
		line := lineWith(out, signer)
		if line == "" || !strings.HasSuffix(strings.TrimSpace(line), "ok") {
			t.Errorf("list output %q has no usable line for %s", out, signer)
		}
	}
	if line := lineWith(out, "tcsclusterissuer.tcs.intel.com/p-384"); !strings.Contains(line, "ECDSA-P-384") {
		t.Errorf("list line %q does not name the key ECDSA-P-384", line)
	}

	// The key server wraps what the command imported.
	store, err := keyserver.OpenPKCS11Store(token.Config{ModulePath: hsm.Module,
		TokenLabel: keystoreTestLabel, UserPIN: softhsmtest.UserPIN})
	if err != nil {
		t.Fatal(err)
	}
	for signer, want := range keys {
		blob, _, err := store.WrapKey(context.Background(), signer, &enclave.PublicKey)
		if err != nil {
			t.Fatalf("WrapKey %s: %v", signer, err)
		}
		got, err := keywrap.Unwrap(enclave, blob)
		if err != nil {
			t.Fatalf("Unwrap %s: %v", signer, err)
		}
		if !want.(interface{ Equal(crypto.PrivateKey) bool }).Equal(got) {
			t.Errorf("%s: the wrapped key is not the imported key", signer)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	out, err = runKeystoreCommand(t, append([]string{"delete", "--signer", "tcsclusterissuer.tcs.intel.com/rsa"},
		tokenFlags...)...)
	if err != nil {
		t.Fatalf("delete: %v: %s", err, out)
	}
	out, err = runKeystoreCommand(t, append([]string{"list"}, tokenFlags...)...)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if lineWith(out, "tcsclusterissuer.tcs.intel.com/rsa") != "" {
		t.Errorf("list output %q still shows the deleted CA", out)
	}
	_, err = runKeystoreCommand(t, append([]string{"delete", "--signer", "tcsclusterissuer.tcs.intel.com/rsa"},
		tokenFlags...)...)
	if !errors.Is(err, keyserver.ErrUnknownSigner) {
		t.Errorf("second delete error = %v, want ErrUnknownSigner", err)
	}
}

func lineWith(out, signer string) string {
	for _, line := range strings.Split(out, "\n") {
		if fields := strings.Fields(line); len(fields) > 0 && fields[0] == signer {
			return line
		}
	}
	return ""
}

func TestKeystoreRejects(t *testing.T) {
	hsm, tokenFlags := newKeystoreToken(t)
	dir := t.TempDir()
	cert, keyBlock := wrapTestCA(t, "p-256")
	keyFile := writePEM(t, dir, "ca.key", keyBlock)
	certFile := writePEM(t, dir, "ca.crt", &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	_, otherBlock := wrapTestCA(t, "p-256")
	otherKey := writePEM(t, dir, "other.key", otherBlock)
	wrongPIN := filepath.Join(dir, "wrong.pin")
	if err := os.WriteFile(wrongPIN, []byte("0000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	importArgs := []string{"import", "--signer", "tcsclusterissuer.tcs.intel.com/ca", "--key", keyFile,
		"--cert", certFile}

	for name, tc := range map[string]struct {
		args    []string
		pinEnv  string
		wantErr string
		want    error
	}{
		"wrong pin": {args: append(slices.Clone(importArgs), "--pkcs11-module", hsm.Module,
			"--token-label", keystoreTestLabel, "--user-pin-file", wrongPIN), want: token.ErrPINIncorrect},
		"missing module": {args: append(slices.Clone(importArgs), "--pkcs11-module", filepath.Join(dir, "none.so"),
			"--token-label", keystoreTestLabel, "--user-pin-file", hsm.UserPINFile), want: token.ErrModuleNotFound},
		"unknown token": {args: append(slices.Clone(importArgs), "--pkcs11-module", hsm.Module,
			"--token-label", "no-such-token", "--user-pin-file", hsm.UserPINFile), want: token.ErrTokenNotFound},
		"no pin": {args: append(slices.Clone(importArgs), "--pkcs11-module", hsm.Module,
			"--token-label", keystoreTestLabel), wantErr: "$" + keyserver.EnvUserPIN},
		"key does not match": {args: append([]string{"import", "--signer", "tcsclusterissuer.tcs.intel.com/ca",
			"--key", otherKey, "--cert", certFile}, tokenFlags...), want: token.ErrCertificateMismatch},
		"key in place of certificate": {args: append([]string{"import", "--signer", "tcsclusterissuer.tcs.intel.com/ca",
			"--key", keyFile, "--cert", keyFile}, tokenFlags...), wantErr: "expected CERTIFICATE"},
		"missing key file": {args: append([]string{"import", "--signer", "tcsclusterissuer.tcs.intel.com/ca",
			"--key", filepath.Join(dir, "none.key"), "--cert", certFile}, tokenFlags...), wantErr: "none.key"},
		"no signer flag": {args: append([]string{"import", "--key", keyFile, "--cert", certFile}, tokenFlags...),
			wantErr: `"signer" not set`},
		"no module flag": {args: append(slices.Clone(importArgs), "--token-label", keystoreTestLabel),
			wantErr: `"pkcs11-module" not set`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(keyserver.EnvUserPIN, "")
			out, err := runKeystoreCommand(t, tc.args...)
			if err == nil {
				t.Fatalf("keystore %v succeeded, want an error: %s", tc.args, out)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error()+out, softhsmtest.UserPIN) {
				t.Error("the output contains the pin")
			}
		})
	}

	t.Run("pin from env", func(t *testing.T) {
		t.Setenv(keyserver.EnvUserPIN, softhsmtest.UserPIN)
		out, err := runKeystoreCommand(t, append(slices.Clone(importArgs), "--pkcs11-module", hsm.Module,
			"--token-label", keystoreTestLabel)...)
		if err != nil {
			t.Fatalf("import with $%s: %v: %s", keyserver.EnvUserPIN, err, out)
		}
		_, err = runKeystoreCommand(t, append(slices.Clone(importArgs), tokenFlags...)...)
		if !errors.Is(err, token.ErrExists) {
			t.Errorf("second import error = %v, want token.ErrExists", err)
		}
	})
}

func TestKeystoreRegistered(t *testing.T) {
	for _, sub := range []string{"import", "list", "delete"} {
		cmd, _, err := rootCmd.Find([]string{"keystore", sub})
		if err != nil || cmd.Name() != sub {
			t.Errorf("rootCmd.Find(keystore %s) = %v, %v, want the %s command", sub, cmd, err, sub)
		}
	}
}
