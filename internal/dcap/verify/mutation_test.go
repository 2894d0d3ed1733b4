package verify

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tcs-project/tcs/internal/dcap/quote"
)

// Offsets into a real quote for the mutations below.
const (
	bodyStart     = quote.HeaderSize
	sigDataStart  = quote.MinSize
	attestKeyAt   = sigDataStart + quote.SignatureSize
	qeReportAt    = attestKeyAt + quote.AttestationKeySize
	qeReportSigAt = qeReportAt + quote.ReportBodySize
	authLenAt     = qeReportSigAt + quote.SignatureSize
)

func TestVerifyRealMutations(t *testing.T) {
	cases := map[string]struct {
		mutate func(b []byte) []byte
		kind   error
		step   Step
	}{
		"body byte flipped": {
			func(b []byte) []byte { b[bodyStart+100] ^= 1; return b }, ErrInvalidQuoteSignature, StepQuoteSignature,
		},
		"report data flipped": {
			func(b []byte) []byte { b[bodyStart+320] ^= 0x80; return b }, ErrInvalidQuoteSignature, StepQuoteSignature,
		},
		"header user data flipped": {
			func(b []byte) []byte { b[quote.HeaderSize-1] ^= 1; return b }, ErrInvalidQuoteSignature, StepQuoteSignature,
		},
		"quote signature flipped": {
			func(b []byte) []byte { b[sigDataStart+5] ^= 1; return b }, ErrInvalidQuoteSignature, StepQuoteSignature,
		},
		"attestation key flipped": {
			func(b []byte) []byte { b[attestKeyAt+3] ^= 1; return b }, ErrInvalidQuoteSignature, StepQEReportBinding,
		},
		"QE report flipped": {
			func(b []byte) []byte { b[qeReportAt+70] ^= 1; return b }, ErrInvalidQuoteSignature, StepQEReportSignature,
		},
		"QE report signature flipped": {
			func(b []byte) []byte { b[qeReportSigAt+40] ^= 1; return b }, ErrInvalidQuoteSignature, StepQEReportSignature,
		},
		"QE auth data flipped": {
			func(b []byte) []byte { b[authLenAt+2] ^= 1; return b }, ErrInvalidQuoteSignature, StepQEReportBinding,
		},
		"version 4": {
			func(b []byte) []byte { binary.LittleEndian.PutUint16(b, 4); return b }, ErrUnsupportedQuote, StepParse,
		},
		"QE vendor ID changed": {
			func(b []byte) []byte { b[12] ^= 1; return b }, ErrUnsupportedQuote, StepParse,
		},
		"trailing byte": {
			func(b []byte) []byte { return append(b, 0) }, ErrMalformedQuote, StepParse,
		},
		"PCK chain byte flipped": {
			func(b []byte) []byte { b[len(b)-200] ^= 1; return b }, ErrUntrustedPCKChain, StepPCKChain,
		},
		"PCK chain without NUL": {
			func(b []byte) []byte { return shrinkCertData(b, 1) }, nil, "",
		},
		"PCK chain reversed": {
			func(b []byte) []byte { return reverseCerts(b) }, nil, "",
		},
		"PCK chain without root": {
			func(b []byte) []byte { return dropLastCert(b) }, ErrUntrustedPCKChain, StepPCKChain,
		},
	}
	v := New(Config{})
	for _, s := range realSamples(t) {
		for name, tc := range cases {
			t.Run(s.name+"/"+name, func(t *testing.T) {
				b := tc.mutate(bytes.Clone(s.quote))
				r, err := v.Verify(b, s.collateral, s.at)
				if r == nil {
					t.Fatal("Result is nil")
				}
				if tc.kind == nil {
					if err != nil {
						t.Fatalf("Verify: %v", err)
					}
					return
				}
				if !errors.Is(err, tc.kind) {
					t.Fatalf("err = %v, want %v", err, tc.kind)
				}
				var verr *Error
				if !errors.As(err, &verr) {
					t.Fatalf("err is %T, want *Error", err)
				}
				if r.Verified || r.Step != tc.step || verr.Step != tc.step {
					t.Errorf("Verified = %v, Step = %q (error %q), want false at %q", r.Verified, r.Step, verr.Step, tc.step)
				}
			})
		}
	}
}

// shrinkCertData removes the last n bytes of the certification data and
// fixes the lengths.
func shrinkCertData(b []byte, n int) []byte {
	q, err := quote.Parse(b)
	if err != nil {
		panic(err)
	}
	q.Signature.CertData = q.Signature.CertData[:len(q.Signature.CertData)-n]
	out, err := q.Marshal()
	if err != nil {
		panic(err)
	}
	return out
}

// reverseCerts puts the PEM certificates of the certification data in
// reverse order, root first.
func reverseCerts(b []byte) []byte {
	q, err := quote.Parse(b)
	if err != nil {
		panic(err)
	}
	const end = "-----END CERTIFICATE-----\n"
	blocks := strings.SplitAfter(strings.TrimRight(string(q.Signature.CertData), "\x00"), end)
	blocks = blocks[:len(blocks)-1] // the empty text after the last block
	slices.Reverse(blocks)
	q.Signature.CertData = []byte(strings.Join(blocks, "") + "\x00")
	out, err := q.Marshal()
	if err != nil {
		panic(err)
	}
	return out
}

// dropLastCert removes the last PEM certificate (the root) from the
// certification data.
func dropLastCert(b []byte) []byte {
	q, err := quote.Parse(b)
	if err != nil {
		panic(err)
	}
	data := q.Signature.CertData
	i := bytes.LastIndex(data, []byte("-----BEGIN CERTIFICATE-----"))
	q.Signature.CertData = append(bytes.Clone(data[:i]), 0)
	out, err := q.Marshal()
	if err != nil {
		panic(err)
	}
	return out
}

func TestVerifyRealTruncated(t *testing.T) {
	v := New(Config{})
	for _, s := range realSamples(t) {
		for n := 0; n < len(s.quote); n += 7 {
			r, err := v.Verify(s.quote[:n], s.collateral, s.at)
			if !errors.Is(err, ErrMalformedQuote) {
				t.Fatalf("%s: Verify(%d of %d bytes) = %v, want ErrMalformedQuote", s.name, n, len(s.quote), err)
			}
			if r.Verified || r.Step != StepParse {
				t.Fatalf("%s: %d bytes: Verified = %v, Step = %q", s.name, n, r.Verified, r.Step)
			}
		}
	}
}

func TestVerifyRealNilCollateral(t *testing.T) {
	v := New(Config{})
	for _, s := range realSamples(t) {
		r, err := v.Verify(s.quote, nil, s.at)
		if !errors.Is(err, ErrInvalidCollateral) || r.Verified {
			t.Errorf("%s: err = %v, Verified = %v, want ErrInvalidCollateral", s.name, err, r.Verified)
		}
	}
}

func TestVerifyRealWrongCollateral(t *testing.T) {
	samples := realSamples(t)
	if len(samples) < 2 {
		t.Skip("needs two samples of different platforms")
	}
	v := New(Config{})
	a, b := samples[0], samples[1]
	_, err := v.Verify(a.quote, b.collateral, b.at)
	if err == nil {
		t.Fatalf("quote %s verified with the collateral of %s", a.name, b.name)
	}
	if !errors.Is(err, ErrInvalidCollateral) && !errors.Is(err, ErrCollateralExpired) {
		t.Errorf("err = %v, want ErrInvalidCollateral or ErrCollateralExpired", err)
	}
}
