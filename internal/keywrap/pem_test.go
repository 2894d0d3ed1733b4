package keywrap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func TestParsePrivateKeyPEM(t *testing.T) {
	enclave, _ := testEnclaveKeys(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, b []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}))
	}
	encrypted := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"},
		Bytes:   []byte{1}}))

	tests := map[string]struct {
		data    string
		wantErr string
	}{
		"pkcs1":            {enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(enclave)), ""},
		"sec1":             {enc("EC PRIVATE KEY", sec1), ""},
		"pkcs8":            {enc("PRIVATE KEY", pkcs8), ""},
		"params first":     {enc("EC PARAMETERS", []byte{6, 8}) + enc("EC PRIVATE KEY", sec1), ""},
		"empty":            {"", "no PEM private key"},
		"only parameters":  {enc("EC PARAMETERS", []byte{6, 8}), "no PEM private key"},
		"legacy encrypted": {encrypted, "encrypted"},
		"pkcs8 encrypted":  {enc("ENCRYPTED PRIVATE KEY", []byte{1}), "encrypted"},
		"certificate":      {enc("CERTIFICATE", []byte{1}), "not a private key"},
		"corrupt pkcs8":    {enc("PRIVATE KEY", []byte{1, 2}), "pkcs#8"},
		"sec1 as pkcs1":    {enc("RSA PRIVATE KEY", sec1), "pkcs#1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			key, err := ParsePrivateKeyPEM([]byte(tc.data))
			if tc.wantErr == "" {
				if err != nil || key == nil {
					t.Fatalf("ParsePrivateKeyPEM = %v, %v, want a key", key, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParsePrivateKeyPEM error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseRSAPublicKeyPEM(t *testing.T) {
	enclave, _ := testEnclaveKeys(t)
	spki, err := x509.MarshalPKIXPublicKey(&enclave.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSPKI, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, b []byte) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})
	}
	for name, data := range map[string][]byte{
		"pkix":  enc("PUBLIC KEY", spki),
		"pkcs1": enc("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&enclave.PublicKey)),
	} {
		pub, err := ParseRSAPublicKeyPEM(data)
		if err != nil {
			t.Fatalf("%s: ParseRSAPublicKeyPEM: %v", name, err)
		}
		if !pub.Equal(&enclave.PublicKey) {
			t.Errorf("%s: ParseRSAPublicKeyPEM returned another key", name)
		}
	}
	for name, data := range map[string][]byte{
		"empty":       nil,
		"ec key":      enc("PUBLIC KEY", ecSPKI),
		"private key": enc("PRIVATE KEY", spki),
		"corrupt":     enc("RSA PUBLIC KEY", []byte{1}),
	} {
		if _, err := ParseRSAPublicKeyPEM(data); err == nil {
			t.Errorf("%s: ParseRSAPublicKeyPEM succeeded", name)
		}
	}
}
