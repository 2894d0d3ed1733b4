package verify

import (
	"errors"
	"slices"
	"testing"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/dcap/pck"
	"github.com/tcs-project/tcs/internal/dcap/quote"
)

func TestMergeStatus(t *testing.T) {
	const (
		up    = collateral.StatusUpToDate
		sw    = collateral.StatusSWHardeningNeeded
		cfg   = collateral.StatusConfigurationNeeded
		cfgSW = collateral.StatusConfigurationAndSWHardeningNeeded
		old   = collateral.StatusOutOfDate
		oldCf = collateral.StatusOutOfDateConfigurationNeeded
		rev   = collateral.StatusRevoked
	)
	cases := map[string]struct{ platform, qe, want string }{
		"both up to date":             {up, up, up},
		"platform SW hardening":       {sw, up, sw},
		"platform config":             {cfg, up, cfg},
		"platform config and SW":      {cfgSW, up, cfgSW},
		"platform out of date":        {old, up, old},
		"platform out of date config": {oldCf, up, oldCf},
		"platform revoked":            {rev, up, rev},
		"QE old, platform up":         {up, old, old},
		"QE old, platform SW":         {sw, old, old},
		"QE old, platform config":     {cfg, old, oldCf},
		"QE old, platform config SW":  {cfgSW, old, oldCf},
		"QE old, platform old":        {old, old, old},
		"QE old, platform old config": {oldCf, old, oldCf},
		"QE old, platform revoked":    {rev, old, rev},
		"QE revoked, platform up":     {up, rev, rev},
		"QE revoked, platform config": {cfg, rev, rev},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := mergeStatus(tc.platform, tc.qe); got != tc.want {
				t.Errorf("mergeStatus(%s, %s) = %s, want %s", tc.platform, tc.qe, got, tc.want)
			}
		})
	}
}

func level(status string, pcesvn uint16, components ...byte) collateral.TCBLevel {
	lv := collateral.TCBLevel{Status: status, PCESVN: pcesvn, AdvisoryIDs: []string{"SA-" + status}}
	copy(lv.Components[:], components)
	return lv
}

func TestSelectPlatformLevel(t *testing.T) {
	info := &collateral.TCBInfo{Levels: []collateral.TCBLevel{
		level(collateral.StatusUpToDate, 13, 5, 5, 2),
		level(collateral.StatusSWHardeningNeeded, 13, 5, 5, 1),
		level(collateral.StatusOutOfDate, 10, 3, 3),
	}}
	cases := map[string]struct {
		pcesvn     uint16
		components []byte
		want       string
	}{
		"all reached":             {13, []byte{5, 5, 2}, collateral.StatusUpToDate},
		"above all":               {20, []byte{9, 9, 9, 9}, collateral.StatusUpToDate},
		"third component low":     {13, []byte{5, 5, 1}, collateral.StatusSWHardeningNeeded},
		"PCESVN low":              {12, []byte{5, 5, 2}, collateral.StatusOutOfDate},
		"first component low":     {13, []byte{4, 5, 2}, collateral.StatusOutOfDate},
		"at the lowest level":     {10, []byte{3, 3}, collateral.StatusOutOfDate},
		"one component below all": {13, []byte{2, 9, 9}, ""},
		"PCESVN below all":        {9, []byte{9, 9, 9}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ext := &pck.Extension{PCESVN: tc.pcesvn}
			copy(ext.Components[:], tc.components)
			lv, err := selectPlatformLevel(info, ext)
			if tc.want == "" {
				if !errors.Is(err, ErrNoMatchingTCBLevel) {
					t.Errorf("err = %v, want ErrNoMatchingTCBLevel", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if lv.Status != tc.want {
				t.Errorf("status %s, want %s", lv.Status, tc.want)
			}
		})
	}
}

func TestCheckQEIdentity(t *testing.T) {
	id := &collateral.QEIdentity{
		MiscSelectMask: 0xffffffff, ISVProdID: 1,
		Levels: []collateral.QELevel{
			{ISVSVN: 8, Status: collateral.StatusUpToDate},
			{ISVSVN: 6, Status: collateral.StatusOutOfDate, AdvisoryIDs: []string{"INTEL-SA-00615"}},
		},
	}
	id.MRSigner[0] = 0x8c
	id.Attributes[0] = 0x11
	id.AttributesMask[0] = 0xfb
	good := func() quote.ReportBody {
		r := quote.ReportBody{ISVProdID: 1, ISVSVN: 8}
		r.MRSigner[0] = 0x8c
		r.Attributes[0] = 0x15 // bit 2 is outside the mask
		return r
	}
	cases := map[string]struct {
		mutate func(*quote.ReportBody)
		status string
		kind   error
	}{
		"up to date":         {func(*quote.ReportBody) {}, collateral.StatusUpToDate, nil},
		"ISVSVN 7":           {func(r *quote.ReportBody) { r.ISVSVN = 7 }, collateral.StatusOutOfDate, nil},
		"ISVSVN below all":   {func(r *quote.ReportBody) { r.ISVSVN = 5 }, "", nil},
		"MRSIGNER":           {func(r *quote.ReportBody) { r.MRSigner[31] = 1 }, "", ErrQEIdentityMismatch},
		"ISVPRODID":          {func(r *quote.ReportBody) { r.ISVProdID = 2 }, "", ErrQEIdentityMismatch},
		"MISCSELECT":         {func(r *quote.ReportBody) { r.MiscSelect = 1 }, "", ErrQEIdentityMismatch},
		"debug attribute":    {func(r *quote.ReportBody) { r.Attributes[0] |= 0x02 }, "", ErrQEIdentityMismatch},
		"attribute unmasked": {func(r *quote.ReportBody) { r.Attributes[9] = 0xff }, collateral.StatusUpToDate, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := good()
			tc.mutate(&r)
			lv, err := checkQEIdentity(id, &r)
			if tc.kind != nil {
				if !errors.Is(err, tc.kind) {
					t.Errorf("err = %v, want %v", err, tc.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if lv != nil {
				got = lv.Status
			}
			if got != tc.status {
				t.Errorf("level status %q, want %q", got, tc.status)
			}
		})
	}
}

func TestUnionAdvisories(t *testing.T) {
	got := unionAdvisories([]string{"A", "B"}, []string{"B", "C"}, nil)
	if !slices.Equal(got, []string{"A", "B", "C"}) {
		t.Errorf("unionAdvisories = %v", got)
	}
	if got := unionAdvisories(nil, nil); got == nil || len(got) != 0 {
		t.Errorf("unionAdvisories of nothing = %#v, want empty non-nil", got)
	}
}

func TestEvaluateTCBQEBelowEveryLevel(t *testing.T) {
	vc := &verifiedCollateral{
		tcbInfo: &collateral.TCBInfo{Levels: []collateral.TCBLevel{level(collateral.StatusUpToDate, 0)}},
		qeIdentity: &collateral.QEIdentity{Levels: []collateral.QELevel{
			{ISVSVN: 8, Status: collateral.StatusUpToDate},
		}},
	}
	r := &Result{}
	err := evaluateTCB(vc, &pck.Extension{}, &quote.ReportBody{ISVSVN: 7}, r)
	if !errors.Is(err, ErrNoMatchingTCBLevel) {
		t.Errorf("err = %v, want ErrNoMatchingTCBLevel", err)
	}
	if r.TCBStatus != "" {
		t.Errorf("TCBStatus = %q, want none", r.TCBStatus)
	}
}

func TestEvaluateTCBQERevoked(t *testing.T) {
	vc := &verifiedCollateral{
		tcbInfo: &collateral.TCBInfo{Levels: []collateral.TCBLevel{level(collateral.StatusUpToDate, 0)}},
		qeIdentity: &collateral.QEIdentity{Levels: []collateral.QELevel{
			{ISVSVN: 8, Status: collateral.StatusUpToDate},
			{ISVSVN: 2, Status: collateral.StatusRevoked, AdvisoryIDs: []string{"INTEL-SA-00202"}},
		}},
	}
	r := &Result{}
	err := evaluateTCB(vc, &pck.Extension{}, &quote.ReportBody{ISVSVN: 3}, r)
	if !errors.Is(err, ErrTCBRevoked) {
		t.Errorf("err = %v, want ErrTCBRevoked", err)
	}
	if r.TCBStatus != collateral.StatusRevoked {
		t.Errorf("TCBStatus = %q, want Revoked", r.TCBStatus)
	}
	if !slices.Contains(r.AdvisoryIDs, "INTEL-SA-00202") {
		t.Errorf("AdvisoryIDs = %v, want the QE level's", r.AdvisoryIDs)
	}
}
