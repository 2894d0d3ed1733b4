package pccs

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// hostileServer serves handler on loopback for the test.
func hostileServer(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv.URL
}

// A collateral service that drips its body, sends one without end, or
// compresses a huge one into a small response is cut off by the timeout or
// the body limit, and the client returns an error instead of hanging or
// filling memory.
func TestClientHostileBodies(t *testing.T) {
	const limit = 1 << 16
	bomb := gzipZeros(t, 64<<20)
	cases := map[string]struct {
		handler http.HandlerFunc
		// wantErr is the sentinel the error wraps, and wantText a part of
		// its message.
		wantErr  error
		wantText string
	}{
		"body dripped past the timeout": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
				for r.Context().Err() == nil {
					w.Write([]byte("{"))
					w.(http.Flusher).Flush()
					time.Sleep(20 * time.Millisecond)
				}
			},
			wantErr: ErrUnavailable,
		},
		"endless body": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				chunk := bytes.Repeat([]byte("a"), 4096)
				for r.Context().Err() == nil {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			},
			wantErr:  ErrInvalidResponse,
			wantText: "larger than",
		},
		"endless error body": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				chunk := bytes.Repeat([]byte("e"), 4096)
				for r.Context().Err() == nil {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			},
			wantErr: ErrUnavailable,
		},
		"gzip bomb": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(bomb)
			},
			wantErr:  ErrInvalidResponse,
			wantText: "larger than",
		},
		"headers only, then silence": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100")
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			},
			wantErr: ErrUnavailable,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			base := hostileServer(t, tc.handler)
			c := newTestClient(t, base, ClientOptions{Timeout: 500 * time.Millisecond, MaxBodyBytes: limit})
			done := make(chan error, 1)
			go func() {
				_, err := c.RootCACRL(context.Background())
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the client is still reading after 10s, 20 times its timeout")
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want one that wraps %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %v does not say %q", err, tc.wantText)
			}
		})
	}
}

func gzipZeros(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zeros := make([]byte, 1<<20)
	for written := 0; written < n; written += len(zeros) {
		if _, err := zw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Issuer chain headers that are garbage, truncated or hold no
// certificate make the response invalid, not a crash.
func TestClientHostileChainHeaders(t *testing.T) {
	body := []byte(`{"tcbInfo":{"a":1},"signature":"00"}`)
	cases := map[string]string{
		"not escaped PEM": "%%%",
		"truncated PEM":   "-----BEGIN%20CERTIFICATE-----%0AMIIB",
		"no certificate":  "hello",
		"only spaces":     "%20%20%20",
	}
	for name, header := range cases {
		t.Run(name, func(t *testing.T) {
			base := hostileServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(headerTCBInfoChain, header)
				w.Write(body)
			})
			_, err := newTestClient(t, base, ClientOptions{}).TCBInfo(context.Background(), testFMSPC)
			if !errors.Is(err, ErrInvalidResponse) {
				t.Errorf("error %v, want one that wraps ErrInvalidResponse", err)
			}
		})
	}
}
