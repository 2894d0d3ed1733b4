package signing

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"slices"
	"testing"
)

// Object identifiers of the extensions a hostile CSR asks for (RFC 5280
// section 4.2.1).
var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidNameConstraints  = asn1.ObjectIdentifier{2, 5, 29, 30}
	oidUnknownCritical  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
)

// A CSR cannot make itself a CA, widen its usages or smuggle extensions:
// the certificate carries only the request's subject, names and the usages
// the Request grants.
func TestSignIgnoresCSRExtensions(t *testing.T) {
	ca, caKey := testCA(t, "p256", CAOptions{})
	mustDER := func(v any) []byte {
		der, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	type basicConstraints struct {
		IsCA       bool
		MaxPathLen int
	}
	tmpl := &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "app.example.com"},
		DNSNames: []string{"app.example.com"},
		ExtraExtensions: []pkix.Extension{
			{Id: oidBasicConstraints, Critical: true, Value: mustDER(basicConstraints{true, 5})},
			{Id: oidKeyUsage, Critical: true, Value: mustDER(asn1.BitString{Bytes: []byte{0x06}, BitLength: 7})},
			{Id: oidExtKeyUsage, Value: mustDER([]asn1.ObjectIdentifier{{2, 5, 29, 37, 0}})},
			{Id: oidNameConstraints, Critical: true, Value: mustDER([]int{1})},
			{Id: oidUnknownCritical, Critical: true, Value: []byte{0x05, 0x00}},
		},
	}
	cert := signParsed(t, Config{}, ca, caKey, Request{CSR: testCSR(t, "p256", tmpl), Usages: []string{"server auth"}})

	if cert.IsCA {
		t.Error("the certificate is a CA because the CSR asked for it")
	}
	if cert.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Error("the certificate has the cert sign usage the CSR asked for")
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("extended key usages = %v, want only server auth", cert.ExtKeyUsage)
	}
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oidNameConstraints) || ext.Id.Equal(oidUnknownCritical) {
			t.Errorf("the CSR's extension %s was copied into the certificate", ext.Id)
		}
	}
}

// Input that is not one CSR is rejected with ErrInvalidRequest.
func TestParseHostileCSR(t *testing.T) {
	good := testCSR(t, "p256", nil)
	block, _ := pem.Decode(good)
	der := block.Bytes
	flipped := append([]byte(nil), der...)
	flipped[len(flipped)-10] ^= 0x01
	cases := map[string][]byte{
		"certificate PEM":      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"signature flipped":    flipped,
		"cut DER":              der[:len(der)/2],
		"DER with a tail":      append(append([]byte(nil), der...), 0),
		"over the size limit":  make([]byte, MaxCSRSize+1),
		"PEM header only":      []byte("-----BEGIN CERTIFICATE REQUEST-----\n"),
		"1024-bit RSA":         testCSR(t, "rsa-1024", nil),
		"P-224":                testCSR(t, "p224", nil),
		"only spaces":          []byte("   \n\t"),
		"PEM inside base64":    []byte("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K"),
		"NUL then a valid PEM": append([]byte{0}, good...),
	}
	for name, data := range cases {
		if _, err := ParseCSR(data); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: error %v, want one that wraps ErrInvalidRequest", name, err)
		}
	}
}
