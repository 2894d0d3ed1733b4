package pccs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
)

// testIssue and testNext bound the validity of synthetic collateral.
var (
	testIssue = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	testNext  = testIssue.Add(30 * 24 * time.Hour)
	testFMSPC = [6]byte{0x00, 0x90, 0x6e, 0xa1, 0x00, 0x00}
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// newTestCert makes a CA certificate named cn, signed by parent, or
// self-signed when parent is nil.
func newTestCert(t testing.TB, cn string, parent *testCA) *testCA {
	t.Helper()
	key := newTestKey(t)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"TCS test"}},
		NotBefore:             testIssue.Add(-365 * 24 * time.Hour),
		NotAfter:              testIssue.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

func (ca *testCA) crl(t testing.TB, thisUpdate, nextUpdate time.Time) []byte {
	t.Helper()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:     big.NewInt(1),
		ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate,
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// signRS returns the 64-byte r||s signature of ca's key over data.
func (ca *testCA) signRS(t testing.TB, data []byte) []byte {
	t.Helper()
	digest := sha256.Sum256(data)
	r, s, err := ecdsa.Sign(rand.Reader, ca.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, signatureLen)
	r.FillBytes(sig[:signatureLen/2])
	s.FillBytes(sig[signatureLen/2:])
	return sig
}

// bundleSpec describes a synthetic bundle.
type bundleSpec struct {
	fmspc      [6]byte
	ca         string
	issue      time.Time
	next       time.Time
	pckCACN    string // defaults to "Test SGX PCK <Platform|Processor> CA"
	tcbVersion int    // distinguishes bundles that are otherwise alike
}

// newSyntheticBundle builds a bundle whose chains and CRLs parse and whose
// signatures verify under a fresh test root. Its TCB Info has white space,
// escapes and member order that json.Marshal would not reproduce, so that
// any re-serialisation shows up as a byte difference.
func newSyntheticBundle(t testing.TB, spec bundleSpec) *collateral.Bundle {
	t.Helper()
	if spec.ca == "" {
		spec.ca = CAPlatform
	}
	if spec.issue.IsZero() {
		spec.issue = testIssue
	}
	if spec.next.IsZero() {
		spec.next = spec.issue.Add(30 * 24 * time.Hour)
	}
	if spec.pckCACN == "" {
		name := "Platform"
		if spec.ca == CAProcessor {
			name = "Processor"
		}
		spec.pckCACN = "Test SGX PCK " + name + " CA"
	}

	root := newTestCert(t, "Test SGX Root CA", nil)
	pckCA := newTestCert(t, spec.pckCACN, root)
	tcbSigner := newTestCert(t, "Test SGX TCB Signing", root)

	issue := spec.issue.UTC().Format(time.RFC3339)
	next := spec.next.UTC().Format(time.RFC3339)
	tcbInfo := fmt.Appendf(nil, `{"id":"SGX", "version":3,"issueDate":"%s","nextUpdate":"%s",`+
		`"fmspc":"%s","pceId":"0000","tcbType":0,"tcbEvaluationDataNumber":%d,`+
		`"note":"caf\u00e9 <&> \/","tcbLevels":[{"tcb":{"sgxtcbcomponents":[{"svn":2}],"pcesvn":13},`+
		`"tcbDate":"2025-11-12T00:00:00Z","tcbStatus":"UpToDate"}]}`,
		issue, next, FormatFMSPC(spec.fmspc), 17+spec.tcbVersion)
	qeIdentity := fmt.Appendf(nil, `{"id":"QE","version":2,"issueDate":"%s","nextUpdate":"%s",`+
		`"tcbEvaluationDataNumber":17,"miscselect":"00000000","miscselectMask":"FFFFFFFF",`+
		`"attributes":"11000000000000000000000000000000","attributesMask":"FBFFFFFFFFFFFFFF0000000000000000",`+
		`"mrsigner":"8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF","isvprodid":1,`+
		`"tcbLevels":[{"tcb":{"isvsvn":8},"tcbDate":"2025-11-12T00:00:00Z","tcbStatus":"UpToDate"}]}`,
		issue, next)

	tcbChain := append(tcbSigner.pem(), root.pem()...)
	return &collateral.Bundle{
		TCBInfo:               tcbInfo,
		TCBInfoSignature:      tcbSigner.signRS(t, tcbInfo),
		TCBInfoIssuerChain:    tcbChain,
		QEIdentity:            qeIdentity,
		QEIdentitySignature:   tcbSigner.signRS(t, qeIdentity),
		QEIdentityIssuerChain: tcbChain,
		PCKCRL:                pckCA.crl(t, spec.issue, spec.next),
		PCKCRLIssuerChain:     append(pckCA.pem(), root.pem()...),
		RootCACRL:             root.crl(t, spec.issue, spec.next),
	}
}

func mustDescribe(t testing.TB, b *collateral.Bundle, caHint string) Entry {
	t.Helper()
	e, err := Describe(b, caHint)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	return e
}

// realBundles returns the collateral.json paths under TCS_REAL_QUOTES, or
// skips the test when the variable is unset.
func realBundles(t *testing.T) []string {
	t.Helper()
	dir := os.Getenv("TCS_REAL_QUOTES")
	if dir == "" {
		t.Skip("TCS_REAL_QUOTES is not set; it names a folder of real quotes with collateral.json files")
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*", "collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no */collateral.json under TCS_REAL_QUOTES=%s", dir)
	}
	return paths
}

// compareBundles reports every field in which got differs from want.
func compareBundles(t *testing.T, got, want *collateral.Bundle) {
	t.Helper()
	fields := []struct {
		name      string
		got, want []byte
	}{
		{"TCBInfo", got.TCBInfo, want.TCBInfo},
		{"TCBInfoSignature", got.TCBInfoSignature, want.TCBInfoSignature},
		{"TCBInfoIssuerChain", got.TCBInfoIssuerChain, want.TCBInfoIssuerChain},
		{"QEIdentity", got.QEIdentity, want.QEIdentity},
		{"QEIdentitySignature", got.QEIdentitySignature, want.QEIdentitySignature},
		{"QEIdentityIssuerChain", got.QEIdentityIssuerChain, want.QEIdentityIssuerChain},
		{"PCKCRL", got.PCKCRL, want.PCKCRL},
		{"PCKCRLIssuerChain", got.PCKCRLIssuerChain, want.PCKCRLIssuerChain},
		{"RootCACRL", got.RootCACRL, want.RootCACRL},
	}
	for _, f := range fields {
		if string(f.got) != string(f.want) {
			t.Errorf("%s differs: got %d bytes, want %d bytes", f.name, len(f.got), len(f.want))
		}
	}
}
