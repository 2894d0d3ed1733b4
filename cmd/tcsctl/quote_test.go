package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// quoteSample is one folder of $TCS_REAL_QUOTES.
type quoteSample struct {
	dir, at, status string
}

func quoteSamples(t *testing.T) []quoteSample {
	t.Helper()
	dir := os.Getenv("TCS_REAL_QUOTES")
	if dir == "" {
		t.Skip("TCS_REAL_QUOTES is not set: it names the folder of real SGX quotes with their collateral")
	}
	expects, err := filepath.Glob(filepath.Join(dir, "*", "expect"))
	if err != nil || len(expects) == 0 {
		t.Fatalf("no samples in %s: %v", dir, err)
	}
	var out []quoteSample
	for _, p := range expects {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(b))
		out = append(out, quoteSample{dir: filepath.Dir(p), at: f[0], status: f[1]})
	}
	return out
}

func TestQuoteVerifyJSON(t *testing.T) {
	for _, s := range quoteSamples(t) {
		var out bytes.Buffer
		q := filepath.Join(s.dir, "quote.bin")
		opts := quoteVerifyOptions{collateralPath: filepath.Join(s.dir, "collateral.json"), at: s.at, jsonOutput: true, repeat: 3}
		if err := runQuoteVerify(&out, opts, []string{q, q}); err != nil {
			t.Fatalf("%s: %v", s.dir, err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d output lines, want 2: %q", len(lines), out.String())
		}
		var v quoteVerdict
		if err := json.Unmarshal([]byte(lines[0]), &v); err != nil {
			t.Fatal(err)
		}
		if !v.Verified || v.Status != s.status || v.File != q || v.Step != "" || v.Error != "" {
			t.Errorf("%s: verdict %+v, want verified with status %s", s.dir, v, s.status)
		}
	}
}

func TestQuoteVerifyExitCodes(t *testing.T) {
	samples := quoteSamples(t)
	s := samples[0]
	q := filepath.Join(s.dir, "quote.bin")
	col := filepath.Join(s.dir, "collateral.json")
	tmp := t.TempDir()
	b64 := filepath.Join(tmp, "quote.b64")
	raw, err := os.ReadFile(q)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b64, []byte(base64.StdEncoding.EncodeToString(raw)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(tmp, "bad.bin")
	flipped := bytes.Clone(raw)
	flipped[100] ^= 1
	if err := os.WriteFile(bad, flipped, 0o600); err != nil {
		t.Fatal(err)
	}

	cases := map[string]struct {
		opts  quoteVerifyOptions
		files []string
		code  int
	}{
		"verified base64":    {quoteVerifyOptions{collateralPath: col, at: s.at, repeat: 1}, []string{b64}, 0},
		"one rejected":       {quoteVerifyOptions{collateralPath: col, at: s.at, repeat: 1}, []string{q, bad}, exitQuoteRejected},
		"expired":            {quoteVerifyOptions{collateralPath: col, at: "2040-01-01T00:00:00Z", repeat: 1}, []string{q}, exitQuoteRejected},
		"missing collateral": {quoteVerifyOptions{at: s.at, repeat: 1}, []string{q}, exitUsage},
		"bad time":           {quoteVerifyOptions{collateralPath: col, at: "yesterday", repeat: 1}, []string{q}, exitUsage},
		"missing quote":      {quoteVerifyOptions{collateralPath: col, at: s.at, repeat: 1}, []string{filepath.Join(tmp, "none")}, exitUsage},
		"zero repeat":        {quoteVerifyOptions{collateralPath: col, at: s.at}, []string{q}, exitUsage},
		"bad trust root":     {quoteVerifyOptions{collateralPath: col, at: s.at, repeat: 1, trustRoots: []string{col}}, []string{q}, exitUsage},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := runQuoteVerify(&out, tc.opts, tc.files)
			code := 0
			if err != nil {
				code = exitCode(err)
			}
			if code != tc.code {
				t.Errorf("exit code %d (%v), want %d; output %q", code, err, tc.code, out.String())
			}
		})
	}
}

func TestQuoteInspect(t *testing.T) {
	for _, s := range quoteSamples(t) {
		var out bytes.Buffer
		if err := inspectQuoteFile(&out, filepath.Join(s.dir, "quote.bin")); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"version 3", "MRENCLAVE", "QE report", "type 5", "FMSPC", "Intel SGX Root CA"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: inspect output lacks %q", s.dir, want)
			}
		}
	}
}

func TestParseVerifyTime(t *testing.T) {
	for in, want := range map[string]int64{"1750400000": 1750400000, "2025-06-20T06:13:20Z": 1750400000} {
		got, err := parseVerifyTime(in)
		if err != nil || got.Unix() != want {
			t.Errorf("parseVerifyTime(%q) = %v, %v, want %d", in, got, err, want)
		}
	}
}

func TestQuoteVerifyTrustRoot(t *testing.T) {
	s := quoteSamples(t)[0]
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test SGX Root CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	rootPath := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(rootPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	opts := quoteVerifyOptions{collateralPath: filepath.Join(s.dir, "collateral.json"), at: s.at, jsonOutput: true,
		repeat: 1, trustRoots: []string{rootPath}}
	if err := runQuoteVerify(&out, opts, []string{filepath.Join(s.dir, "quote.bin")}); err != nil {
		t.Fatalf("runQuoteVerify: %v", err)
	}
	var v quoteVerdict
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if !v.Verified || v.DevelopmentRoot || v.TrustedRoot != "Intel SGX Root CA" {
		t.Errorf("verdict %+v, want verified under the Intel root", v)
	}
}
