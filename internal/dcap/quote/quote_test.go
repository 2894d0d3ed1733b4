package quote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/tcs-project/tcs/internal/realquotes"
)

// realQuotes returns the quote.bin of every folder of $TCS_REAL_QUOTES, or
// nil when the variable is not set.
func realQuotes(tb testing.TB) map[string][]byte {
	tb.Helper()
	return realquotes.Files(tb, "quote.bin")
}

func requireRealQuotes(tb testing.TB) map[string][]byte {
	tb.Helper()
	q := realQuotes(tb)
	if q == nil {
		tb.Skip("TCS_REAL_QUOTES is not set: it names the folder of real SGX quotes with their collateral")
	}
	return q
}

// syntheticQuote builds a structurally valid quote with the given QE
// authentication data and certification data.
func syntheticQuote(authData, certData []byte, certType uint16) []byte {
	q := &Quote{
		Header: Header{Version: Version3, AttestationKeyType: AttestationKeyECDSAP256, QEVendorID: IntelQEVendorID},
		Signature: SignatureData{
			QEAuthData: authData,
			CertType:   certType,
			CertData:   certData,
		},
	}
	q.Body.ISVProdID = 7
	q.Body.Attributes[0] = 0x07
	b, err := q.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

func TestParseRealRoundTrip(t *testing.T) {
	for name, b := range requireRealQuotes(t) {
		q, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: Parse: %v", name, err)
		}
		out, err := q.Marshal()
		if err != nil {
			t.Fatalf("%s: Marshal: %v", name, err)
		}
		if !bytes.Equal(out, b) {
			t.Errorf("%s: Marshal(Parse(b)) differs from b", name)
		}
		if q.Signature.CertType != CertDataPCKChain {
			t.Errorf("%s: CertType = %d", name, q.Signature.CertType)
		}
		if !bytes.HasSuffix(q.Signature.CertData, []byte("-----END CERTIFICATE-----\n\x00")) {
			t.Errorf("%s: certification data does not end in the PEM trailer and NUL", name)
		}
		if q.Header.QEVendorID != IntelQEVendorID {
			t.Errorf("%s: QE vendor ID = %x", name, q.Header.QEVendorID)
		}
	}
}

func TestParseSyntheticFields(t *testing.T) {
	b := syntheticQuote([]byte("auth"), []byte("chain\n"), CertDataPCKChain)
	q, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if q.Body.ISVProdID != 7 {
		t.Errorf("ISVProdID = %d, want 7", q.Body.ISVProdID)
	}
	if !q.Body.Debug() {
		t.Error("Debug() = false for attributes 0x07")
	}
	if string(q.Signature.QEAuthData) != "auth" {
		t.Errorf("QEAuthData = %q", q.Signature.QEAuthData)
	}
	if string(q.Signature.CertData) != "chain\n" {
		t.Errorf("CertData = %q", q.Signature.CertData)
	}
	if len(q.Signature.QEReportRaw) != ReportBodySize {
		t.Errorf("QEReportRaw is %d bytes", len(q.Signature.QEReportRaw))
	}
}

// sectionBoundaries returns the offsets at which the sections of quote b
// start and end.
func sectionBoundaries(t *testing.T, b []byte) map[string]int {
	q, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	authEnd := MinSize + sigDataFixedSize + sizeQEAuthDataLen + len(q.Signature.QEAuthData)
	return map[string]int{
		"empty":                0,
		"inside header":        HeaderSize / 2,
		"after header":         HeaderSize,
		"inside body":          HeaderSize + ReportBodySize/2,
		"after body":           offSignatureDataLen,
		"inside sig length":    offSignatureDataLen + 2,
		"after sig length":     MinSize,
		"after quote sig":      MinSize + SignatureSize,
		"after attest key":     MinSize + SignatureSize + AttestationKeySize,
		"inside QE report":     MinSize + SignatureSize + AttestationKeySize + 100,
		"after QE report":      MinSize + SignatureSize + AttestationKeySize + ReportBodySize,
		"after QE report sig":  MinSize + sigDataFixedSize,
		"inside auth length":   MinSize + sigDataFixedSize + 1,
		"after auth length":    MinSize + sigDataFixedSize + sizeQEAuthDataLen,
		"after auth data":      authEnd,
		"after cert type":      authEnd + sizeCertDataType,
		"after cert length":    authEnd + sizeCertDataType + sizeCertDataLen,
		"one byte short":       len(b) - 1,
		"inside cert data":     authEnd + sizeCertDataType + sizeCertDataLen + 10,
		"inside cert length":   authEnd + sizeCertDataType + 1,
		"inside attest key":    MinSize + SignatureSize + 10,
		"inside quote sig":     MinSize + 10,
		"inside QE report sig": MinSize + SignatureSize + AttestationKeySize + ReportBodySize + 5,
	}
}

func TestParseTruncated(t *testing.T) {
	quotes := realQuotes(t)
	if quotes == nil {
		quotes = map[string][]byte{}
	}
	quotes["synthetic"] = syntheticQuote(make([]byte, 32), bytes.Repeat([]byte("c"), 40), CertDataPCKChain)
	for name, b := range quotes {
		for cut, n := range sectionBoundaries(t, b) {
			t.Run(name+"/"+cut, func(t *testing.T) {
				_, err := Parse(b[:n])
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("Parse(%d of %d bytes) = %v, want ErrMalformed", n, len(b), err)
				}
			})
		}
	}
}

// TestParseTruncatedEveryLength cuts a quote at every length, so that no
// prefix panics or parses.
func TestParseTruncatedEveryLength(t *testing.T) {
	b := syntheticQuote(make([]byte, 32), bytes.Repeat([]byte("c"), 40), CertDataPCKChain)
	for n := range len(b) {
		if _, err := Parse(b[:n]); err == nil {
			t.Fatalf("Parse(%d of %d bytes) succeeded", n, len(b))
		}
	}
}

func TestParseRejects(t *testing.T) {
	base := syntheticQuote(make([]byte, 32), []byte("chain\n"), CertDataPCKChain)
	sigDataStart := MinSize
	authLenAt := sigDataStart + sigDataFixedSize
	certTypeAt := authLenAt + sizeQEAuthDataLen + 32
	certLenAt := certTypeAt + sizeCertDataType

	cases := map[string]struct {
		mutate func([]byte) []byte
		want   error
	}{
		"version 2": {func(b []byte) []byte { binary.LittleEndian.PutUint16(b[offVersion:], 2); return b }, ErrUnsupported},
		"version 4": {func(b []byte) []byte { binary.LittleEndian.PutUint16(b[offVersion:], 4); return b }, ErrUnsupported},
		"key type P-384": {func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[offAttestationKeyType:], 3)
			return b
		}, ErrUnsupported},
		"TEE type TDX":  {func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offTEEType:], 0x81); return b }, ErrUnsupported},
		"trailing byte": {func(b []byte) []byte { return append(b, 0) }, ErrMalformed},
		"trailing byte counted in sig length": {func(b []byte) []byte {
			b = append(b, 0)
			binary.LittleEndian.PutUint32(b[offSignatureDataLen:], uint32(len(b)-MinSize))
			return b
		}, ErrMalformed},
		"sig length too long": {func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[offSignatureDataLen:], uint32(len(b)))
			return b
		}, ErrMalformed},
		"sig length max": {func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[offSignatureDataLen:], 0xffffffff)
			return b
		}, ErrMalformed},
		"auth length too long": {func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[authLenAt:], 0xffff)
			return b
		}, ErrMalformed},
		"auth length one short": {func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[authLenAt:], 31)
			return b
		}, ErrMalformed},
		"cert length short": {func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[certLenAt:], 2)
			return b
		}, ErrMalformed},
		"cert length max": {func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[certLenAt:], 0xffffffff)
			return b
		}, ErrMalformed},
		"cert type 6": {func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[certTypeAt:], 6)
			return b
		}, ErrUnsupported},
		"cert type 1": {func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[certTypeAt:], 1)
			return b
		}, ErrUnsupported},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := tc.mutate(bytes.Clone(base))
			_, err := Parse(b)
			if !errors.Is(err, tc.want) {
				t.Errorf("Parse = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseCertTypeNamed(t *testing.T) {
	_, err := Parse(syntheticQuote(nil, []byte("x"), 3))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("type 3")) {
		t.Errorf("Parse error %v does not name certification data type 3", err)
	}
}
