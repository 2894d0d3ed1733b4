package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
)

// realSample is one folder of $TCS_REAL_QUOTES: a quote from real SGX
// hardware, its collateral and the time and status it verifies with.
type realSample struct {
	name       string
	quote      []byte
	collateral *collateral.Bundle
	at         time.Time
	status     string
}

// realSamples loads every sample of $TCS_REAL_QUOTES, or skips the test.
func realSamples(tb testing.TB) []realSample {
	tb.Helper()
	dir := os.Getenv("TCS_REAL_QUOTES")
	if dir == "" {
		tb.Skip("TCS_REAL_QUOTES is not set: it names the folder of real SGX quotes with their collateral")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatalf("read TCS_REAL_QUOTES: %v", err)
	}
	var samples []realSample
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		samples = append(samples, loadSample(tb, filepath.Join(dir, e.Name())))
	}
	if len(samples) == 0 {
		tb.Fatalf("TCS_REAL_QUOTES=%s holds no sample folders", dir)
	}
	return samples
}

func loadSample(tb testing.TB, dir string) realSample {
	tb.Helper()
	s := realSample{name: filepath.Base(dir)}
	var err error
	if s.quote, err = os.ReadFile(filepath.Join(dir, "quote.bin")); err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "collateral.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if s.collateral, err = collateral.ParseBundleJSON(data); err != nil {
		tb.Fatalf("%s: %v", dir, err)
	}
	expect, err := os.ReadFile(filepath.Join(dir, "expect"))
	if err != nil {
		tb.Fatal(err)
	}
	fields := strings.Fields(string(expect))
	if len(fields) != 2 {
		tb.Fatalf("%s/expect is %q, want \"UNIX_TIME STATUS\"", dir, expect)
	}
	unix, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		tb.Fatalf("%s/expect: %v", dir, err)
	}
	s.at, s.status = time.Unix(unix, 0).UTC(), fields[1]
	return s
}

// sampleAdvisories are the advisory IDs listed for each sample in the
// README of the real-quote folder.
var sampleAdvisories = map[string][]string{
	"dcap-qvl-sample": {"INTEL-SA-00289", "INTEL-SA-00615"},
	"automata-0825":   {"INTEL-SA-00615"},
}

func TestVerifyRealSamples(t *testing.T) {
	v := New(Config{})
	for _, s := range realSamples(t) {
		t.Run(s.name, func(t *testing.T) {
			r, err := v.Verify(s.quote, s.collateral, s.at)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !r.Verified {
				t.Error("Verified = false")
			}
			if r.TCBStatus != s.status {
				t.Errorf("TCBStatus = %q, want %q", r.TCBStatus, s.status)
			}
			if want, ok := sampleAdvisories[s.name]; ok && !slices.Equal(sorted(r.AdvisoryIDs), sorted(want)) {
				t.Errorf("AdvisoryIDs = %v, want %v", r.AdvisoryIDs, want)
			}
			if r.TrustedRoot != "Intel SGX Root CA" || r.DevelopmentRoot {
				t.Errorf("TrustedRoot = %q, DevelopmentRoot = %v, want the Intel root", r.TrustedRoot, r.DevelopmentRoot)
			}
			if r.CAType != CATypePlatform && r.CAType != CATypeProcessor {
				t.Errorf("CAType = %q", r.CAType)
			}
			if r.CollateralIssueDate.After(s.at) || r.CollateralNextUpdate.Before(s.at) {
				t.Errorf("collateral window %s..%s does not contain %s", r.CollateralIssueDate, r.CollateralNextUpdate, s.at)
			}
		})
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestVerifyRealSamplesOutsideWindow(t *testing.T) {
	v := New(Config{})
	for _, s := range realSamples(t) {
		r, err := v.Verify(s.quote, s.collateral, s.at)
		if err != nil {
			t.Fatalf("%s: Verify: %v", s.name, err)
		}
		cases := map[string]time.Time{
			"before issue":        r.CollateralIssueDate.Add(-time.Second),
			"after next update":   r.CollateralNextUpdate.Add(time.Second),
			"a year later":        s.at.AddDate(1, 0, 0),
			"before the platform": time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC),
		}
		for name, at := range cases {
			t.Run(s.name+"/"+name, func(t *testing.T) {
				r, err := v.Verify(s.quote, s.collateral, at)
				if !errors.Is(err, ErrCollateralExpired) {
					t.Fatalf("Verify at %s: err = %v, want ErrCollateralExpired", at, err)
				}
				if r == nil || r.Verified {
					t.Errorf("Result = %+v, want Verified false", r)
				}
			})
		}
	}
}

func TestVerifyRealSamplesWindowEdges(t *testing.T) {
	v := New(Config{})
	for _, s := range realSamples(t) {
		r, err := v.Verify(s.quote, s.collateral, s.at)
		if err != nil {
			t.Fatalf("%s: Verify: %v", s.name, err)
		}
		for name, at := range map[string]time.Time{
			"at issue":       r.CollateralIssueDate,
			"at next update": r.CollateralNextUpdate,
		} {
			if _, err := v.Verify(s.quote, s.collateral, at); err != nil {
				t.Errorf("%s %s (%s): %v", s.name, name, at, err)
			}
		}
	}
}

func TestVerifyRealSamplesWithExtraRoot(t *testing.T) {
	root := newTestRoot(t)
	v := New(Config{ExtraRoots: []*x509.Certificate{root}})
	for _, s := range realSamples(t) {
		r, err := v.Verify(s.quote, s.collateral, s.at)
		if err != nil {
			t.Fatalf("%s: Verify: %v", s.name, err)
		}
		if r.DevelopmentRoot || r.TrustedRoot != "Intel SGX Root CA" {
			t.Errorf("%s: TrustedRoot = %q, DevelopmentRoot = %v, want the Intel root", s.name, r.TrustedRoot, r.DevelopmentRoot)
		}
	}
}

// newTestRoot makes a self-signed P-256 CA certificate.
func newTestRoot(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test SGX Root CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
