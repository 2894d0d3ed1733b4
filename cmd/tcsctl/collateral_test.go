package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/dcap/verify"
	"github.com/tcs-project/tcs/internal/devpki"
	"github.com/tcs-project/tcs/internal/pccs"
)

// syncBuffer is a bytes.Buffer that the server goroutine can write while
// the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func runCommand(ctx context.Context, cmd *cobra.Command, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err = cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

var serveURLPattern = regexp.MustCompile(`url=(http://127\.0\.0\.1:[0-9]+/sgx/certification/v4)`)

// startServeCommand runs "collateral serve" with args on a free loopback
// port and returns its base URL. The server stops when the test ends.
func startServeCommand(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	cmd := newCollateralServeCmd()
	cmd.SetArgs(append([]string{"--listen", "127.0.0.1:0"}, args...))
	cmd.SetErr(stderr)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collateral serve: %v", err)
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := serveURLPattern.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("collateral serve exited: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("collateral serve did not report its URL:\n%s", stderr.String())
	return ""
}

func readBundle(t *testing.T, path string) *collateral.Bundle {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := collateral.ParseBundleJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

func TestCollateralFetchFromDevAuthority(t *testing.T) {
	authority, err := devpki.New(devpki.Options{CAType: devpki.ProcessorCA})
	if err != nil {
		t.Fatal(err)
	}
	authorityDir := t.TempDir()
	if err := authority.Save(authorityDir); err != nil {
		t.Fatal(err)
	}
	base := startServeCommand(t, "--dev-authority", authorityDir)

	fmspc := pccs.FormatFMSPC(authority.FMSPC())
	out := filepath.Join(t.TempDir(), fmspc+"-processor.json")
	_, stderr, err := runCommand(context.Background(), newCollateralFetchCmd(),
		"--pccs-url", base, "--fmspc", strings.ToUpper(fmspc), "--ca", "processor", "--out", out)
	if err != nil {
		t.Fatalf("collateral fetch: %v", err)
	}
	if !strings.Contains(stderr, fmspc+"-processor") || !strings.Contains(stderr, "next update") {
		t.Errorf("fetch summary %q does not name the key and next update", stderr)
	}

	// The saved bundle verifies a quote of the same development platform.
	quote, err := authority.Quote([64]byte{7})
	if err != nil {
		t.Fatal(err)
	}
	v := verify.New(verify.Config{ExtraRoots: []*x509.Certificate{authority.Root()}})
	res, err := v.Verify(quote, readBundle(t, out), time.Now())
	if err != nil {
		t.Fatalf("Verify with the fetched bundle: %v", err)
	}
	if !res.Verified || res.CAType != pccs.CAProcessor {
		t.Errorf("Result Verified=%v CAType=%q, want verified under the processor CA", res.Verified, res.CAType)
	}
}

func TestCollateralFetchFromBundles(t *testing.T) {
	// Two development platforms with their own FMSPC, root and TCB signing
	// key. The API has one QE Identity and one root CA CRL, so only the TCB
	// Info differs per FMSPC. The newest bundle supplies the rest.
	bundles := t.TempDir()
	var want []pccs.Entry
	platforms := []struct {
		ca    devpki.CAType
		fmspc [6]byte
		name  string
	}{
		{devpki.PlatformCA, [6]byte{0x00, 0xc0, 0xde, 0x00, 0x00, 0x01}, ""},
		{devpki.ProcessorCA, [6]byte{0x00, 0xc0, 0xde, 0x00, 0x00, 0x02}, "processor-sample.json"},
	}
	for i, p := range platforms {
		authority, err := devpki.New(devpki.Options{CAType: p.ca, FMSPC: p.fmspc})
		if err != nil {
			t.Fatal(err)
		}
		// The second bundle is the newest.
		b, err := authority.Collateral(time.Now().Add(time.Duration(i-1) * time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		e, err := pccs.Describe(b, "")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
		name := p.name
		if name == "" {
			name = pccs.BundleFileName(e.Key)
		}
		if err := pccs.WriteBundleFile(filepath.Join(bundles, name), b); err != nil {
			t.Fatal(err)
		}
	}

	base := startServeCommand(t, "--bundles", bundles)
	newest := want[1].Bundle
	for _, e := range want {
		got := fetchBundle(t, base, e.Key)
		if !bytes.Equal(got.TCBInfo, e.Bundle.TCBInfo) || !bytes.Equal(got.TCBInfoSignature, e.Bundle.TCBInfoSignature) {
			t.Errorf("TCB Info for %s is not the one of its bundle", e.Key)
		}
		if !bytes.Equal(got.QEIdentity, newest.QEIdentity) || !bytes.Equal(got.RootCACRL, newest.RootCACRL) {
			t.Errorf("QE Identity or root CA CRL for %s is not the newest bundle's", e.Key)
		}
	}
	checkSameBundle(t, fetchBundle(t, base, want[1].Key), newest)
}

func TestCollateralFetchRealBundles(t *testing.T) {
	dir := os.Getenv("TCS_REAL_QUOTES")
	if dir == "" {
		t.Skip("TCS_REAL_QUOTES is not set: it names the folder of real SGX quotes with their collateral")
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*", "collateral.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no */collateral.json in %s: %v", dir, err)
	}
	for _, path := range paths {
		// One bundle directory per sample, because QE Identity and CRLs
		// are global in the API.
		bundles := t.TempDir()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bundles, "sample.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		want := readBundle(t, path)
		e, err := pccs.Describe(want, "")
		if err != nil {
			t.Fatal(err)
		}
		base := startServeCommand(t, "--bundles", bundles)
		checkSameBundle(t, fetchBundle(t, base, e.Key), want)
	}
}

// fetchBundle runs "collateral fetch" for key against base, writing to
// standard output, and parses what it wrote.
func fetchBundle(t *testing.T, base string, key pccs.Key) *collateral.Bundle {
	t.Helper()
	stdout, _, err := runCommand(context.Background(), newCollateralFetchCmd(),
		"--pccs-url", base, "--fmspc", pccs.FormatFMSPC(key.FMSPC), "--ca", key.CA)
	if err != nil {
		t.Fatalf("collateral fetch %s: %v", key, err)
	}
	got, err := collateral.ParseBundleJSON([]byte(stdout))
	if err != nil {
		t.Fatalf("fetch %s wrote an unreadable bundle: %v", key, err)
	}
	return got
}

func checkSameBundle(t *testing.T, got, want *collateral.Bundle) {
	t.Helper()
	gotJSON, _ := got.MarshalJSON()
	wantJSON, _ := want.MarshalJSON()
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Error("fetched bundle differs from the served one")
	}
}

func TestCollateralFetchErrors(t *testing.T) {
	// A port that was free a moment ago: nothing listens there.
	down := httptest.NewServer(nil)
	downURL := down.URL
	down.Close()

	tests := map[string]struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		"missing flags": {
			args:    []string{"--fmspc", "00906ea10000"},
			wantErr: "required flag",
		},
		"bad fmspc": {
			args:     []string{"--pccs-url", downURL, "--fmspc", "0090", "--ca", "platform"},
			wantCode: exitUsage, wantErr: "--fmspc",
		},
		"bad ca": {
			args:     []string{"--pccs-url", downURL, "--fmspc", "00906ea10000", "--ca", "root"},
			wantCode: exitUsage, wantErr: `"root"`,
		},
		"bad url": {
			args:     []string{"--pccs-url", "ftp://127.0.0.1", "--fmspc", "00906ea10000", "--ca", "platform"},
			wantCode: exitUsage, wantErr: "scheme",
		},
		"service down": {
			args:     []string{"--pccs-url", downURL, "--fmspc", "00906ea10000", "--ca", "platform", "--timeout", "2s"},
			wantCode: 1, wantErr: "unavailable",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := runCommand(context.Background(), newCollateralFetchCmd(), tc.args...)
			if err == nil {
				t.Fatal("fetch succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			if tc.wantCode != 0 && exitCode(err) != tc.wantCode {
				t.Errorf("exit code %d, want %d", exitCode(err), tc.wantCode)
			}
		})
	}
}

func TestCollateralServeErrors(t *testing.T) {
	tests := map[string]struct {
		args    []string
		wantErr string
	}{
		"nothing to serve": {args: []string{"--listen", "127.0.0.1:0"}, wantErr: "nothing to serve"},
		"not loopback": {
			args:    []string{"--listen", "0.0.0.0:0", "--bundles", t.TempDir()},
			wantErr: "--allow-non-loopback",
		},
		"missing bundles dir": {
			args:    []string{"--listen", "127.0.0.1:0", "--bundles", filepath.Join(t.TempDir(), "none")},
			wantErr: "--bundles",
		},
		"bad authority dir": {
			args:    []string{"--listen", "127.0.0.1:0", "--dev-authority", t.TempDir()},
			wantErr: "--dev-authority",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := runCommand(context.Background(), newCollateralServeCmd(), tc.args...)
			if err == nil {
				t.Fatal("serve started, want an error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			var exitErr *exitError
			if name != "bad authority dir" && (!errors.As(err, &exitErr) || exitErr.code != exitUsage) {
				t.Errorf("exit code %d, want %d", exitCode(err), exitUsage)
			}
		})
	}
}
