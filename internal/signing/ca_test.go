package signing

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSelfSignedCA(t *testing.T) {
	for _, keyName := range []string{"rsa-3072", "p256", "ed25519"} {
		t.Run(keyName, func(t *testing.T) {
			ca, _ := testCA(t, keyName, CAOptions{CommonName: "tcsissuer.tcs.intel.com/default.ca"})
			if ca.Subject.CommonName != "tcsissuer.tcs.intel.com/default.ca" {
				t.Errorf("common name = %q", ca.Subject.CommonName)
			}
			if !ca.IsCA || !ca.BasicConstraintsValid {
				t.Errorf("IsCA = %v, BasicConstraintsValid = %v", ca.IsCA, ca.BasicConstraintsValid)
			}
			if ca.MaxPathLen != -1 {
				t.Errorf("MaxPathLen = %d, want -1 (none)", ca.MaxPathLen)
			}
			if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; ca.KeyUsage != want {
				t.Errorf("key usage = %b, want %b", ca.KeyUsage, want)
			}
			if want := independentKeyID(t, ca.PublicKey); string(ca.SubjectKeyId) != string(want) {
				t.Errorf("subject key id = %x, want %x", ca.SubjectKeyId, want)
			}
			if want := testNow.Add(DefaultCADuration); !ca.NotAfter.Equal(want) {
				t.Errorf("NotAfter = %s, want %s", ca.NotAfter, want)
			}
			if want := testNow.Add(-DefaultBackdate); !ca.NotBefore.Equal(want) {
				t.Errorf("NotBefore = %s, want %s", ca.NotBefore, want)
			}
			if err := ca.CheckSignatureFrom(ca); err != nil {
				t.Errorf("self-signature: %v", err)
			}
			if n := len(ca.SerialNumber.Bytes()); n != serialBytes {
				t.Errorf("serial has %d octets, want %d", n, serialBytes)
			}
		})
	}
}

func TestSelfSignedCAOptions(t *testing.T) {
	key := testKey(t, "ca-p256")
	one := 1
	negative := -1
	tests := map[string]struct {
		opts CAOptions
		err  string
	}{
		"duration":       {opts: CAOptions{CommonName: "ca", Duration: 24 * time.Hour}},
		"path length":    {opts: CAOptions{CommonName: "ca", MaxPathLen: &one}},
		"organization":   {opts: CAOptions{CommonName: "ca", Organization: []string{"TCS"}}},
		"no common name": {opts: CAOptions{}, err: "common name"},
		"long name":      {opts: CAOptions{CommonName: strings.Repeat("a", 65)}, err: "65 characters"},
		"negative time":  {opts: CAOptions{CommonName: "ca", Duration: -time.Hour}, err: "negative"},
		"negative path":  {opts: CAOptions{CommonName: "ca", MaxPathLen: &negative}, err: "negative"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			der, err := SelfSignedCA(key, tt.opts, testNow)
			if tt.err != "" {
				if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want ErrInvalidRequest containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SelfSignedCA: %v", err)
			}
			ca, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			if tt.opts.Duration != 0 && !ca.NotAfter.Equal(testNow.Add(tt.opts.Duration)) {
				t.Errorf("NotAfter = %s, want %s", ca.NotAfter, testNow.Add(tt.opts.Duration))
			}
			if tt.opts.MaxPathLen != nil && ca.MaxPathLen != *tt.opts.MaxPathLen {
				t.Errorf("MaxPathLen = %d, want %d", ca.MaxPathLen, *tt.opts.MaxPathLen)
			}
			if len(tt.opts.Organization) > 0 && ca.Subject.Organization[0] != tt.opts.Organization[0] {
				t.Errorf("organization = %v, want %v", ca.Subject.Organization, tt.opts.Organization)
			}
		})
	}
}

func TestSelfSignedCAWeakKey(t *testing.T) {
	_, err := SelfSignedCA(testKey(t, "rsa-1024"), CAOptions{CommonName: "ca"}, testNow)
	if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), "1024 bits") {
		t.Fatalf("error = %v, want ErrInvalidRequest naming 1024 bits", err)
	}
}

func TestCommonNameForSigner(t *testing.T) {
	short := "tcsissuer.tcs.intel.com/default.ca"
	if got := CommonNameForSigner(short); got != short {
		t.Errorf("CommonNameForSigner(%q) = %q", short, got)
	}

	long1 := "tcsissuer.tcs.intel.com/" + strings.Repeat("n", 63) + ".issuer-one"
	long2 := "tcsissuer.tcs.intel.com/" + strings.Repeat("n", 63) + ".issuer-two"
	cn1, cn2 := CommonNameForSigner(long1), CommonNameForSigner(long2)
	if len(cn1) != MaxCommonNameLength {
		t.Errorf("shortened name has %d characters, want %d", len(cn1), MaxCommonNameLength)
	}
	if cn1 == cn2 {
		t.Errorf("two signer names gave one common name %q", cn1)
	}
	if !strings.HasPrefix(cn1, "tcsissuer.tcs.intel.com/") {
		t.Errorf("shortened name %q lost the signer prefix", cn1)
	}
	if CommonNameForSigner(long1) != cn1 {
		t.Errorf("CommonNameForSigner is not deterministic")
	}
}
