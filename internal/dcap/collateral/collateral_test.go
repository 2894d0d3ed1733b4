package collateral

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/tcs-project/tcs/internal/realquotes"
)

// realBundles returns the collateral.json files of $TCS_REAL_QUOTES, or
// nil when the variable is not set.
func realBundles(tb testing.TB) map[string][]byte {
	tb.Helper()
	return realquotes.Files(tb, "collateral.json")
}

const tcbInfoV2 = `{"version":2,"issueDate":"2021-01-01T00:00:00Z","nextUpdate":"2021-02-01T00:00:00Z",` +
	`"fmspc":"00906ea10000","pceId":"0000","tcbType":0,"tcbEvaluationDataNumber":10,"tcbLevels":[` +
	`{"tcb":{"sgxtcbcomp01svn":17,"sgxtcbcomp02svn":17,"sgxtcbcomp03svn":2,"sgxtcbcomp04svn":4,` +
	`"sgxtcbcomp05svn":1,"sgxtcbcomp06svn":128,"sgxtcbcomp07svn":0,"sgxtcbcomp08svn":0,` +
	`"sgxtcbcomp09svn":0,"sgxtcbcomp10svn":0,"sgxtcbcomp11svn":0,"sgxtcbcomp12svn":0,` +
	`"sgxtcbcomp13svn":0,"sgxtcbcomp14svn":0,"sgxtcbcomp15svn":0,"sgxtcbcomp16svn":0,"pcesvn":11},` +
	`"tcbDate":"2020-11-11T00:00:00Z","tcbStatus":"SWHardeningNeeded","advisoryIDs":["INTEL-SA-00334"]}]}`

const qeIdentityV2 = `{"id":"QE","version":2,"issueDate":"2021-01-01T00:00:00Z","nextUpdate":"2021-02-01T00:00:00Z",` +
	`"tcbEvaluationDataNumber":10,"miscselect":"00000000","miscselectMask":"FFFFFFFF",` +
	`"attributes":"11000000000000000000000000000000","attributesMask":"FBFFFFFFFFFFFFFF0000000000000000",` +
	`"mrsigner":"8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF","isvprodid":1,` +
	`"tcbLevels":[{"tcb":{"isvsvn":6},"tcbDate":"2021-11-10T00:00:00Z","tcbStatus":"UpToDate"}]}`

func TestParseTCBInfoV2(t *testing.T) {
	info, err := ParseTCBInfo([]byte(tcbInfoV2))
	if err != nil {
		t.Fatalf("ParseTCBInfo: %v", err)
	}
	if info.Version != 2 || len(info.Levels) != 1 {
		t.Fatalf("version %d, %d levels", info.Version, len(info.Levels))
	}
	lv := info.Levels[0]
	if lv.Components[0] != 17 || lv.Components[5] != 128 || lv.PCESVN != 11 {
		t.Errorf("level = %+v", lv)
	}
	if lv.Status != StatusSWHardeningNeeded || len(lv.AdvisoryIDs) != 1 {
		t.Errorf("status %q, advisories %v", lv.Status, lv.AdvisoryIDs)
	}
	if hex.EncodeToString(info.FMSPC[:]) != "00906ea10000" {
		t.Errorf("FMSPC = %x", info.FMSPC)
	}
}

func TestParseTCBInfoRejects(t *testing.T) {
	cases := map[string]string{
		"version 1":         strings.Replace(tcbInfoV2, `"version":2`, `"version":1`, 1),
		"version 3 no id":   strings.Replace(tcbInfoV2, `"version":2`, `"version":3`, 1),
		"v2 id TDX":         strings.Replace(tcbInfoV2, `"version":2`, `"id":"TDX","version":2`, 1),
		"short fmspc":       strings.Replace(tcbInfoV2, `"00906ea10000"`, `"00906ea100"`, 1),
		"non-hex pce id":    strings.Replace(tcbInfoV2, `"pceId":"0000"`, `"pceId":"zz00"`, 1),
		"tcb type 1":        strings.Replace(tcbInfoV2, `"tcbType":0`, `"tcbType":1`, 1),
		"bad issue date":    strings.Replace(tcbInfoV2, `2021-01-01T00:00:00Z`, `yesterday`, 1),
		"window reversed":   strings.Replace(tcbInfoV2, `"nextUpdate":"2021-02-01`, `"nextUpdate":"2020-02-01`, 1),
		"unknown status":    strings.Replace(tcbInfoV2, `SWHardeningNeeded`, `Fine`, 1),
		"missing component": strings.Replace(tcbInfoV2, `"sgxtcbcomp16svn":0,`, ``, 1),
		"component 256":     strings.Replace(tcbInfoV2, `"sgxtcbcomp06svn":128`, `"sgxtcbcomp06svn":256`, 1),
		"negative pcesvn":   strings.Replace(tcbInfoV2, `"pcesvn":11`, `"pcesvn":-1`, 1),
		"no levels":         tcbInfoV2[:strings.Index(tcbInfoV2, `"tcbLevels"`)] + `"tcbLevels":[]}`,
		"not JSON":          tcbInfoV2[:40],
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseTCBInfo([]byte(text)); !errors.Is(err, ErrInvalidJSON) {
				t.Errorf("ParseTCBInfo = %v, want ErrInvalidJSON", err)
			}
		})
	}
}

func TestParseQEIdentity(t *testing.T) {
	id, err := ParseQEIdentity([]byte(qeIdentityV2))
	if err != nil {
		t.Fatalf("ParseQEIdentity: %v", err)
	}
	if id.MiscSelectMask != 0xffffffff || id.Attributes[0] != 0x11 || id.AttributesMask[0] != 0xfb {
		t.Errorf("masks: misc %x attributes %x mask %x", id.MiscSelectMask, id.Attributes, id.AttributesMask)
	}
	if id.ISVProdID != 1 || len(id.Levels) != 1 || id.Levels[0].ISVSVN != 6 {
		t.Errorf("identity = %+v", id)
	}
}

func TestParseQEIdentityRejects(t *testing.T) {
	cases := map[string]string{
		"id QVE":          strings.Replace(qeIdentityV2, `"id":"QE"`, `"id":"QVE"`, 1),
		"version 1":       strings.Replace(qeIdentityV2, `"version":2`, `"version":1`, 1),
		"short mrsigner":  strings.Replace(qeIdentityV2, `"mrsigner":"8C`, `"mrsigner":"`, 1),
		"status Config":   strings.Replace(qeIdentityV2, `"UpToDate"`, `"ConfigurationNeeded"`, 1),
		"prodid too big":  strings.Replace(qeIdentityV2, `"isvprodid":1`, `"isvprodid":65536`, 1),
		"missing isvsvn":  strings.Replace(qeIdentityV2, `"isvsvn":6`, `"svn":6`, 1),
		"bad next update": strings.Replace(qeIdentityV2, `"nextUpdate":"2021-02-01T00:00:00Z"`, `"nextUpdate":""`, 1),
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseQEIdentity([]byte(text)); !errors.Is(err, ErrInvalidJSON) {
				t.Errorf("ParseQEIdentity = %v, want ErrInvalidJSON", err)
			}
		})
	}
}

func TestParseRealCollateral(t *testing.T) {
	bundles := realBundles(t)
	if bundles == nil {
		t.Skip("TCS_REAL_QUOTES is not set: it names the folder of real SGX quotes with their collateral")
	}
	for name, data := range bundles {
		b, err := ParseBundleJSON(data)
		if err != nil {
			t.Fatalf("%s: ParseBundleJSON: %v", name, err)
		}
		if _, err := ParseTCBInfo(b.TCBInfo); err != nil {
			t.Errorf("%s: ParseTCBInfo: %v", name, err)
		}
		if _, err := ParseQEIdentity(b.QEIdentity); err != nil {
			t.Errorf("%s: ParseQEIdentity: %v", name, err)
		}
		out, err := b.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseBundleJSON(out)
		if err != nil {
			t.Fatalf("%s: parse of MarshalJSON output: %v", name, err)
		}
		if !bytes.Equal(again.TCBInfo, b.TCBInfo) || !bytes.Equal(again.PCKCRL, b.PCKCRL) {
			t.Errorf("%s: bundle changed in a JSON round trip", name)
		}
	}
}

func TestNormalizeCRLForms(t *testing.T) {
	der := []byte{0x30, 0x03, 0x02, 0x01, 0x01}
	pemText := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	cases := map[string][]byte{
		"DER":            der,
		"PEM":            pemText,
		"PEM with space": append(append([]byte("\n "), pemText...), "\n\n"...),
		"hex":            []byte(hex.EncodeToString(der)),
		"hex upper":      []byte(strings.ToUpper(hex.EncodeToString(der)) + "\n"),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := NormalizeCRL(in)
			if err != nil {
				t.Fatalf("NormalizeCRL: %v", err)
			}
			if !bytes.Equal(got, der) {
				t.Errorf("NormalizeCRL = %x, want %x", got, der)
			}
		})
	}
}

func TestNormalizeCRLRejects(t *testing.T) {
	der := []byte{0x30, 0x03, 0x02, 0x01, 0x01}
	cases := map[string][]byte{
		"empty":           nil,
		"odd hex":         []byte("308"),
		"hex not DER":     []byte("0203020101"),
		"PEM certificate": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"PEM trailing":    append(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), "junk"...),
		"broken PEM":      []byte("-----BEGIN X509 CRL-----\nAAA"),
		"text":            []byte("not a crl"),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := NormalizeCRL(in); !errors.Is(err, ErrInvalidCRL) {
				t.Errorf("NormalizeCRL = %v, want ErrInvalidCRL", err)
			}
		})
	}
}

func TestParseBundleJSONCRLForms(t *testing.T) {
	bundles := realBundles(t)
	if bundles == nil {
		t.Skip("TCS_REAL_QUOTES is not set: it names the folder of real SGX quotes with their collateral")
	}
	for name, data := range bundles {
		want, err := ParseBundleJSON(data)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]string
		if err := json.Unmarshal(data, &fields); err != nil {
			t.Fatal(err)
		}
		fields["pck_crl"] = string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: want.PCKCRL}))
		fields["root_ca_crl"] = strings.ToUpper(fields["root_ca_crl"])
		changed, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseBundleJSON(changed)
		if err != nil {
			t.Fatalf("%s: ParseBundleJSON with a PEM CRL: %v", name, err)
		}
		if !bytes.Equal(got.PCKCRL, want.PCKCRL) || !bytes.Equal(got.RootCACRL, want.RootCACRL) {
			t.Errorf("%s: CRLs differ after normalising", name)
		}
	}
}
