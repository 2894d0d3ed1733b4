package keyserver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
	"github.com/tcs-project/tcs/internal/devpki"
)

func TestDecodeQuoteField(t *testing.T) {
	quote := []byte{0x03, 0x00, 0x02, 0x00, 0xff, 0xfe}
	cases := map[string]struct {
		field []byte
		want  []byte
	}{
		"raw quote":          {quote, quote},
		"base64 text":        {[]byte(base64.StdEncoding.EncodeToString(quote)), quote},
		"unpadded base64":    {[]byte(base64.RawStdEncoding.EncodeToString(quote)), quote},
		"base64 with spaces": {[]byte(" " + base64.StdEncoding.EncodeToString(quote) + "\n"), quote},
		"neither":            {[]byte("not a quote!"), []byte("not a quote!")},
	}
	for name, tc := range cases {
		if got := decodeQuoteField(tc.field); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: decodeQuoteField = %x, want %x", name, got, tc.want)
		}
	}
}

func pemBlock(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseEnclaveKey(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkix := func(k any) []byte {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	good := pemBlock(t, "PUBLIC KEY", pkix(&rsaKey.PublicKey))

	cases := map[string]struct {
		data    []byte
		wantErr string
	}{
		"PUBLIC KEY":       {good, ""},
		"RSA PUBLIC KEY":   {pemBlock(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)), ""},
		"double base64":    {[]byte(base64.StdEncoding.EncodeToString(good)), "no PEM block"},
		"not PEM":          {[]byte("hello"), "no PEM block"},
		"ECDSA key":        {pemBlock(t, "PUBLIC KEY", pkix(&ecKey.PublicKey)), "not an RSA key"},
		"1024-bit RSA key": {pemBlock(t, "PUBLIC KEY", pkix(&small.PublicKey)), "fewer than 2048"},
		"wrong block type": {pemBlock(t, "CERTIFICATE", []byte{1}), "not \"PUBLIC KEY\""},
		"trailing data":    {append(append([]byte{}, good...), "junk"...), "follow the PEM block"},
	}
	for name, tc := range cases {
		_, _, err := parseEnclaveKey(tc.data)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: err = %v, want one containing %q", name, err, tc.wantErr)
		}
	}
}

func TestDecodeRequestAcceptsDoubleEncodedKey(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	spec := &sgxv1alpha1.QuoteAttestationSpec{
		Quote:        []byte{3, 0},
		QuoteVersion: sgxv1alpha1.ECDSAQuoteVersion3,
		PublicKey:    []byte(base64.StdEncoding.EncodeToString(pemBlock(t, "PUBLIC KEY", der))),
		SignerNames:  []string{"tcsclusterissuer.tcs.intel.com/ca"},
	}
	r, rej := decodeRequest(spec)
	if rej != nil {
		t.Fatalf("decodeRequest: %v", rej)
	}
	if !r.publicKey.Equal(&key.PublicKey) {
		t.Errorf("decoded a different public key")
	}
	if r.nonce != DefaultNonce {
		t.Errorf("nonce = %x, want the toolkit default %x", r.nonce, DefaultNonce)
	}
}

func TestExpectedReportDataMatchesDevelopmentQuotes(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var nonce [16]byte
	copy(nonce[:], "0123456789abcdef")
	if got, want := expectedReportData(&key.PublicKey, nonce), devpki.ReportDataForRSAKey(&key.PublicKey, nonce); got != want {
		t.Errorf("expectedReportData = %x, devpki binds %x", got, want)
	}
	if got := expectedReportData(&key.PublicKey, DefaultNonce); got == expectedReportData(&key.PublicKey, nonce) {
		t.Errorf("the nonce does not change the report data")
	}
}

func TestDecideRejectsStaleRequest(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &Decider{MaxRequestAge: time.Hour, Now: func() time.Time { return now }}
	answer, err := d.Decide(context.Background(), Request{
		Spec:    &sgxv1alpha1.QuoteAttestationSpec{},
		Created: now.Add(-61 * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !answer.Failed || answer.State != sgxv1alpha1.StateStaleRequest {
		t.Errorf("answer = %+v, want a StaleRequest failure", answer)
	}
	if !strings.Contains(answer.Message, "stale") {
		t.Errorf("message %q does not say the request is stale", answer.Message)
	}
}

func TestDecideRejectsUnsupportedQuoteVersion(t *testing.T) {
	d := &Decider{}
	answer, err := d.Decide(context.Background(), Request{
		Spec: &sgxv1alpha1.QuoteAttestationSpec{QuoteVersion: "ECDSA Quote 4"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if answer.State != sgxv1alpha1.StateUnsupportedQuoteVersion {
		t.Errorf("state = %s, want %s", answer.State, sgxv1alpha1.StateUnsupportedQuoteVersion)
	}
}

func TestFileBaseFitsLongSignerNames(t *testing.T) {
	short := "tcsclusterissuer.tcs.intel.com/ca"
	if got := FileBase(short); got != "tcsclusterissuer.tcs.intel.com_ca" {
		t.Errorf("FileBase(%q) = %q", short, got)
	}
	a := "tcsissuer.tcs.intel.com/" + strings.Repeat("n", 63) + "." + strings.Repeat("a", 253)
	b := a[:len(a)-1] + "b"
	if len(FileBase(a)) > maxFileBase || len(FileBase(a)+".key") > 255 {
		t.Errorf("FileBase of a %d-character name has %d characters", len(a), len(FileBase(a)))
	}
	if FileBase(a) == FileBase(b) {
		t.Errorf("two long signer names share the file name %q", FileBase(a))
	}
}
