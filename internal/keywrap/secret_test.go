package keywrap

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"
)

func TestDecodeTLSKey(t *testing.T) {
	blob := []byte{0, 1, 2, 0xfe, 0xff}
	encoded := base64.StdEncoding.EncodeToString(blob)
	for name, value := range map[string]string{"plain": encoded, "newline": encoded + "\n",
		"spaces": "  " + encoded + " \r\n"} {
		got, err := DecodeTLSKey([]byte(value))
		if err != nil {
			t.Fatalf("%s: DecodeTLSKey: %v", name, err)
		}
		if !bytes.Equal(got, blob) {
			t.Errorf("%s: DecodeTLSKey = %x, want %x", name, got, blob)
		}
	}
	for name, value := range map[string]string{"empty": "", "blank": " \n", "not base64": "%%%",
		"url alphabet": "-_-_"} {
		if _, err := DecodeTLSKey([]byte(value)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: DecodeTLSKey error = %v, want ErrMalformed", name, err)
		}
	}
}

func TestParseTLSCert(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for i := range 2 {
		template := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)),
			Subject:   pkix.Name{CommonName: "ca"},
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	for name, value := range map[string][]byte{
		"plain":  chain,
		"base64": []byte(base64.StdEncoding.EncodeToString(chain) + "\n"),
	} {
		certs, err := ParseTLSCert(value)
		if err != nil {
			t.Fatalf("%s: ParseTLSCert: %v", name, err)
		}
		if len(certs) != 2 || certs[0].SerialNumber.Int64() != 1 {
			t.Errorf("%s: ParseTLSCert returned %d certificates, want 2 in order", name, len(certs))
		}
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})
	for name, value := range map[string][]byte{
		"empty":       nil,
		"not base64":  []byte("%%%"),
		"private key": keyPEM,
		"bad der":     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
	} {
		if _, err := ParseTLSCert(value); err == nil {
			t.Errorf("%s: ParseTLSCert succeeded", name)
		}
	}
}

func TestParseReceiptKeyPEM(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseReceiptKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatalf("ParseReceiptKeyPEM: %v", err)
	}
	if !got.Equal(pub) {
		t.Error("ParseReceiptKeyPEM returned another key")
	}
	enclave, _ := testEnclaveKeys(t)
	rsaDER, err := x509.MarshalPKIXPublicKey(&enclave.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseReceiptKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY",
		Bytes: rsaDER})); err == nil {
		t.Error("ParseReceiptKeyPEM accepted an rsa key")
	}
	if _, err := ParseReceiptKeyPEM(nil); err == nil {
		t.Error("ParseReceiptKeyPEM accepted empty input")
	}
}
