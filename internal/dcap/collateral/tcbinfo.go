package collateral

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidJSON is wrapped by the errors of ParseTCBInfo and
// ParseQEIdentity.
var ErrInvalidJSON = errors.New("invalid collateral")

// TCB statuses that Intel's TCB Info and QE Identity use.
const (
	StatusUpToDate                          = "UpToDate"
	StatusSWHardeningNeeded                 = "SWHardeningNeeded"
	StatusConfigurationNeeded               = "ConfigurationNeeded"
	StatusConfigurationAndSWHardeningNeeded = "ConfigurationAndSWHardeningNeeded"
	StatusOutOfDate                         = "OutOfDate"
	StatusOutOfDateConfigurationNeeded      = "OutOfDateConfigurationNeeded"
	StatusRevoked                           = "Revoked"
)

// platformStatuses are the statuses a TCB Info level may carry.
var platformStatuses = map[string]bool{
	StatusUpToDate: true, StatusSWHardeningNeeded: true, StatusConfigurationNeeded: true,
	StatusConfigurationAndSWHardeningNeeded: true, StatusOutOfDate: true,
	StatusOutOfDateConfigurationNeeded: true, StatusRevoked: true,
}

// TCBComponentCount is the number of SGX TCB component SVNs in a level.
const TCBComponentCount = 16

// TCBInfoID is the id of an SGX TCB Info (version 3; version 2 has no id).
const TCBInfoID = "SGX"

// TCBInfo is a decoded SGX TCB Info, version 2 or 3, as in Intel's "PCS
// API" reference (TCB Info V2 and V3 data models).
type TCBInfo struct {
	Version                 int
	IssueDate               time.Time
	NextUpdate              time.Time
	FMSPC                   [6]byte
	PCEID                   [2]byte
	TCBType                 int
	TCBEvaluationDataNumber int
	// Levels are in the order Intel lists them, which is descending.
	Levels []TCBLevel
}

// TCBLevel is one platform TCB level.
type TCBLevel struct {
	Components  [TCBComponentCount]byte
	PCESVN      uint16
	TCBDate     time.Time
	Status      string
	AdvisoryIDs []string
}

type tcbInfoJSON struct {
	ID                      *string         `json:"id"`
	Version                 int             `json:"version"`
	IssueDate               string          `json:"issueDate"`
	NextUpdate              string          `json:"nextUpdate"`
	FMSPC                   string          `json:"fmspc"`
	PCEID                   string          `json:"pceId"`
	TCBType                 *int            `json:"tcbType"`
	TCBEvaluationDataNumber *int            `json:"tcbEvaluationDataNumber"`
	TCBLevels               []tcbLevelJSON  `json:"tcbLevels"`
	TDXModule               json.RawMessage `json:"tdxModule"`
}

type tcbLevelJSON struct {
	TCB         json.RawMessage `json:"tcb"`
	TCBDate     string          `json:"tcbDate"`
	TCBStatus   string          `json:"tcbStatus"`
	AdvisoryIDs []string        `json:"advisoryIDs"`
}

// tcbV3JSON is a level's "tcb" object in version 3.
type tcbV3JSON struct {
	SGXComponents []struct {
		SVN *int `json:"svn"`
	} `json:"sgxtcbcomponents"`
	PCESVN *int `json:"pcesvn"`
}

// ParseTCBInfo decodes the JSON text of a "tcbInfo" object and checks its
// structure: version 2 or 3, id "SGX" (required in version 3), TCB type 0,
// hex FMSPC and PCE ID of the right size, RFC 3339 dates, and levels with
// 16 component SVNs in 0..255, a PCESVN in 0..65535 and a known status. It
// does not check the signature or the validity window.
func ParseTCBInfo(data []byte) (*TCBInfo, error) {
	var raw tcbInfoJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: TCB Info is not JSON: %v", ErrInvalidJSON, err)
	}

	switch raw.Version {
	case 2:
		if raw.ID != nil && *raw.ID != TCBInfoID {
			return nil, fmt.Errorf("%w: TCB Info id %q, want %q", ErrInvalidJSON, *raw.ID, TCBInfoID)
		}
	case 3:
		if raw.ID == nil || *raw.ID != TCBInfoID {
			return nil, fmt.Errorf("%w: TCB Info id %s, want %q", ErrInvalidJSON, quoted(raw.ID), TCBInfoID)
		}
	default:
		return nil, fmt.Errorf("%w: TCB Info version %d, only 2 and 3 are supported", ErrInvalidJSON, raw.Version)
	}
	if len(raw.TDXModule) != 0 {
		return nil, fmt.Errorf("%w: TCB Info has a tdxModule, it is for TDX, not SGX", ErrInvalidJSON)
	}

	info := &TCBInfo{Version: raw.Version}
	var err error
	if info.IssueDate, info.NextUpdate, err = parseWindow("TCB Info", raw.IssueDate, raw.NextUpdate); err != nil {
		return nil, err
	}
	if err := decodeHexField("TCB Info fmspc", raw.FMSPC, info.FMSPC[:]); err != nil {
		return nil, err
	}
	if err := decodeHexField("TCB Info pceId", raw.PCEID, info.PCEID[:]); err != nil {
		return nil, err
	}
	if raw.TCBType == nil || *raw.TCBType != 0 {
		return nil, fmt.Errorf("%w: TCB Info tcbType %s, only 0 is defined", ErrInvalidJSON, intText(raw.TCBType))
	}
	if raw.TCBEvaluationDataNumber == nil || *raw.TCBEvaluationDataNumber < 0 {
		return nil, fmt.Errorf("%w: TCB Info tcbEvaluationDataNumber %s is missing or negative",
			ErrInvalidJSON, intText(raw.TCBEvaluationDataNumber))
	}
	info.TCBEvaluationDataNumber = *raw.TCBEvaluationDataNumber

	if len(raw.TCBLevels) == 0 {
		return nil, fmt.Errorf("%w: TCB Info has no tcbLevels", ErrInvalidJSON)
	}
	info.Levels = make([]TCBLevel, len(raw.TCBLevels))
	for i, l := range raw.TCBLevels {
		if err := info.Levels[i].decode(l, raw.Version); err != nil {
			return nil, fmt.Errorf("%w: TCB Info level %d: %v", ErrInvalidJSON, i, err)
		}
	}
	return info, nil
}

func (lv *TCBLevel) decode(raw tcbLevelJSON, version int) error {
	var err error
	if version == 2 {
		err = lv.decodeTCBV2(raw.TCB)
	} else {
		err = lv.decodeTCBV3(raw.TCB)
	}
	if err != nil {
		return err
	}
	if lv.TCBDate, err = time.Parse(time.RFC3339, raw.TCBDate); err != nil {
		return fmt.Errorf("tcbDate %q is not an RFC 3339 time", raw.TCBDate)
	}
	if !platformStatuses[raw.TCBStatus] {
		return fmt.Errorf("tcbStatus %q is unknown", raw.TCBStatus)
	}
	lv.Status = raw.TCBStatus
	lv.AdvisoryIDs = raw.AdvisoryIDs
	return nil
}

// decodeTCBV2 reads {"sgxtcbcomp01svn": .., .., "sgxtcbcomp16svn": ..,
// "pcesvn": ..}.
func (lv *TCBLevel) decodeTCBV2(data json.RawMessage) error {
	var fields map[string]*int
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return fmt.Errorf("tcb is not an object of integers")
	}
	for i := range TCBComponentCount {
		name := fmt.Sprintf("sgxtcbcomp%02dsvn", i+1)
		svn, err := svnValue(name, fields[name], 0xff)
		if err != nil {
			return err
		}
		lv.Components[i] = byte(svn)
	}
	pcesvn, err := svnValue("pcesvn", fields["pcesvn"], 0xffff)
	lv.PCESVN = uint16(pcesvn)
	return err
}

func (lv *TCBLevel) decodeTCBV3(data json.RawMessage) error {
	var tcb tcbV3JSON
	if err := json.Unmarshal(data, &tcb); err != nil {
		return fmt.Errorf("tcb is not a version 3 object: %v", err)
	}
	if len(tcb.SGXComponents) != TCBComponentCount {
		return fmt.Errorf("sgxtcbcomponents has %d entries, want %d", len(tcb.SGXComponents), TCBComponentCount)
	}
	for i, c := range tcb.SGXComponents {
		svn, err := svnValue(fmt.Sprintf("sgxtcbcomponents[%d].svn", i), c.SVN, 0xff)
		if err != nil {
			return err
		}
		lv.Components[i] = byte(svn)
	}
	pcesvn, err := svnValue("pcesvn", tcb.PCESVN, 0xffff)
	lv.PCESVN = uint16(pcesvn)
	return err
}

func svnValue(name string, v *int, max int) (int, error) {
	if v == nil {
		return 0, fmt.Errorf("%s is missing", name)
	}
	if *v < 0 || *v > max {
		return 0, fmt.Errorf("%s is %d, outside 0..%d", name, *v, max)
	}
	return *v, nil
}

func parseWindow(name, issue, next string) (time.Time, time.Time, error) {
	issueDate, err := time.Parse(time.RFC3339, issue)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: %s issueDate %q is not an RFC 3339 time", ErrInvalidJSON, name, issue)
	}
	nextUpdate, err := time.Parse(time.RFC3339, next)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: %s nextUpdate %q is not an RFC 3339 time", ErrInvalidJSON, name, next)
	}
	if nextUpdate.Before(issueDate) {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: %s nextUpdate %s is before its issueDate %s",
			ErrInvalidJSON, name, next, issue)
	}
	return issueDate, nextUpdate, nil
}

func decodeHexField(name, text string, dst []byte) error {
	if hex.DecodedLen(len(text)) != len(dst) {
		return fmt.Errorf("%w: %s %q is not %d bytes of hex", ErrInvalidJSON, name, text, len(dst))
	}
	if _, err := hex.Decode(dst, []byte(text)); err != nil {
		return fmt.Errorf("%w: %s %q is not hex", ErrInvalidJSON, name, text)
	}
	return nil
}

func quoted(s *string) string {
	if s == nil {
		return "(missing)"
	}
	return fmt.Sprintf("%q", *s)
}

func intText(v *int) string {
	if v == nil {
		return "(missing)"
	}
	return fmt.Sprint(*v)
}
