package pccs

import (
	"bytes"
	"strings"
	"testing"
)

func TestSplitSignedBody(t *testing.T) {
	sig := strings.Repeat("ab", signatureLen)
	tests := map[string]struct {
		body    string
		object  string
		wantErr string
	}{
		"plain":            {body: `{"tcbInfo":{"a":1},"signature":"` + sig + `"}`, object: `{"a":1}`},
		"signature first":  {body: `{"signature":"` + sig + `","tcbInfo":{"a":1}}`, object: `{"a":1}`},
		"white space kept": {body: "{ \"tcbInfo\" : { \"a\" : [1, 2] } ,\n\"signature\":\"" + sig + "\"}\n", object: `{ "a" : [1, 2] }`},
		"escapes kept":     {body: `{"tcbInfo":{"n":"\u00e9\/<"},"signature":"` + sig + `"}`, object: `{"n":"\u00e9\/<"}`},
		"other members":    {body: `{"x":[1],"tcbInfo":{},"signature":"` + sig + `","y":null}`, object: `{}`},
		"not object":       {body: `[]`, wantErr: "want"},
		"array member":     {body: `{"tcbInfo":[],"signature":"` + sig + `"}`, wantErr: "not a JSON object"},
		"missing":          {body: `{"signature":"` + sig + `"}`, wantErr: "missing"},
		"no signature":     {body: `{"tcbInfo":{}}`, wantErr: `"signature" is missing`},
		"signature number": {body: `{"tcbInfo":{},"signature":5}`, wantErr: "not a string"},
		"duplicate":        {body: `{"tcbInfo":{},"tcbInfo":{},"signature":"` + sig + `"}`, wantErr: "duplicate"},
		"trailing data":    {body: `{"tcbInfo":{},"signature":"` + sig + `"} {}`, wantErr: "after the top-level"},
		"truncated":        {body: `{"tcbInfo":{"a":`, wantErr: "invalid JSON"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			object, signature, err := splitSignedBody([]byte(tc.body), memberTCBInfo)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(object) != tc.object {
				t.Errorf("object %q, want %q", object, tc.object)
			}
			if len(signature) != signatureLen {
				t.Errorf("signature is %d bytes", len(signature))
			}
		})
	}
}

func TestNormaliseCRL(t *testing.T) {
	der := newTestCert(t, "Test CA", nil).crl(t, testIssue, testNext)
	pemCRL := encodeCRLPEM(der)
	tests := map[string]struct {
		body    []byte
		wantErr string
	}{
		"der":         {body: der},
		"pem":         {body: pemCRL},
		"pem spaced":  {body: append(append([]byte("\n"), pemCRL...), "\n\n"...)},
		"hex":         {body: hexText(der)},
		"hex upper":   {body: bytes.ToUpper(hexText(der))},
		"hex of pem":  {body: hexText(pemCRL)},
		"empty":       {body: nil, wantErr: "empty"},
		"hex of hex":  {body: hexText(hexText(der)), wantErr: "does not parse"},
		"garbage":     {body: []byte("hello"), wantErr: "does not parse"},
		"cert pem":    {body: newTestCert(t, "x", nil).pem(), wantErr: `type "CERTIFICATE"`},
		"pem trailer": {body: append(pemCRL, "junk"...), wantErr: "after its PEM block"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := normaliseCRL(tc.body)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, der) {
				t.Error("normalised CRL differs from the DER")
			}
		})
	}
}

func TestIssuerChainEncoding(t *testing.T) {
	root := newTestCert(t, "Test Root", nil)
	chain := append(newTestCert(t, "Test Leaf", root).pem(), root.pem()...)

	got, err := decodeIssuerChain(encodeIssuerChain(chain))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, chain) {
		t.Error("chain changed in an encode and decode round trip")
	}

	bad := map[string]string{
		"bad escape":  "%zz",
		"not pem":     "hello",
		"crl pem":     encodeIssuerChain(encodeCRLPEM(root.crl(t, testIssue, testNext))),
		"trailing":    encodeIssuerChain(append(chain, "junk"...)),
		"corrupt der": encodeIssuerChain([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
	}
	for name, value := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeIssuerChain(value); err == nil {
				t.Errorf("decodeIssuerChain(%.30q) succeeded", value)
			}
		})
	}
}

func TestParseFMSPC(t *testing.T) {
	tests := map[string]struct {
		in      string
		wantErr bool
	}{
		"lower":   {in: "00906ea10000"},
		"upper":   {in: "00906EA10000"},
		"spaces":  {in: " 00906ea10000\n"},
		"short":   {in: "00906ea100", wantErr: true},
		"long":    {in: "00906ea1000000", wantErr: true},
		"not hex": {in: "00906ea1000g", wantErr: true},
		"empty":   {in: "", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseFMSPC(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Errorf("ParseFMSPC(%q) succeeded", tc.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != testFMSPC {
				t.Errorf("ParseFMSPC(%q) = %x", tc.in, got)
			}
		})
	}
}

func FuzzSplitSignedBody(f *testing.F) {
	sig := strings.Repeat("01", signatureLen)
	f.Add([]byte(`{"tcbInfo":{"a":1},"signature":"` + sig + `"}`))
	f.Add([]byte(`{"tcbInfo":{ "a" : "\u00e9" },"signature":"` + sig + `","x":[]}`))
	f.Add([]byte(`{"tcbInfo":`))
	f.Fuzz(func(t *testing.T, body []byte) {
		object, signature, err := splitSignedBody(body, memberTCBInfo)
		if err != nil {
			return
		}
		// What was accepted must survive the server's re-wrapping.
		again, sigAgain, err := splitSignedBody(joinSignedBody(memberTCBInfo, object, signature), memberTCBInfo)
		if err != nil {
			t.Fatalf("re-wrapped body rejected: %v", err)
		}
		if !bytes.Equal(again, object) || !bytes.Equal(sigAgain, signature) {
			t.Fatal("re-wrapped body yields other bytes")
		}
	})
}

func FuzzNormaliseCRL(f *testing.F) {
	f.Add([]byte("3082"))
	f.Add([]byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"))
	f.Add([]byte{0x30, 0x82, 0x01})
	f.Fuzz(func(t *testing.T, body []byte) {
		// Must not panic; success must yield a parseable CRL.
		_, _ = normaliseCRL(body)
	})
}
