package devpki

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// JSON shapes of Intel's PCS API v4. Field order follows Intel's responses
// so that the signed text looks like the real one; a verifier must not
// depend on it.

type tcbInfoV3JSON struct {
	ID                      string           `json:"id"`
	Version                 int              `json:"version"`
	IssueDate               string           `json:"issueDate"`
	NextUpdate              string           `json:"nextUpdate"`
	FMSPC                   string           `json:"fmspc"`
	PCEID                   string           `json:"pceId"`
	TCBType                 int              `json:"tcbType"`
	TCBEvaluationDataNumber int              `json:"tcbEvaluationDataNumber"`
	TCBLevels               []tcbLevelV3JSON `json:"tcbLevels"`
}

type tcbLevelV3JSON struct {
	TCB struct {
		Components []svnJSON `json:"sgxtcbcomponents"`
		PCESVN     uint16    `json:"pcesvn"`
	} `json:"tcb"`
	TCBDate     string   `json:"tcbDate"`
	TCBStatus   string   `json:"tcbStatus"`
	AdvisoryIDs []string `json:"advisoryIDs,omitempty"`
}

type svnJSON struct {
	SVN byte `json:"svn"`
}

// tcbInfoV2JSON has no id: TCB Info v2 describes SGX only.
type tcbInfoV2JSON struct {
	Version                 int              `json:"version"`
	IssueDate               string           `json:"issueDate"`
	NextUpdate              string           `json:"nextUpdate"`
	FMSPC                   string           `json:"fmspc"`
	PCEID                   string           `json:"pceId"`
	TCBType                 int              `json:"tcbType"`
	TCBEvaluationDataNumber int              `json:"tcbEvaluationDataNumber"`
	TCBLevels               []tcbLevelV2JSON `json:"tcbLevels"`
}

type tcbLevelV2JSON struct {
	TCB         tcbV2JSON `json:"tcb"`
	TCBDate     string    `json:"tcbDate"`
	TCBStatus   string    `json:"tcbStatus"`
	AdvisoryIDs []string  `json:"advisoryIDs,omitempty"`
}

// tcbV2JSON is the v2 TCB: sgxtcbcomp01svn to sgxtcbcomp16svn, then pcesvn.
type tcbV2JSON struct {
	components [16]byte
	pcesvn     uint16
}

func (t tcbV2JSON) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, svn := range t.components {
		fmt.Fprintf(&b, "%q:%d,", fmt.Sprintf("sgxtcbcomp%02dsvn", i+1), svn)
	}
	fmt.Fprintf(&b, "%q:%d}", "pcesvn", t.pcesvn)
	return b.Bytes(), nil
}

type qeIdentityJSONBody struct {
	ID                      string        `json:"id"`
	Version                 int           `json:"version"`
	IssueDate               string        `json:"issueDate"`
	NextUpdate              string        `json:"nextUpdate"`
	TCBEvaluationDataNumber int           `json:"tcbEvaluationDataNumber"`
	MiscSelect              string        `json:"miscselect"`
	MiscSelectMask          string        `json:"miscselectMask"`
	Attributes              string        `json:"attributes"`
	AttributesMask          string        `json:"attributesMask"`
	MRSigner                string        `json:"mrsigner"`
	ISVProdID               uint16        `json:"isvprodid"`
	TCBLevels               []qeLevelJSON `json:"tcbLevels"`
}

type qeLevelJSON struct {
	TCB struct {
		ISVSVN uint16 `json:"isvsvn"`
	} `json:"tcb"`
	TCBDate     string   `json:"tcbDate"`
	TCBStatus   string   `json:"tcbStatus"`
	AdvisoryIDs []string `json:"advisoryIDs,omitempty"`
}

func (a *Authority) tcbInfoJSON(c *tcbInfoConfig) ([]byte, error) {
	var body any
	switch c.layout {
	case 2:
		v2 := tcbInfoV2JSON{
			Version:                 c.versionField,
			IssueDate:               FormatCollateralTime(c.issueDate),
			NextUpdate:              FormatCollateralTime(c.nextUpdate),
			FMSPC:                   hex.EncodeToString(c.fmspc[:]),
			PCEID:                   hex.EncodeToString(c.pceID[:]),
			TCBType:                 c.tcbType,
			TCBEvaluationDataNumber: c.evaluationData,
			TCBLevels:               []tcbLevelV2JSON{},
		}
		for _, l := range c.levels {
			v2.TCBLevels = append(v2.TCBLevels, tcbLevelV2JSON{
				TCB:         tcbV2JSON{components: l.Components, pcesvn: l.PCESVN},
				TCBDate:     FormatCollateralTime(l.Date),
				TCBStatus:   l.Status,
				AdvisoryIDs: l.AdvisoryIDs,
			})
		}
		body = v2
	case 3:
		v3 := tcbInfoV3JSON{
			ID:                      c.id,
			Version:                 c.versionField,
			IssueDate:               FormatCollateralTime(c.issueDate),
			NextUpdate:              FormatCollateralTime(c.nextUpdate),
			FMSPC:                   hex.EncodeToString(c.fmspc[:]),
			PCEID:                   hex.EncodeToString(c.pceID[:]),
			TCBType:                 c.tcbType,
			TCBEvaluationDataNumber: c.evaluationData,
			TCBLevels:               []tcbLevelV3JSON{},
		}
		for _, l := range c.levels {
			level := tcbLevelV3JSON{
				TCBDate:     FormatCollateralTime(l.Date),
				TCBStatus:   l.Status,
				AdvisoryIDs: l.AdvisoryIDs,
			}
			for _, svn := range l.Components {
				level.TCB.Components = append(level.TCB.Components, svnJSON{SVN: svn})
			}
			level.TCB.PCESVN = l.PCESVN
			v3.TCBLevels = append(v3.TCBLevels, level)
		}
		body = v3
	default:
		return nil, fmt.Errorf("invalid TCB Info version %d: use 2 or 3", c.layout)
	}
	out, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode TCB Info: %w", err)
	}
	if c.edit != nil {
		out = c.edit(out)
	}
	return out, nil
}

func qeIdentityJSON(c *qeIdentityConfig) ([]byte, error) {
	var misc, miscMask [4]byte
	// MISCSELECT is a little-endian uint32 in the report; Intel's hex text
	// is its big-endian value, as in "miscselectMask":"FFFFFFFF".
	putUint32BE(misc[:], c.miscSelect)
	putUint32BE(miscMask[:], c.miscMask)
	body := qeIdentityJSONBody{
		ID:                      c.id,
		Version:                 c.version,
		IssueDate:               FormatCollateralTime(c.issueDate),
		NextUpdate:              FormatCollateralTime(c.nextUpdate),
		TCBEvaluationDataNumber: c.evaluationData,
		MiscSelect:              hexUpper(misc[:]),
		MiscSelectMask:          hexUpper(miscMask[:]),
		Attributes:              hexUpper(c.attributes[:]),
		AttributesMask:          hexUpper(c.attrMask[:]),
		MRSigner:                hexUpper(c.mrSigner[:]),
		ISVProdID:               c.isvProdID,
		TCBLevels:               []qeLevelJSON{},
	}
	for _, l := range c.levels {
		level := qeLevelJSON{
			TCBDate:     FormatCollateralTime(l.Date),
			TCBStatus:   l.Status,
			AdvisoryIDs: l.AdvisoryIDs,
		}
		level.TCB.ISVSVN = l.ISVSVN
		body.TCBLevels = append(body.TCBLevels, level)
	}
	out, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode QE Identity: %w", err)
	}
	if c.edit != nil {
		out = c.edit(out)
	}
	return out, nil
}

func putUint32BE(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
