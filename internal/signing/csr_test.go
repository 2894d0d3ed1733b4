package signing

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestParseCSRForms(t *testing.T) {
	csrPEM := testCSR(t, "p256", nil)
	block, _ := pem.Decode(csrPEM)
	tests := map[string][]byte{
		"pem":           csrPEM,
		"pem with text": append([]byte("\n  \n"), csrPEM...),
		"der":           block.Bytes,
		"old pem label": pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: block.Bytes}),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			csr, err := ParseCSR(data)
			if err != nil {
				t.Fatalf("ParseCSR: %v", err)
			}
			if csr.Subject.CommonName != "app.example.com" {
				t.Errorf("common name = %q", csr.Subject.CommonName)
			}
		})
	}
}

func TestParseCSRKeys(t *testing.T) {
	tests := map[string]string{
		"rsa-2048": "",
		"rsa-3072": "",
		"p256":     "",
		"p384":     "",
		"p521":     "",
		"ed25519":  "",
		"rsa-1024": "1024 bits",
		"p224":     "P-224",
	}
	for keyName, wantErr := range tests {
		t.Run(keyName, func(t *testing.T) {
			_, err := ParseCSR(testCSR(t, keyName, nil))
			if wantErr == "" {
				if err != nil {
					t.Fatalf("ParseCSR: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error = %v, want ErrInvalidRequest", err)
			}
			if !strings.Contains(err.Error(), wantErr) {
				t.Errorf("error %q does not contain %q", err, wantErr)
			}
		})
	}
}

func TestParseCSRRejects(t *testing.T) {
	csrPEM := testCSR(t, "rsa-2048", nil)
	block, _ := pem.Decode(csrPEM)

	badSignature := bytes.Clone(block.Bytes)
	badSignature[len(badSignature)-1] ^= 0x01

	tests := map[string]struct {
		data []byte
		want string
	}{
		"empty":         {data: nil, want: "empty"},
		"garbage":       {data: []byte("not a csr"), want: "parse CSR"},
		"bad pem":       {data: []byte("-----BEGIN CERTIFICATE REQUEST-----\n!!!\n"), want: "no valid PEM block"},
		"wrong label":   {data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}), want: `"CERTIFICATE"`},
		"bad signature": {data: badSignature, want: "signature"},
		"truncated":     {data: block.Bytes[:len(block.Bytes)/2], want: "parse CSR"},
		"too large":     {data: bytes.Repeat([]byte{0x30}, MaxCSRSize+1), want: "maximum"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseCSR(tt.data)
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error = %v, want ErrInvalidRequest", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestCheckPublicKeyUnsupported(t *testing.T) {
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	err = checkPublicKey(key.PublicKey())
	if err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("checkPublicKey(X25519) = %v, want a not supported error", err)
	}
}

func FuzzParseCSR(f *testing.F) {
	csrPEM := testCSR(f, "p256", nil)
	block, _ := pem.Decode(csrPEM)
	f.Add(csrPEM)
	f.Add(block.Bytes)
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ParseCSR(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error %v does not wrap ErrInvalidRequest", err)
			}
			return
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("accepted a CSR whose signature fails: %v", err)
		}
		if _, err := x509.MarshalPKIXPublicKey(csr.PublicKey); err != nil {
			t.Fatalf("accepted a CSR whose key does not marshal: %v", err)
		}
	})
}
