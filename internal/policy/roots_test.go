package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCertificate writes a PEM certificate made at test time to path and
// returns it. A CA certificate is self-signed.
func writeCertificate(t *testing.T, path, commonName string, isCA bool) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             evalNow.Add(-time.Hour),
		NotAfter:              evalNow.Add(time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func writePolicy(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadDevelopmentRoots(t *testing.T) {
	dir := t.TempDir()
	relative := writeCertificate(t, filepath.Join(dir, "dev-root.pem"), "Relative Dev Root", true)
	absolutePath := filepath.Join(t.TempDir(), "other-root.pem")
	absolute := writeCertificate(t, absolutePath, "Absolute Dev Root", true)
	path := writePolicy(t, dir, `developmentRoots:
  - dev-root.pem
  - `+absolutePath+`
`+validRule)

	p, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(p.DevelopmentRoots) != 2 {
		t.Fatalf("%d development roots, want 2", len(p.DevelopmentRoots))
	}
	if !p.DevelopmentRoots[0].Equal(relative) || !p.DevelopmentRoots[1].Equal(absolute) {
		t.Errorf("development roots = %s, %s", p.DevelopmentRoots[0].Subject, p.DevelopmentRoots[1].Subject)
	}
	if len(p.Warnings) != 2 {
		t.Fatalf("Warnings = %q, want 2", p.Warnings)
	}
	if !strings.Contains(p.Warnings[0], "Relative Dev Root") || !strings.Contains(p.Warnings[0], "production") {
		t.Errorf("warning %q does not name the root and production", p.Warnings[0])
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	writeCertificate(t, filepath.Join(dir, "leaf.pem"), "Leaf", false)
	if err := os.WriteFile(filepath.Join(dir, "empty.pem"), []byte("no pem here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		root string
		want string
	}{
		"missing file": {root: "absent.pem", want: "no such file"},
		"not a ca":     {root: "leaf.pem", want: "not a CA certificate"},
		"no pem":       {root: "empty.pem", want: "contains no PEM CERTIFICATE block"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			path := writePolicy(t, dir, validRule+"developmentRoots:\n  - "+tt.root+"\n")
			_, err := Load(path)
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("error = %v, want ErrInvalidPolicy", err)
			}
			fieldErrs := FieldErrors(err)
			if len(fieldErrs) != 1 {
				t.Fatalf("%d field errors, want 1: %v", len(fieldErrs), err)
			}
			if fieldErrs[0].Line != 6 || fieldErrs[0].Field != "developmentRoots[0]" {
				t.Errorf("error at line %d field %q, want line 6 field developmentRoots[0]",
					fieldErrs[0].Line, fieldErrs[0].Field)
			}
			if fieldErrs[0].File != path {
				t.Errorf("file = %q, want %q", fieldErrs[0].File, path)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "absent.yaml")); err == nil || errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("Load(absent) = %v, want a read error", err)
	}

	big := writePolicy(t, dir, validRule+"# "+strings.Repeat("x", MaxPolicySize)+"\n")
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "maximum") {
		t.Errorf("Load(big) = %v, want a size error", err)
	}

	bad := writePolicy(t, dir, validRule+"    colour: blue\n")
	_, err := Load(bad)
	if err == nil || !strings.Contains(err.Error(), bad+":5: rules[0].colour: unknown field") {
		t.Errorf("Load(bad) = %v, want the file, line and field named", err)
	}
}
