package signing

import (
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseUsagesEach(t *testing.T) {
	tests := map[string]struct {
		keyUsage x509.KeyUsage
		ext      x509.ExtKeyUsage
	}{
		"signing":            {keyUsage: x509.KeyUsageDigitalSignature},
		"digital signature":  {keyUsage: x509.KeyUsageDigitalSignature},
		"content commitment": {keyUsage: x509.KeyUsageContentCommitment},
		"key encipherment":   {keyUsage: x509.KeyUsageKeyEncipherment},
		"key agreement":      {keyUsage: x509.KeyUsageKeyAgreement},
		"data encipherment":  {keyUsage: x509.KeyUsageDataEncipherment},
		"cert sign":          {keyUsage: x509.KeyUsageCertSign},
		"crl sign":           {keyUsage: x509.KeyUsageCRLSign},
		"encipher only":      {keyUsage: x509.KeyUsageEncipherOnly},
		"decipher only":      {keyUsage: x509.KeyUsageDecipherOnly},
		"any":                {ext: x509.ExtKeyUsageAny},
		"server auth":        {ext: x509.ExtKeyUsageServerAuth},
		"client auth":        {ext: x509.ExtKeyUsageClientAuth},
		"code signing":       {ext: x509.ExtKeyUsageCodeSigning},
		"email protection":   {ext: x509.ExtKeyUsageEmailProtection},
		"s/mime":             {ext: x509.ExtKeyUsageEmailProtection},
		"ipsec end system":   {ext: x509.ExtKeyUsageIPSECEndSystem},
		"ipsec tunnel":       {ext: x509.ExtKeyUsageIPSECTunnel},
		"ipsec user":         {ext: x509.ExtKeyUsageIPSECUser},
		"timestamping":       {ext: x509.ExtKeyUsageTimeStamping},
		"ocsp signing":       {ext: x509.ExtKeyUsageOCSPSigning},
		"microsoft sgc":      {ext: x509.ExtKeyUsageMicrosoftServerGatedCrypto},
		"netscape sgc":       {ext: x509.ExtKeyUsageNetscapeServerGatedCrypto},
	}
	for usage, want := range tests {
		t.Run(usage, func(t *testing.T) {
			keyUsage, ext, err := ParseUsages([]string{usage})
			if err != nil {
				t.Fatalf("ParseUsages(%q): %v", usage, err)
			}
			if keyUsage != want.keyUsage {
				t.Errorf("key usage = %b, want %b", keyUsage, want.keyUsage)
			}
			var wantExt []x509.ExtKeyUsage
			if want.keyUsage == 0 {
				wantExt = []x509.ExtKeyUsage{want.ext}
			}
			if !slices.Equal(ext, wantExt) {
				t.Errorf("extended key usages = %v, want %v", ext, wantExt)
			}
		})
	}

	known := KnownUsages()
	if len(known) != len(tests) {
		t.Errorf("KnownUsages has %d entries, the table %d", len(known), len(tests))
	}
	for _, usage := range known {
		if _, ok := tests[usage]; !ok {
			t.Errorf("KnownUsages lists %q, which the table does not test", usage)
		}
	}
}

func TestParseUsagesMerge(t *testing.T) {
	keyUsage, ext, err := ParseUsages([]string{
		"digital signature", "signing", "key encipherment", "server auth", "client auth", "server auth",
	})
	if err != nil {
		t.Fatalf("ParseUsages: %v", err)
	}
	if want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment; keyUsage != want {
		t.Errorf("key usage = %b, want %b", keyUsage, want)
	}
	if want := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}; !slices.Equal(ext, want) {
		t.Errorf("extended key usages = %v, want %v", ext, want)
	}
}

func TestParseUsagesUnknown(t *testing.T) {
	for _, usage := range []string{"Server Auth", "serverAuth", "", "tls server"} {
		t.Run(usage, func(t *testing.T) {
			_, _, err := ParseUsages([]string{"digital signature", usage})
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error = %v, want ErrInvalidRequest", err)
			}
			if !strings.Contains(err.Error(), `"`+usage+`"`) {
				t.Errorf("error %q does not name the usage %q", err, usage)
			}
		})
	}
}
