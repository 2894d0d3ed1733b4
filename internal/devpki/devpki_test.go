package devpki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newAuthority(t testing.TB, opts Options) *Authority {
	t.Helper()
	a, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// verifyRaw checks a raw r||s signature over SHA-256(message).
func verifyRaw(pub *ecdsa.PublicKey, message, sig []byte) bool {
	if len(sig) != P256SignatureSize {
		return false
	}
	digest := sha256.Sum256(message)
	r := new(big.Int).SetBytes(sig[:p256CoordinateSize])
	s := new(big.Int).SetBytes(sig[p256CoordinateSize:])
	return ecdsa.Verify(pub, digest[:], r, s)
}

func TestNewChains(t *testing.T) {
	for _, caType := range []CAType{PlatformCA, ProcessorCA} {
		t.Run(string(caType), func(t *testing.T) {
			a := newAuthority(t, Options{CAType: caType})
			roots := x509.NewCertPool()
			roots.AddCert(a.Root())
			intermediates := x509.NewCertPool()
			intermediates.AddCert(a.Intermediate())
			_, err := a.PCK().Verify(x509.VerifyOptions{
				Roots: roots, Intermediates: intermediates,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			})
			if err != nil {
				t.Errorf("PCK chain does not verify: %v", err)
			}
			_, err = a.TCBSigning().Verify(x509.VerifyOptions{
				Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			})
			if err != nil {
				t.Errorf("TCB signing chain does not verify: %v", err)
			}

			wantCN := PlatformCACommonName
			if caType == ProcessorCA {
				wantCN = ProcessorCACommonName
			}
			if got := a.Intermediate().Subject.CommonName; got != wantCN {
				t.Errorf("intermediate CN = %q, want %q", got, wantCN)
			}
			if !a.Intermediate().MaxPathLenZero || a.Intermediate().MaxPathLen != 0 {
				t.Errorf("intermediate path length = %d, want 0", a.Intermediate().MaxPathLen)
			}
			if a.Root().MaxPathLen != 1 {
				t.Errorf("root path length = %d, want 1", a.Root().MaxPathLen)
			}
			if a.PCK().IsCA || a.TCBSigning().IsCA {
				t.Error("PCK or TCB signing certificate is a CA")
			}
			if a.Root().Subject.CommonName != RootCommonName || !a.Root().IsCA {
				t.Errorf("root subject %q, CA %v", a.Root().Subject.CommonName, a.Root().IsCA)
			}
			if a.CAType() != caType {
				t.Errorf("CAType() = %q, want %q", a.CAType(), caType)
			}
		})
	}
}

func TestNewInvalidOptions(t *testing.T) {
	cases := map[string]Options{
		"ca type":    {CAType: "intel"},
		"sgx type":   {SGXType: 7},
		"validity":   {PCKValidity: -time.Hour},
		"short seed": {Seed: bytes.NewReader(make([]byte, 10))},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := New(opts); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

func TestNewDeterministicSeed(t *testing.T) {
	seed := func(s uint64) *rand.ChaCha8 {
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:], s)
		return rand.NewChaCha8(key)
	}
	notBefore := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := newAuthority(t, Options{Seed: seed(1), NotBefore: notBefore})
	b := newAuthority(t, Options{Seed: seed(1), NotBefore: notBefore})
	c := newAuthority(t, Options{Seed: seed(2), NotBefore: notBefore})

	if !a.RootKey().Equal(b.RootKey()) || !a.AttestationKey().Equal(b.AttestationKey()) {
		t.Error("same seed gave different keys")
	}
	if a.PCK().SerialNumber.Cmp(b.PCK().SerialNumber) != 0 {
		t.Error("same seed gave different serial numbers")
	}
	if a.Extension() != b.Extension() {
		t.Error("same seed gave different PPID or platform instance ID")
	}
	if a.RootKey().Equal(c.RootKey()) {
		t.Error("different seeds gave the same root key")
	}
}

func TestSGXExtensionRoundTrip(t *testing.T) {
	for _, caType := range []CAType{PlatformCA, ProcessorCA} {
		t.Run(string(caType), func(t *testing.T) {
			a := newAuthority(t, Options{
				CAType: caType, FMSPC: [6]byte{1, 2, 3, 4, 5, 6}, PCEID: [2]byte{0, 1},
				TCBComponents: [16]byte{0, 1, 127, 128, 255, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
				PCESVN:        300, SGXType: SGXTypeScalable,
				Configuration: PlatformConfiguration{CachedKeys: true, SMTEnabled: true},
			})
			var value []byte
			for _, ext := range a.PCK().Extensions {
				if ext.Id.Equal(OIDSGXExtension) {
					value = ext.Value
				}
			}
			if value == nil {
				t.Fatal("PCK certificate has no SGX extension")
			}
			got, err := ParseSGXExtension(value)
			if err != nil {
				t.Fatalf("ParseSGXExtension: %v", err)
			}
			if *got != a.Extension() {
				t.Errorf("extension = %+v, want %+v", *got, a.Extension())
			}
			if got.HasPlatformFields != (caType == PlatformCA) {
				t.Errorf("platform fields present = %v for %s CA", got.HasPlatformFields, caType)
			}
		})
	}
}

// TestSGXExtensionParsesRealPCK checks the extension parser, and so the OIDs
// and types that Marshal writes, against PCK certificates Intel issued.
func TestSGXExtensionParsesRealPCK(t *testing.T) {
	dir := os.Getenv("TCS_REAL_QUOTES")
	if dir == "" {
		t.Skip("TCS_REAL_QUOTES is not set: no folder of real quotes to read")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range entries {
		if !entry.IsDir() {
			continue
		}
		t.Run(entry.Name(), func(t *testing.T) {
			quote, err := os.ReadFile(filepath.Join(dir, entry.Name(), "quote.bin"))
			if err != nil {
				t.Fatal(err)
			}
			layout := splitQuote(t, quote)
			block, _ := pem.Decode(layout.certData)
			if block == nil {
				t.Fatal("no PEM block in the certification data")
			}
			leaf, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			for _, ext := range leaf.Extensions {
				if !ext.Id.Equal(OIDSGXExtension) {
					continue
				}
				parsed, err := ParseSGXExtension(ext.Value)
				if err != nil {
					t.Fatalf("ParseSGXExtension: %v", err)
				}
				if parsed.PCESVN == 0 || parsed.FMSPC == ([6]byte{}) {
					t.Errorf("implausible extension %+v", parsed)
				}
				again, err := parsed.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again, ext.Value) {
					t.Errorf("re-encoded extension differs from Intel's:\n got %x\nwant %x", again, ext.Value)
				}
				return
			}
			t.Fatal("real PCK certificate has no SGX extension")
		})
	}
}

// quoteLayout is a quote split with this package's offsets, independent of
// any verifier.
type quoteLayout struct {
	header, body, quoteSig, attestationKey, qeReport, qeReportSig []byte
	authData, certData                                            []byte
	certType                                                      uint16
}

func splitQuote(t *testing.T, q []byte) quoteLayout {
	t.Helper()
	if len(q) < QuoteQEAuthDataOffset {
		t.Fatalf("quote is %d bytes, shorter than the fixed part", len(q))
	}
	sigLen := int(binary.LittleEndian.Uint32(q[QuoteSignatureDataLenOffset:]))
	if QuoteSignatureDataOffset+sigLen != len(q) {
		t.Fatalf("signature data length %d does not account for the %d bytes after offset %d",
			sigLen, len(q)-QuoteSignatureDataOffset, QuoteSignatureDataOffset)
	}
	l := quoteLayout{
		header:         q[:HeaderSize],
		body:           q[QuoteReportBodyOffset : QuoteReportBodyOffset+ReportBodySize],
		quoteSig:       q[QuoteISVSignatureOffset:QuoteAttestationKeyOffset],
		attestationKey: q[QuoteAttestationKeyOffset:QuoteQEReportOffset],
		qeReport:       q[QuoteQEReportOffset:QuoteQEReportSigOffset],
		qeReportSig:    q[QuoteQEReportSigOffset:QuoteQEAuthDataSizeOffset],
	}
	authLen := int(binary.LittleEndian.Uint16(q[QuoteQEAuthDataSizeOffset:]))
	certOffset := QuoteCertDataOffset(authLen)
	if certOffset+CertDataHeaderSize > len(q) {
		t.Fatalf("QE auth data size %d runs past the quote", authLen)
	}
	l.authData = q[QuoteQEAuthDataOffset:certOffset]
	l.certType = binary.LittleEndian.Uint16(q[certOffset:])
	certLen := int(binary.LittleEndian.Uint32(q[certOffset+2:]))
	if certOffset+CertDataHeaderSize+certLen != len(q) {
		t.Fatalf("certification data size %d does not end the quote", certLen)
	}
	l.certData = q[certOffset+CertDataHeaderSize:]
	return l
}

func TestQuoteLayout(t *testing.T) {
	a := newAuthority(t, Options{})
	var reportData [64]byte
	copy(reportData[:], "report data")
	q, err := a.Quote(reportData)
	if err != nil {
		t.Fatalf("Quote: %v", err)
	}
	l := splitQuote(t, q)

	if v := binary.LittleEndian.Uint16(l.header[headerVersionOffset:]); v != QuoteVersion3 {
		t.Errorf("version = %d, want 3", v)
	}
	if k := binary.LittleEndian.Uint16(l.header[headerKeyTypeOffset:]); k != AttestationKeyTypeECDSAP256 {
		t.Errorf("attestation key type = %d, want 2", k)
	}
	if !bytes.Equal(l.header[headerQEVendorIDOffset:headerUserDataOffset], IntelQEVendorID[:]) {
		t.Errorf("QE vendor ID = %x", l.header[headerQEVendorIDOffset:headerUserDataOffset])
	}
	if !bytes.Equal(l.body[reportMREnclaveOffset:reportMREnclaveOffset+32], DevMREnclave[:]) {
		t.Error("MRENCLAVE is not DevMREnclave")
	}
	if !bytes.Equal(l.body[reportMRSignerOffset:reportMRSignerOffset+32], DevMRSigner[:]) {
		t.Error("MRSIGNER is not DevMRSigner")
	}
	if l.body[reportAttributesOffset]&AttributeDebug != 0 {
		t.Error("default quote has the DEBUG attribute")
	}
	if !bytes.Equal(l.body[reportReportDataOffset:], reportData[:]) {
		t.Error("report data differs from the argument")
	}

	attestationKey, err := PublicKeyBytes(&a.AttestationKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(l.attestationKey, attestationKey) {
		t.Error("attestation key in the quote is not the authority's")
	}
	if !verifyRaw(&a.AttestationKey().PublicKey, q[:QuoteSignatureDataLenOffset], l.quoteSig) {
		t.Error("quote signature does not verify under the attestation key")
	}
	pckPub := a.PCK().PublicKey.(*ecdsa.PublicKey)
	if !verifyRaw(pckPub, l.qeReport, l.qeReportSig) {
		t.Error("QE report signature does not verify under the PCK key")
	}
	binding := QEReportBinding(attestationKey, l.authData)
	qeReportData := l.qeReport[reportReportDataOffset:]
	if !bytes.Equal(qeReportData[:32], binding) || !bytes.Equal(qeReportData[32:], make([]byte, 32)) {
		t.Error("QE report data is not SHA-256(attestation key || auth data) followed by zeros")
	}
	if !bytes.Equal(l.authData, DefaultQEAuthData) {
		t.Errorf("QE auth data = %x", l.authData)
	}
	if !bytes.Equal(l.qeReport[reportMRSignerOffset:reportMRSignerOffset+32], DevQEMRSigner[:]) {
		t.Error("QE MRSIGNER is not DevQEMRSigner")
	}

	if l.certType != CertDataTypePCKChain {
		t.Errorf("certification data type = %d, want 5", l.certType)
	}
	if !bytes.HasSuffix(l.certData, []byte("-----\n\x00")) {
		t.Error("PEM chain does not end in \\n\\x00")
	}
	var chain []*x509.Certificate
	rest := l.certData
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, cert)
	}
	if len(chain) != 3 || !chain[0].Equal(a.PCK()) || !chain[1].Equal(a.Intermediate()) || !chain[2].Equal(a.Root()) {
		t.Errorf("chain has %d certificates, want PCK, intermediate, root", len(chain))
	}
}

// TestQuoteLayoutReal applies this package's offsets to real quotes, an
// independent check of the layout constants.
func TestQuoteLayoutReal(t *testing.T) {
	dir := os.Getenv("TCS_REAL_QUOTES")
	if dir == "" {
		t.Skip("TCS_REAL_QUOTES is not set: no folder of real quotes to read")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range entries {
		if !entry.IsDir() {
			continue
		}
		t.Run(entry.Name(), func(t *testing.T) {
			q, err := os.ReadFile(filepath.Join(dir, entry.Name(), "quote.bin"))
			if err != nil {
				t.Fatal(err)
			}
			l := splitQuote(t, q)
			if l.certType != CertDataTypePCKChain {
				t.Errorf("certification data type = %d", l.certType)
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(ecdsaP256(), append([]byte{4}, l.attestationKey...))
			if err != nil {
				t.Fatal(err)
			}
			if !verifyRaw(pub, q[:QuoteSignatureDataLenOffset], l.quoteSig) {
				t.Error("real quote signature does not verify with these offsets")
			}
			binding := QEReportBinding(l.attestationKey, l.authData)
			if !bytes.Equal(l.qeReport[reportReportDataOffset:reportReportDataOffset+32], binding) {
				t.Error("real QE report binding does not match with these offsets")
			}
		})
	}
}

func TestQuoteOptions(t *testing.T) {
	a := newAuthority(t, Options{})
	other := newAuthority(t, Options{})
	base, err := a.Quote([64]byte{})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		opts  []QuoteOption
		check func(t *testing.T, q []byte)
	}{
		"truncate": {
			opts:  []QuoteOption{Truncate(100)},
			check: func(t *testing.T, q []byte) { wantLen(t, q, 100) },
		},
		"trailing bytes": {
			opts:  []QuoteOption{WithTrailingBytes([]byte{1, 2, 3})},
			check: func(t *testing.T, q []byte) { wantLen(t, q, len(base)+3) },
		},
		"debug": {
			opts: []QuoteOption{WithDebug()},
			check: func(t *testing.T, q []byte) {
				if q[QuoteReportBodyOffset+reportAttributesOffset]&AttributeDebug == 0 {
					t.Error("DEBUG attribute not set")
				}
			},
		},
		"corrupt quote signature": {
			opts: []QuoteOption{CorruptQuoteSignature()},
			check: func(t *testing.T, q []byte) {
				l := splitQuote(t, q)
				if verifyRaw(&a.AttestationKey().PublicKey, q[:QuoteSignatureDataLenOffset], l.quoteSig) {
					t.Error("corrupted quote signature still verifies")
				}
			},
		},
		"corrupt QE report signature": {
			opts: []QuoteOption{CorruptQEReportSignature()},
			check: func(t *testing.T, q []byte) {
				l := splitQuote(t, q)
				if verifyRaw(a.PCK().PublicKey.(*ecdsa.PublicKey), l.qeReport, l.qeReportSig) {
					t.Error("corrupted QE report signature still verifies")
				}
			},
		},
		"other attestation key": {
			opts: []QuoteOption{WithAttestationKey(other.AttestationKey())},
			check: func(t *testing.T, q []byte) {
				l := splitQuote(t, q)
				if !verifyRaw(&other.AttestationKey().PublicKey, q[:QuoteSignatureDataLenOffset], l.quoteSig) {
					t.Error("quote signature does not verify under the substituted key")
				}
				binding := QEReportBinding(l.attestationKey, l.authData)
				if bytes.Equal(l.qeReport[reportReportDataOffset:reportReportDataOffset+32], binding) {
					t.Error("QE report binds the substituted key")
				}
			},
		},
		"tampered auth data": {
			opts: []QuoteOption{TamperQEAuthData()},
			check: func(t *testing.T, q []byte) {
				l := splitQuote(t, q)
				binding := QEReportBinding(l.attestationKey, l.authData)
				if bytes.Equal(l.qeReport[reportReportDataOffset:reportReportDataOffset+32], binding) {
					t.Error("binding still holds")
				}
			},
		},
		"cert data type": {
			opts: []QuoteOption{WithCertDataType(3)},
			check: func(t *testing.T, q []byte) {
				if l := splitQuote(t, q); l.certType != 3 {
					t.Errorf("type = %d", l.certType)
				}
			},
		},
		"without NUL": {
			opts: []QuoteOption{WithoutChainNUL()},
			check: func(t *testing.T, q []byte) {
				if l := splitQuote(t, q); !bytes.HasSuffix(l.certData, []byte("-----\n")) {
					t.Error("chain does not end in \\n")
				}
			},
		},
		"trailing signature data": {
			opts: []QuoteOption{WithTrailingSignatureData([]byte{0})},
			check: func(t *testing.T, q []byte) {
				sigLen := binary.LittleEndian.Uint32(q[QuoteSignatureDataLenOffset:])
				if int(sigLen) != len(q)-QuoteSignatureDataOffset {
					t.Errorf("signature data length %d does not include the trailing byte", sigLen)
				}
			},
		},
		"cert data size delta": {
			opts: []QuoteOption{WithCertDataSizeDelta(-1)},
			check: func(t *testing.T, q []byte) {
				offset := QuoteCertDataOffset(len(DefaultQEAuthData)) + certDataTypeSize
				got := binary.LittleEndian.Uint32(q[offset:])
				if int(got) != len(q)-offset-certDataSizeSize-1 {
					t.Errorf("certification data size = %d", got)
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			q, err := a.Quote([64]byte{}, tc.opts...)
			if err != nil {
				t.Fatalf("Quote: %v", err)
			}
			tc.check(t, q)
		})
	}
}

func TestQuoteInvalidOptions(t *testing.T) {
	a := newAuthority(t, Options{})
	p384, err := ecdsa.GenerateKey(elliptic.P384(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]QuoteOption{
		"auth data size beyond 16 bits":   WithQEAuthDataSizeDelta(1 << 16),
		"negative cert data size":         WithCertDataSizeDelta(-1 << 20),
		"negative truncation":             Truncate(-1),
		"P-384 attestation key":           WithAttestationKey(p384),
		"P-384 PCK key":                   WithLeaf(a.PCK(), p384),
		"nil edit functions are harmless": nil,
	}
	for name, opt := range cases {
		t.Run(name, func(t *testing.T) {
			if opt == nil {
				if _, err := a.Quote([64]byte{}, WithHeader(nil), WithReportBody(nil), WithQEReport(nil)); err != nil {
					t.Errorf("Quote with nil edit functions: %v", err)
				}
				return
			}
			if _, err := a.Quote([64]byte{}, opt); err == nil {
				t.Error("Quote succeeded, want an error")
			}
		})
	}
}

func TestCollateralInvalidOptions(t *testing.T) {
	a := newAuthority(t, Options{})
	p384, err := ecdsa.GenerateKey(elliptic.P384(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]CollateralOption{
		"TCB Info version 1":               WithTCBInfoVersion(1),
		"P-384 signer":                     WithCollateralSigner(p384, a.TCBSigning(), a.Root()),
		"nil JSON signer":                  WithCollateralSigner(nil),
		"CRL signer without a certificate": WithPCKCRLSigner(nil, a.IntermediateKey()),
		"CRL signer without a key":         WithRootCRLSigner(a.Root(), nil),
	}
	for name, opt := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := a.Collateral(time.Now(), opt); err == nil {
				t.Error("Collateral succeeded, want an error")
			}
		})
	}
}

func TestAuthorityConcurrentUse(t *testing.T) {
	a := newAuthority(t, Options{})
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			var reportData [64]byte
			reportData[0] = byte(i)
			if _, err := a.Quote(reportData); err != nil {
				errs <- err
				return
			}
			_, err := a.Collateral(time.Now())
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func wantLen(t *testing.T, q []byte, n int) {
	t.Helper()
	if len(q) != n {
		t.Errorf("quote is %d bytes, want %d", len(q), n)
	}
}

func TestReportDataForRSAKey(t *testing.T) {
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(bytes.Repeat([]byte{0xC3}, 384)), E: 65537}
	nonce := [16]byte{0xAA, 0xBB}
	got := ReportDataForRSAKey(pub, nonce)

	var message []byte
	message = append(message, 0x01, 0x00, 0x01)
	message = append(message, bytes.Repeat([]byte{0xC3}, 384)...)
	message = append(message, nonce[:]...)
	want := sha256.Sum256(message)
	if !bytes.Equal(got[:32], want[:]) {
		t.Errorf("binding = %x, want %x", got[:32], want)
	}
	if !bytes.Equal(got[32:], make([]byte, 32)) {
		t.Error("second half of the report data is not zero")
	}
	if ReportDataForRSAKey(pub, DefaultNonce) == got {
		t.Error("the nonce does not change the binding")
	}
}

func TestCollateralSignatures(t *testing.T) {
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("tcb info v%d", version), func(t *testing.T) {
			a := newAuthority(t, Options{})
			at := time.Now()
			b, err := a.Collateral(at, WithTCBInfoVersion(version))
			if err != nil {
				t.Fatalf("Collateral: %v", err)
			}
			signingKey := a.TCBSigning().PublicKey.(*ecdsa.PublicKey)
			if !verifyRaw(signingKey, b.TCBInfo, b.TCBInfoSignature) {
				t.Error("TCB Info signature does not verify")
			}
			if !verifyRaw(signingKey, b.QEIdentity, b.QEIdentitySignature) {
				t.Error("QE Identity signature does not verify")
			}

			var tcbInfo map[string]any
			if err := json.Unmarshal(b.TCBInfo, &tcbInfo); err != nil {
				t.Fatalf("TCB Info is not JSON: %v", err)
			}
			if got := tcbInfo["version"]; got != float64(version) {
				t.Errorf("version = %v, want %d", got, version)
			}
			if got := tcbInfo["fmspc"]; got != hex.EncodeToString(DefaultFMSPC[:]) {
				t.Errorf("fmspc = %v", got)
			}
			_, hasID := tcbInfo["id"]
			if hasID != (version == 3) {
				t.Errorf("id present = %v in version %d", hasID, version)
			}
			wantField := "sgxtcbcomponents"
			if version == 2 {
				wantField = "sgxtcbcomp16svn"
			}
			if !bytes.Contains(b.TCBInfo, []byte(`"`+wantField+`"`)) {
				t.Errorf("TCB Info v%d has no %s field", version, wantField)
			}
			issue, err := time.Parse(time.RFC3339, tcbInfo["issueDate"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if !issue.Before(at) {
				t.Errorf("issueDate %s is not before %s", issue, at)
			}

			var qe map[string]any
			if err := json.Unmarshal(b.QEIdentity, &qe); err != nil {
				t.Fatalf("QE Identity is not JSON: %v", err)
			}
			if qe["id"] != "QE" || qe["version"] != float64(2) {
				t.Errorf("QE Identity id %v version %v", qe["id"], qe["version"])
			}
			if qe["mrsigner"] != strings.ToUpper(hex.EncodeToString(DevQEMRSigner[:])) {
				t.Errorf("mrsigner = %v", qe["mrsigner"])
			}
		})
	}
}

func TestCollateralCRLs(t *testing.T) {
	a := newAuthority(t, Options{CAType: ProcessorCA})
	b, err := a.Collateral(time.Now(), RevokePCK(), RevokeIntermediate())
	if err != nil {
		t.Fatalf("Collateral: %v", err)
	}
	pckCRL, err := x509.ParseRevocationList(b.PCKCRL)
	if err != nil {
		t.Fatal(err)
	}
	if err := pckCRL.CheckSignatureFrom(a.Intermediate()); err != nil {
		t.Errorf("PCK CRL is not signed by the intermediate: %v", err)
	}
	if !revokes(pckCRL, a.PCK().SerialNumber) {
		t.Error("PCK CRL does not list the PCK certificate")
	}
	rootCRL, err := x509.ParseRevocationList(b.RootCACRL)
	if err != nil {
		t.Fatal(err)
	}
	if err := rootCRL.CheckSignatureFrom(a.Root()); err != nil {
		t.Errorf("root CA CRL is not signed by the root: %v", err)
	}
	if !revokes(rootCRL, a.Intermediate().SerialNumber) {
		t.Error("root CA CRL does not list the intermediate")
	}
	if !bytes.HasPrefix(b.PCKCRLIssuerChain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Intermediate().Raw})) {
		t.Error("PCK CRL issuer chain does not start with the intermediate")
	}

	corrupt, err := a.Collateral(time.Now(), CorruptPCKCRLSignature(), CorruptRootCRLSignature())
	if err != nil {
		t.Fatal(err)
	}
	for name, der := range map[string][]byte{"pck": corrupt.PCKCRL, "root": corrupt.RootCACRL} {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatalf("corrupted %s CRL does not parse: %v", name, err)
		}
		if crl.CheckSignatureFrom(a.Root()) == nil || crl.CheckSignatureFrom(a.Intermediate()) == nil {
			t.Errorf("corrupted %s CRL signature still verifies", name)
		}
	}
}

func TestCollateralCRLFormats(t *testing.T) {
	a := newAuthority(t, Options{})
	der, err := a.Collateral(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pemForm, err := a.Collateral(time.Now(), WithCRLFormat(CRLPEM))
	if err != nil {
		t.Fatal(err)
	}
	hexForm, err := a.Collateral(time.Now(), WithCRLFormat(CRLHex))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParseRevocationList(der.PCKCRL); err != nil {
		t.Errorf("DER CRL: %v", err)
	}
	if block, _ := pem.Decode(pemForm.PCKCRL); block == nil || block.Type != "X509 CRL" {
		t.Error("PEM CRL has no X509 CRL block")
	}
	if _, err := hex.DecodeString(string(hexForm.RootCACRL)); err != nil {
		t.Errorf("hex CRL: %v", err)
	}
}

func revokes(crl *x509.RevocationList, serial *big.Int) bool {
	for _, entry := range crl.RevokedCertificateEntries {
		if entry.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, caType := range []CAType{PlatformCA, ProcessorCA} {
		t.Run(string(caType), func(t *testing.T) {
			a := newAuthority(t, Options{CAType: caType, FMSPC: [6]byte{9, 8, 7, 6, 5, 4}})
			dir := filepath.Join(t.TempDir(), "authority")
			if err := a.Save(dir); err != nil {
				t.Fatalf("Save: %v", err)
			}
			info, err := os.Stat(filepath.Join(dir, AttestationKeyFile))
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != keyFileMode {
				t.Errorf("key file mode = %v, want %v", info.Mode().Perm(), os.FileMode(keyFileMode))
			}

			b, err := Load(dir)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if b.CAType() != caType || b.Extension() != a.Extension() {
				t.Errorf("loaded CA type %s extension %+v, want %s %+v", b.CAType(), b.Extension(), caType, a.Extension())
			}
			if !b.Root().Equal(a.Root()) || !b.PCK().Equal(a.PCK()) || !b.TCBSigning().Equal(a.TCBSigning()) {
				t.Error("loaded certificates differ")
			}
			if !b.AttestationKey().Equal(a.AttestationKey()) || !b.PCKKey().Equal(a.PCKKey()) {
				t.Error("loaded keys differ")
			}
			if b.qeID != a.qeID {
				t.Error("loaded QE ID differs")
			}
			q, err := b.Quote([64]byte{})
			if err != nil {
				t.Fatal(err)
			}
			l := splitQuote(t, q)
			if !verifyRaw(a.PCK().PublicKey.(*ecdsa.PublicKey), l.qeReport, l.qeReportSig) {
				t.Error("quote of the loaded authority is not signed by the saved PCK key")
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	a := newAuthority(t, Options{})
	other := newAuthority(t, Options{})
	cases := map[string]func(t *testing.T, dir string){
		"missing file": func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, PCKKeyFile)); err != nil {
				t.Fatal(err)
			}
		},
		"mismatched key": func(t *testing.T, dir string) {
			data, err := encodeKeyPEM(other.PCKKey())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, PCKKeyFile), data, keyFileMode); err != nil {
				t.Fatal(err)
			}
		},
		"foreign pck": func(t *testing.T, dir string) {
			if err := other.Save(t.TempDir()); err != nil {
				t.Fatal(err)
			}
			cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.PCK().Raw})
			key, err := encodeKeyPEM(other.PCKKey())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, PCKCertFile), cert, certFileMode); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, PCKKeyFile), key, keyFileMode); err != nil {
				t.Fatal(err)
			}
		},
		"not pem": func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, RootCertFile), []byte("root"), certFileMode); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := a.Save(dir); err != nil {
				t.Fatal(err)
			}
			damage(t, dir)
			if _, err := Load(dir); err == nil {
				t.Error("Load succeeded, want an error")
			}
		})
	}
}

func BenchmarkQuote(b *testing.B) {
	a := newAuthority(b, Options{})
	for b.Loop() {
		if _, err := a.Quote([64]byte{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCollateral(b *testing.B) {
	a := newAuthority(b, Options{})
	at := time.Now()
	for b.Loop() {
		if _, err := a.Collateral(at); err != nil {
			b.Fatal(err)
		}
	}
}

func ecdsaP256() elliptic.Curve { return elliptic.P256() }
