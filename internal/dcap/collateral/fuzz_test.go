package collateral

import (
	"encoding/hex"
	"testing"
)

// addRealSeeds adds the TCB Info, QE Identity or bundle of every real
// sample as a seed.
func addRealSeeds(f *testing.F, pick func(*Bundle) []byte) {
	for _, data := range realBundles(f) {
		if pick == nil {
			f.Add(data)
			continue
		}
		b, err := ParseBundleJSON(data)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pick(b))
	}
}

func FuzzParseTCBInfo(f *testing.F) {
	addRealSeeds(f, func(b *Bundle) []byte { return b.TCBInfo })
	f.Add([]byte(tcbInfoV2))
	f.Add([]byte(`{"id":"SGX","version":3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseTCBInfo(data)
		if err != nil {
			return
		}
		if len(info.Levels) == 0 || info.NextUpdate.Before(info.IssueDate) {
			t.Fatalf("accepted TCB Info with %d levels, window %s..%s", len(info.Levels), info.IssueDate, info.NextUpdate)
		}
	})
}

func FuzzParseQEIdentity(f *testing.F) {
	addRealSeeds(f, func(b *Bundle) []byte { return b.QEIdentity })
	f.Add([]byte(qeIdentityV2))
	f.Add([]byte(`{"id":"QE","version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParseQEIdentity(data)
		if err != nil {
			return
		}
		if len(id.Levels) == 0 {
			t.Fatal("accepted QE Identity without levels")
		}
	})
}

func FuzzParseBundleJSON(f *testing.F) {
	addRealSeeds(f, nil)
	f.Add([]byte(`{"pck_crl":"30","root_ca_crl":"-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundleJSON(data)
		if err != nil {
			return
		}
		out, err := b.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		if _, err := ParseBundleJSON(out); err != nil {
			t.Fatalf("ParseBundleJSON of MarshalJSON output: %v", err)
		}
	})
}

func FuzzNormalizeCRL(f *testing.F) {
	for _, data := range realBundles(f) {
		if b, err := ParseBundleJSON(data); err == nil {
			f.Add(b.PCKCRL)
			f.Add([]byte(hex.EncodeToString(b.RootCACRL)))
		}
	}
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"))
	f.Add([]byte("3000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		der, err := NormalizeCRL(data)
		if err != nil {
			return
		}
		if len(der) == 0 || der[0] != derSequenceTag {
			t.Fatalf("NormalizeCRL returned %x, not a DER SEQUENCE", der)
		}
		again, err := NormalizeCRL(der)
		if err != nil || string(again) != string(der) {
			t.Fatalf("NormalizeCRL is not idempotent: %v", err)
		}
	})
}
