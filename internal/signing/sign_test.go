package signing

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"slices"
	"testing"
	"time"
)

func TestSignUsages(t *testing.T) {
	ca, caKey := testCA(t, "p256", CAOptions{})
	tests := map[string]struct {
		key      string
		req      Request
		keyUsage x509.KeyUsage
		ext      []x509.ExtKeyUsage
	}{
		"default rsa": {
			key:      "rsa-2048",
			keyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		},
		"default ecdsa": {
			key:      "p256",
			keyUsage: x509.KeyUsageDigitalSignature,
		},
		"default ed25519": {
			key:      "ed25519",
			keyUsage: x509.KeyUsageDigitalSignature,
		},
		"server": {
			key:      "p256",
			req:      Request{Usages: []string{"digital signature", "server auth", "client auth"}},
			keyUsage: x509.KeyUsageDigitalSignature,
			ext:      []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		},
		"ext only": {
			key: "p256",
			req: Request{Usages: []string{"code signing"}},
			ext: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		},
		"ca adds cert sign": {
			key:      "p256",
			req:      Request{IsCA: true, Usages: []string{"crl sign"}},
			keyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		},
		"ca default": {
			key:      "rsa-2048",
			req:      Request{IsCA: true},
			keyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tt.req.CSR = testCSR(t, tt.key, nil)
			cert := signParsed(t, Config{}, ca, caKey, tt.req)
			if cert.KeyUsage != tt.keyUsage {
				t.Errorf("key usage = %b, want %b", cert.KeyUsage, tt.keyUsage)
			}
			if !slices.Equal(cert.ExtKeyUsage, tt.ext) {
				t.Errorf("extended key usages = %v, want %v", cert.ExtKeyUsage, tt.ext)
			}
			if cert.IsCA != tt.req.IsCA {
				t.Errorf("IsCA = %v, want %v", cert.IsCA, tt.req.IsCA)
			}
		})
	}
}

func TestSignUsageErrors(t *testing.T) {
	ca, caKey := testCA(t, "p256", CAOptions{})
	tests := map[string][]string{
		"unknown":              {"server auth", "web server"},
		"cert sign without ca": {"digital signature", "cert sign"},
	}
	for name, usages := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Sign(ca, caKey, Request{CSR: testCSR(t, "p256", nil), Usages: usages}, testNow)
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error = %v, want ErrInvalidRequest", err)
			}
			if !IsPermanent(err) {
				t.Errorf("IsPermanent(%v) = false", err)
			}
		})
	}
}

func TestSignDuration(t *testing.T) {
	ca, caKey := testCA(t, "p256", CAOptions{Duration: 2 * 365 * 24 * time.Hour})
	shortCA, shortKey := testCA(t, "p384", CAOptions{Duration: 30 * 24 * time.Hour})
	expiringCA, expiringKey := testCA(t, "p521", CAOptions{Duration: 5 * time.Minute})
	tests := map[string]struct {
		cfg      Config
		ca       *x509.Certificate
		key      crypto.Signer
		duration time.Duration
		notAfter time.Time
		err      error
	}{
		"default": {
			duration: 0,
			notAfter: testNow.Add(DefaultDuration),
		},
		"configured default": {
			cfg:      Config{DefaultDuration: 48 * time.Hour},
			notAfter: testNow.Add(48 * time.Hour),
		},
		"default above max": {
			cfg:      Config{MaxDuration: 24 * time.Hour},
			notAfter: testNow.Add(24 * time.Hour),
		},
		"minimum": {
			duration: DefaultMinDuration,
			notAfter: testNow.Add(DefaultMinDuration),
		},
		"below minimum": {
			duration: DefaultMinDuration - time.Second,
			err:      ErrInvalidRequest,
		},
		"negative": {
			duration: -time.Hour,
			err:      ErrInvalidRequest,
		},
		"maximum": {
			duration: DefaultMaxDuration,
			notAfter: testNow.Add(DefaultMaxDuration),
		},
		"above maximum clamped": {
			duration: 5 * DefaultMaxDuration,
			notAfter: testNow.Add(DefaultMaxDuration),
		},
		"configured maximum": {
			cfg:      Config{MaxDuration: 7 * 24 * time.Hour},
			duration: 30 * 24 * time.Hour,
			notAfter: testNow.Add(7 * 24 * time.Hour),
		},
		"configured minimum": {
			cfg:      Config{MinDuration: time.Hour},
			duration: 30 * time.Minute,
			err:      ErrInvalidRequest,
		},
		"clamped to ca": {
			ca:       shortCA,
			key:      shortKey,
			duration: 60 * 24 * time.Hour,
			notAfter: shortCA.NotAfter,
		},
		"ca expiring": {
			ca:       expiringCA,
			key:      expiringKey,
			duration: time.Hour,
			err:      ErrUnusableCA,
		},
		"bad config": {
			cfg:      Config{MinDuration: 2 * time.Hour, MaxDuration: time.Hour},
			duration: time.Hour,
			err:      errAnyConfig,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if tt.ca == nil {
				tt.ca, tt.key = ca, caKey
			}
			req := Request{CSR: testCSR(t, "p256", nil), Duration: tt.duration}
			der, err := tt.cfg.Sign(tt.ca, tt.key, req, testNow)
			if tt.err != nil {
				if tt.err == errAnyConfig {
					if err == nil || errors.Is(err, ErrInvalidRequest) || errors.Is(err, ErrUnusableCA) {
						t.Fatalf("error = %v, want a config error", err)
					}
					return
				}
				if !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatalf("parse certificate: %v", err)
			}
			if !cert.NotAfter.Equal(tt.notAfter) {
				t.Errorf("NotAfter = %s, want %s", cert.NotAfter, tt.notAfter)
			}
			if want := testNow.Add(-DefaultBackdate); !cert.NotBefore.Equal(want) {
				t.Errorf("NotBefore = %s, want %s", cert.NotBefore, want)
			}
		})
	}
}

// errAnyConfig marks a table case that expects a config error, which has
// no sentinel.
var errAnyConfig = errors.New("any config error")

func TestSignBackdate(t *testing.T) {
	ca, caKey := testCA(t, "p256", CAOptions{Backdate: -1})
	tests := map[string]struct {
		backdate  time.Duration
		notBefore time.Time
	}{
		"default clamped to ca": {backdate: 0, notBefore: ca.NotBefore},
		"hour clamped to ca":    {backdate: time.Hour, notBefore: ca.NotBefore},
		"disabled":              {backdate: -1, notBefore: testNow},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cert := signParsed(t, Config{Backdate: tt.backdate}, ca, caKey,
				Request{CSR: testCSR(t, "p256", nil)})
			if !cert.NotBefore.Equal(tt.notBefore) {
				t.Errorf("NotBefore = %s, want %s", cert.NotBefore, tt.notBefore)
			}
		})
	}
}

func TestSignCopiesNames(t *testing.T) {
	ca, caKey := testCA(t, "rsa-2048", CAOptions{})
	uri, err := url.Parse("spiffe://cluster.local/ns/default/sa/app")
	if err != nil {
		t.Fatal(err)
	}
	csrTmpl := &x509.CertificateRequest{
		Subject: pkix.Name{
			CommonName:         "app.example.com",
			Organization:       []string{"Example Org"},
			OrganizationalUnit: []string{"Platform"},
			Country:            []string{"FI"},
		},
		DNSNames:       []string{"app.example.com", "*.app.example.com"},
		IPAddresses:    []net.IP{net.ParseIP("192.0.2.10").To4(), net.ParseIP("2001:db8::1")},
		EmailAddresses: []string{"admin@example.com"},
		URIs:           []*url.URL{uri},
	}
	csrPEM := testCSR(t, "p256", csrTmpl)
	block, _ := pem.Decode(csrPEM)
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}

	cert := signParsed(t, Config{}, ca, caKey, Request{CSR: csrPEM})
	if !bytes.Equal(cert.RawSubject, csr.RawSubject) {
		t.Errorf("subject = %s, want %s", cert.Subject, csr.Subject)
	}
	if !slices.Equal(cert.DNSNames, csrTmpl.DNSNames) {
		t.Errorf("DNS names = %v, want %v", cert.DNSNames, csrTmpl.DNSNames)
	}
	if !slices.EqualFunc(cert.IPAddresses, csrTmpl.IPAddresses, net.IP.Equal) {
		t.Errorf("IP addresses = %v, want %v", cert.IPAddresses, csrTmpl.IPAddresses)
	}
	if !slices.Equal(cert.EmailAddresses, csrTmpl.EmailAddresses) {
		t.Errorf("email addresses = %v, want %v", cert.EmailAddresses, csrTmpl.EmailAddresses)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != uri.String() {
		t.Errorf("URIs = %v, want [%s]", cert.URIs, uri)
	}
	if !bytes.Equal(cert.RawIssuer, ca.RawSubject) {
		t.Errorf("issuer = %s, want %s", cert.Issuer, ca.Subject)
	}
}

func TestSignSubjectRules(t *testing.T) {
	ca, caKey := testCA(t, "p256", CAOptions{})
	tests := map[string]struct {
		csr  *x509.CertificateRequest
		isCA bool
		err  error
	}{
		"empty subject with san": {
			csr: &x509.CertificateRequest{DNSNames: []string{"app.example.com"}},
		},
		"empty subject no san": {
			csr: &x509.CertificateRequest{},
			err: ErrInvalidRequest,
		},
		"empty subject ca": {
			csr:  &x509.CertificateRequest{DNSNames: []string{"ca.example.com"}},
			isCA: true,
			err:  ErrInvalidRequest,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			req := Request{CSR: testCSR(t, "p256", tt.csr), IsCA: tt.isCA}
			der, err := Sign(ca, caKey, req, testNow)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatalf("parse certificate: %v", err)
			}
			// RFC 5280 section 4.2.1.6: the SAN extension is critical when
			// the subject is empty.
			for _, ext := range cert.Extensions {
				if ext.Id.String() == "2.5.29.17" && !ext.Critical {
					t.Errorf("subject alternative name extension is not critical")
				}
			}
		})
	}
}

func TestSignKeyIdentifiers(t *testing.T) {
	ca, caKey := testCA(t, "p256", CAOptions{})
	for _, keyName := range []string{"rsa-2048", "p256", "p384", "ed25519"} {
		t.Run(keyName, func(t *testing.T) {
			cert := signParsed(t, Config{}, ca, caKey, Request{CSR: testCSR(t, keyName, nil)})
			want := independentKeyID(t, cert.PublicKey)
			if !bytes.Equal(cert.SubjectKeyId, want) {
				t.Errorf("subject key id = %x, want %x", cert.SubjectKeyId, want)
			}
			if len(ca.SubjectKeyId) != keyIDSize {
				t.Fatalf("CA subject key id has %d bytes, want %d", len(ca.SubjectKeyId), keyIDSize)
			}
			if !bytes.Equal(cert.AuthorityKeyId, ca.SubjectKeyId) {
				t.Errorf("authority key id = %x, want CA subject key id %x", cert.AuthorityKeyId, ca.SubjectKeyId)
			}
		})
	}
	if want := independentKeyID(t, ca.PublicKey); !bytes.Equal(ca.SubjectKeyId, want) {
		t.Errorf("CA subject key id = %x, want %x", ca.SubjectKeyId, want)
	}
}

// independentKeyID computes the RFC 7093 method 1 key identifier from the
// key's own encoding of the subjectPublicKey BIT STRING contents: the
// PKCS#1 RSAPublicKey, the uncompressed EC point or the raw Ed25519 key.
func independentKeyID(t *testing.T, pub any) []byte {
	t.Helper()
	var raw []byte
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		raw = x509.MarshalPKCS1PublicKey(pub)
	case *ecdsa.PublicKey:
		ecdhKey, err := pub.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		raw = ecdhKey.Bytes()
	case ed25519.PublicKey:
		// RFC 8410 section 4: the BIT STRING holds the raw 32-byte key.
		raw = pub
	default:
		t.Fatalf("unexpected public key type %T", pub)
	}
	sum := sha256.Sum256(raw)
	return sum[:20]
}

func TestSignSerialNumbers(t *testing.T) {
	ca, caKey := testCA(t, "p256", CAOptions{})
	req := Request{CSR: testCSR(t, "p256", nil)}
	const count = 1000
	limit := new(big.Int).Lsh(big.NewInt(1), 159)
	seen := make(map[string]bool, count)
	for i := range count {
		tmpl, _, err := Config{}.Template(ca, req, testNow)
		if err != nil {
			t.Fatalf("Template %d: %v", i, err)
		}
		serial := tmpl.SerialNumber
		if serial.Sign() <= 0 || serial.Cmp(limit) >= 0 {
			t.Fatalf("serial %x is outside (0, 2^159)", serial)
		}
		if serial.BitLen() != 159 {
			t.Fatalf("serial %x has %d bits, want 159", serial, serial.BitLen())
		}
		if seen[serial.String()] {
			t.Fatalf("serial %x repeated after %d templates", serial, i)
		}
		seen[serial.String()] = true
	}

	// The serial of a signed certificate encodes in 20 octets.
	cert := signParsed(t, Config{}, ca, caKey, req)
	if n := len(cert.SerialNumber.Bytes()); n != serialBytes {
		t.Errorf("serial has %d octets, want %d", n, serialBytes)
	}
}

func TestSignVerifies(t *testing.T) {
	for _, caKeyName := range []string{"rsa-3072", "p256", "p384", "ed25519"} {
		ca, caKey := testCA(t, caKeyName, CAOptions{})
		roots := x509.NewCertPool()
		roots.AddCert(ca)
		for _, leafKey := range []string{"rsa-2048", "p256", "p521", "ed25519"} {
			t.Run(caKeyName+"/"+leafKey, func(t *testing.T) {
				cert := signParsed(t, Config{}, ca, caKey, Request{
					CSR:    testCSR(t, leafKey, nil),
					Usages: []string{"digital signature", "server auth"},
				})
				_, err := cert.Verify(x509.VerifyOptions{
					DNSName:     "app.example.com",
					Roots:       roots,
					CurrentTime: testNow,
				})
				if err != nil {
					t.Errorf("Verify: %v", err)
				}
			})
		}
	}
}

func TestSignIntermediateVerifies(t *testing.T) {
	root, rootKey := testCA(t, "p384", CAOptions{})
	intermediate := signParsed(t, Config{}, root, rootKey, Request{
		CSR: testCSR(t, "ca-p256", &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: "Test Intermediate"},
		}),
		IsCA: true,
	})
	leaf := signParsed(t, Config{}, intermediate, testKey(t, "ca-p256"), Request{
		CSR:    testCSR(t, "rsa-2048", nil),
		Usages: []string{"server auth"},
	})

	roots := x509.NewCertPool()
	roots.AddCert(root)
	inter := x509.NewCertPool()
	inter.AddCert(intermediate)
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: testNow, DNSName: "app.example.com",
	})
	if err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestSignPathLength(t *testing.T) {
	unlimited, unlimitedKey := testCA(t, "p256", CAOptions{})
	two := 2
	limited, limitedKey := testCA(t, "p384", CAOptions{MaxPathLen: &two})
	zero := 0
	leafOnly, leafOnlyKey := testCA(t, "p521", CAOptions{MaxPathLen: &zero})
	pathLen := func(n int) *int { return &n }

	tests := map[string]struct {
		ca      *x509.Certificate
		key     crypto.Signer
		req     Request
		maxPath int
		err     error
	}{
		"unlimited stays unlimited": {ca: unlimited, key: unlimitedKey, req: Request{IsCA: true}, maxPath: -1},
		"unlimited given":           {ca: unlimited, key: unlimitedKey, req: Request{IsCA: true, MaxPathLen: pathLen(3)}, maxPath: 3},
		"zero given":                {ca: unlimited, key: unlimitedKey, req: Request{IsCA: true, MaxPathLen: pathLen(0)}, maxPath: 0},
		"limited inherits":          {ca: limited, key: limitedKey, req: Request{IsCA: true}, maxPath: 1},
		"limited within":            {ca: limited, key: limitedKey, req: Request{IsCA: true, MaxPathLen: pathLen(0)}, maxPath: 0},
		"limited exceeded":          {ca: limited, key: limitedKey, req: Request{IsCA: true, MaxPathLen: pathLen(2)}, err: ErrInvalidRequest},
		"ca path zero":              {ca: leafOnly, key: leafOnlyKey, req: Request{IsCA: true}, err: ErrInvalidRequest},
		"ca path zero leaf":         {ca: leafOnly, key: leafOnlyKey, req: Request{}, maxPath: -1},
		"negative":                  {ca: unlimited, key: unlimitedKey, req: Request{IsCA: true, MaxPathLen: pathLen(-1)}, err: ErrInvalidRequest},
		"not a ca":                  {ca: unlimited, key: unlimitedKey, req: Request{MaxPathLen: pathLen(1)}, err: ErrInvalidRequest},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tt.req.CSR = testCSR(t, "p256", nil)
			der, err := Sign(tt.ca, tt.key, tt.req, testNow)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			if cert.MaxPathLen != tt.maxPath {
				t.Errorf("MaxPathLen = %d, want %d", cert.MaxPathLen, tt.maxPath)
			}
			if tt.maxPath == 0 && !cert.MaxPathLenZero {
				t.Errorf("MaxPathLenZero = false for path length 0")
			}
		})
	}
}

func TestSignUnusableCA(t *testing.T) {
	ca, caKey := testCA(t, "p256", CAOptions{})
	leaf := signParsed(t, Config{}, ca, caKey, Request{CSR: testCSR(t, "p384", nil)})
	noCertSign := *ca
	noCertSign.KeyUsage = x509.KeyUsageCRLSign

	tests := map[string]struct {
		ca  *x509.Certificate
		key crypto.Signer
		now time.Time
		err error
	}{
		"nil ca":             {ca: nil, key: caKey, now: testNow},
		"nil signer":         {ca: ca, key: nil, now: testNow},
		"leaf as ca":         {ca: leaf, key: testKey(t, "p384"), now: testNow},
		"no cert sign":       {ca: &noCertSign, key: caKey, now: testNow},
		"expired":            {ca: ca, key: caKey, now: ca.NotAfter.Add(time.Second)},
		"not yet valid":      {ca: ca, key: caKey, now: ca.NotBefore.Add(-time.Second)},
		"signer mismatch":    {ca: ca, key: testKey(t, "p256"), now: testNow},
		"signer other types": {ca: ca, key: testKey(t, "rsa-2048"), now: testNow},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Sign(tt.ca, tt.key, Request{CSR: testCSR(t, "p256", nil)}, tt.now)
			if !errors.Is(err, ErrUnusableCA) {
				t.Fatalf("error = %v, want ErrUnusableCA", err)
			}
			if IsPermanent(err) {
				t.Errorf("IsPermanent(%v) = true", err)
			}
		})
	}
}

// failingSigner is a CA signer whose token has gone away: it reports the
// CA public key but fails to sign.
type failingSigner struct{ crypto.Signer }

func (f failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("token removed")
}

func TestSignSignerFailure(t *testing.T) {
	ca, caKey := testCA(t, "p256", CAOptions{})
	_, err := Sign(ca, failingSigner{caKey}, Request{CSR: testCSR(t, "p256", nil)}, testNow)
	if !errors.Is(err, ErrSigner) {
		t.Fatalf("error = %v, want ErrSigner", err)
	}
	if IsPermanent(err) {
		t.Errorf("IsPermanent(%v) = true", err)
	}
}

func TestSignRandomFailure(t *testing.T) {
	ca, caKey := testCA(t, "p256", CAOptions{})
	cfg := Config{Rand: bytes.NewReader(make([]byte, 5))}
	_, err := cfg.Sign(ca, caKey, Request{CSR: testCSR(t, "p256", nil)}, testNow)
	if !errors.Is(err, ErrSigner) {
		t.Fatalf("error = %v, want ErrSigner", err)
	}
}
