package pck

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tcs-project/tcs/internal/dcap/quote"
)

// wantFMSPC is the FMSPC of each sample, from the README of the real-quote
// folder.
var wantFMSPC = map[string]string{
	"dcap-qvl-sample": "00a067110000",
	"automata-0825":   "00606a000000",
}

// realLeaves returns the PCK certificate of each real quote.
func realLeaves(t *testing.T) map[string]*x509.Certificate {
	t.Helper()
	dir := os.Getenv("TCS_REAL_QUOTES")
	if dir == "" {
		t.Skip("TCS_REAL_QUOTES is not set: it names the folder of real SGX quotes with their collateral")
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*", "quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*x509.Certificate{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := quote.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		block, _ := pem.Decode(q.Signature.CertData)
		if block == nil {
			t.Fatalf("%s: no PEM certificate in the certification data", p)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(filepath.Dir(p))] = cert
	}
	return out
}

func TestFromCertificateReal(t *testing.T) {
	for name, cert := range realLeaves(t) {
		ext, err := FromCertificate(cert)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want, ok := wantFMSPC[name]; ok && hex.EncodeToString(ext.FMSPC[:]) != want {
			t.Errorf("%s: FMSPC = %x, want %s", name, ext.FMSPC, want)
		}
		if ext.PCEID != [2]byte{} {
			t.Errorf("%s: PCE ID = %x, want 0000", name, ext.PCEID)
		}
		if ext.PCESVN == 0 {
			t.Errorf("%s: PCESVN is 0", name)
		}
	}
}

func TestFromCertificateMissing(t *testing.T) {
	_, err := FromCertificate(&x509.Certificate{})
	if !errors.Is(err, ErrInvalidExtension) {
		t.Errorf("FromCertificate = %v, want ErrInvalidExtension", err)
	}
}

func mustField(t *testing.T, id asn1.ObjectIdentifier, value any) asn1.RawValue {
	t.Helper()
	v, err := asn1.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	type f struct {
		ID    asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	der, err := asn1.Marshal(f{id, asn1.RawValue{FullBytes: v}})
	if err != nil {
		t.Fatal(err)
	}
	return asn1.RawValue{FullBytes: der}
}

// buildExtension encodes an extension from fields, each a DER SEQUENCE.
func buildExtension(t *testing.T, fields []asn1.RawValue) []byte {
	t.Helper()
	der, err := asn1.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func tcbField(t *testing.T, skip int, extra ...asn1.RawValue) asn1.RawValue {
	t.Helper()
	var parts []asn1.RawValue
	for i := 1; i <= ComponentCount; i++ {
		if i == skip {
			continue
		}
		parts = append(parts, mustField(t, sub(oidTCB, i), i))
	}
	parts = append(parts, mustField(t, oidPCESVN, 13), mustField(t, oidCPUSVN, make([]byte, 16)))
	parts = append(parts, extra...)
	inner, err := asn1.Marshal(parts)
	if err != nil {
		t.Fatal(err)
	}
	type f struct {
		ID    asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	der, err := asn1.Marshal(f{oidTCB, asn1.RawValue{FullBytes: inner}})
	if err != nil {
		t.Fatal(err)
	}
	return asn1.RawValue{FullBytes: der}
}

func TestParseSynthetic(t *testing.T) {
	base := func() []asn1.RawValue {
		return []asn1.RawValue{
			mustField(t, oidPPID, make([]byte, 16)),
			tcbField(t, 0),
			mustField(t, oidPCEID, []byte{0, 0}),
			mustField(t, oidFMSPC, []byte{0, 0x90, 0x6e, 0xa1, 0, 0}),
			mustField(t, oidSGXType, asn1.Enumerated(1)),
		}
	}
	ext, err := Parse(buildExtension(t, base()))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if ext.Components[15] != 16 || ext.PCESVN != 13 || ext.SGXType != SGXTypeScalable {
		t.Errorf("extension = %+v", ext)
	}

	withOptional := append(base(), mustField(t, oidPlatformInstanceID, make([]byte, 16)))
	if ext, err := Parse(buildExtension(t, withOptional)); err != nil || len(ext.PlatformInstanceID) != 16 {
		t.Errorf("Parse with platform instance ID: %v", err)
	}

	cases := map[string][]asn1.RawValue{
		"missing FMSPC":     base()[:3],
		"duplicate PPID":    append(base(), mustField(t, oidPPID, make([]byte, 16))),
		"short FMSPC":       append(base()[:3], mustField(t, oidFMSPC, []byte{1, 2}), base()[4]),
		"unknown field":     append(base(), mustField(t, sub(OIDSGXExtension, 9), 1)),
		"SGX type 7":        append(base()[:4], mustField(t, oidSGXType, asn1.Enumerated(7))),
		"missing component": append([]asn1.RawValue{base()[0], tcbField(t, 5)}, base()[2:]...),
		"component 300": append([]asn1.RawValue{base()[0],
			tcbField(t, 5, mustField(t, sub(oidTCB, 5), 300))}, base()[2:]...),
	}
	for name, fields := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(buildExtension(t, fields)); !errors.Is(err, ErrInvalidExtension) {
				t.Errorf("Parse = %v, want ErrInvalidExtension", err)
			}
		})
	}
	if _, err := Parse([]byte{0x30, 0x80}); !errors.Is(err, ErrInvalidExtension) {
		t.Errorf("Parse of broken DER = %v", err)
	}
}
