package pccs

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHandlerErrors(t *testing.T) {
	b := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, ca: CAPlatform})
	base := startServer(t, StaticCatalog{mustDescribe(t, b, "")})

	tests := map[string]struct {
		method string
		path   string
		status int
	}{
		"fmspc missing":    {path: "/tcb", status: http.StatusBadRequest},
		"fmspc short":      {path: "/tcb?fmspc=0090", status: http.StatusBadRequest},
		"fmspc not hex":    {path: "/tcb?fmspc=zz906ea10000", status: http.StatusBadRequest},
		"fmspc unknown":    {path: "/tcb?fmspc=112233445566", status: http.StatusNotFound},
		"ca missing":       {path: "/pckcrl", status: http.StatusBadRequest},
		"ca unknown":       {path: "/pckcrl?ca=root", status: http.StatusBadRequest},
		"ca not served":    {path: "/pckcrl?ca=processor", status: http.StatusNotFound},
		"unknown path":     {path: "/pckcert", status: http.StatusNotFound},
		"post not allowed": {method: http.MethodPost, path: "/qe/identity", status: http.StatusMethodNotAllowed},
		"fmspc upper case": {path: "/tcb?fmspc=00906EA10000", status: http.StatusOK},
		"ca upper case":    {path: "/pckcrl?ca=PLATFORM&encoding=DER", status: http.StatusOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, base+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s %s: status %d, want %d", method, tc.path, resp.StatusCode, tc.status)
			}
		})
	}
}

func TestHandlerServesNewest(t *testing.T) {
	older := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, issue: testIssue.Add(-24 * time.Hour)})
	newer := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, tcbVersion: 1})
	base := startServer(t, StaticCatalog{mustDescribe(t, newer, ""), mustDescribe(t, older, "")})

	got, err := newTestClient(t, base, ClientOptions{}).Collateral(context.Background(), testFMSPC, CAPlatform)
	if err != nil {
		t.Fatal(err)
	}
	compareBundles(t, got, newer)
}

func TestHandlerCatalogError(t *testing.T) {
	broken := CatalogFunc(func(context.Context) ([]Entry, error) { return nil, errors.New("disk on fire") })
	base := startServer(t, MultiCatalog{StaticCatalog{}, broken})

	_, err := newTestClient(t, base, ClientOptions{}).QEIdentity(context.Background())
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("error %v, want ErrUnavailable with the catalog's message", err)
	}
}

func TestListenLoopback(t *testing.T) {
	tests := map[string]struct {
		addr    string
		allow   bool
		wantErr error
	}{
		"ipv4 loopback":  {addr: "127.0.0.1:0"},
		"localhost":      {addr: "localhost:0"},
		"all interfaces": {addr: "0.0.0.0:0", wantErr: ErrNotLoopback},
		"empty host":     {addr: ":0", wantErr: ErrNotLoopback},
		"other host":     {addr: "192.0.2.1:0", wantErr: ErrNotLoopback},
		"hostname":       {addr: "pccs.example:0", wantErr: ErrNotLoopback},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ln, err := Listen(tc.addr, tc.allow)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Listen(%q): error %v, want %v", tc.addr, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Listen(%q): %v", tc.addr, err)
			}
			defer ln.Close()
			if !IsLoopbackListener(ln) {
				t.Errorf("listener on %s is not loopback", ln.Addr())
			}
		})
	}
	if _, err := Listen("no-port", false); err == nil {
		t.Error("Listen without a port succeeded")
	}
}

func TestServeShutsDown(t *testing.T) {
	b := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC})
	ln, err := Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, NewHandler(StaticCatalog{mustDescribe(t, b, "")}, HandlerOptions{})) }()

	base := "http://" + ln.Addr().String() + DefaultPathPrefix
	got, err := newTestClient(t, base, ClientOptions{}).Collateral(context.Background(), testFMSPC, CAPlatform)
	if err != nil {
		t.Fatalf("Collateral from Serve: %v", err)
	}
	compareBundles(t, got, b)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
