package pccs

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/verify"
	"github.com/tcs-project/tcs/internal/devpki"
)

func TestAuthorityCatalogVerifies(t *testing.T) {
	for _, ca := range []devpki.CAType{devpki.PlatformCA, devpki.ProcessorCA} {
		t.Run(string(ca), func(t *testing.T) {
			authority, err := devpki.New(devpki.Options{CAType: ca})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			base := startServer(t, NewAuthorityCatalog(authority, func() time.Time { return now }))

			b, err := newTestClient(t, base, ClientOptions{}).
				Collateral(context.Background(), authority.FMSPC(), string(ca))
			if err != nil {
				t.Fatalf("Collateral: %v", err)
			}

			quote, err := authority.Quote([64]byte{1, 2, 3})
			if err != nil {
				t.Fatal(err)
			}
			v := verify.New(verify.Config{ExtraRoots: []*x509.Certificate{authority.Root()}})
			res, err := v.Verify(quote, b, now)
			if err != nil {
				t.Fatalf("Verify with fetched collateral: %v", err)
			}
			if !res.Verified || !res.DevelopmentRoot {
				t.Errorf("Result Verified=%v DevelopmentRoot=%v, want both true", res.Verified, res.DevelopmentRoot)
			}
		})
	}
}

func TestAuthorityCatalogReissues(t *testing.T) {
	authority, err := devpki.New(devpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Now()}
	cat := NewAuthorityCatalog(authority, clock.Now)

	first, err := cat.Entry()
	if err != nil {
		t.Fatal(err)
	}
	again, err := cat.Entry()
	if err != nil {
		t.Fatal(err)
	}
	if again.Bundle != first.Bundle {
		t.Error("catalog issued a new bundle before the middle of the validity")
	}

	clock.Set(midpoint(first.Validity).Add(time.Second))
	later, err := cat.Entry()
	if err != nil {
		t.Fatal(err)
	}
	if later.Bundle == first.Bundle {
		t.Fatal("catalog kept the bundle past the middle of its validity")
	}
	if !later.Validity.Contains(clock.Now()) {
		t.Errorf("new bundle %+v is not valid at %s", later.Validity, clock.Now())
	}
}
