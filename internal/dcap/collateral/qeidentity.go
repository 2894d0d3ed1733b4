package collateral

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// QEIdentityID is the id of the identity of Intel's quoting enclave.
const QEIdentityID = "QE"

// qeStatuses are the statuses a QE Identity level may carry.
var qeStatuses = map[string]bool{StatusUpToDate: true, StatusOutOfDate: true, StatusRevoked: true}

// QEIdentity is a decoded QE Identity, version 2 ("Enclave Identity V2" in
// Intel's PCS API reference).
type QEIdentity struct {
	Version                 int
	IssueDate               time.Time
	NextUpdate              time.Time
	TCBEvaluationDataNumber int
	MiscSelect              uint32
	MiscSelectMask          uint32
	Attributes              [16]byte
	AttributesMask          [16]byte
	MRSigner                [32]byte
	ISVProdID               uint16
	// Levels are in the order Intel lists them, which is descending ISVSVN.
	Levels []QELevel
}

// QELevel is one quoting enclave TCB level.
type QELevel struct {
	ISVSVN      uint16
	TCBDate     time.Time
	Status      string
	AdvisoryIDs []string
}

type qeIdentityJSON struct {
	ID                      string `json:"id"`
	Version                 int    `json:"version"`
	IssueDate               string `json:"issueDate"`
	NextUpdate              string `json:"nextUpdate"`
	TCBEvaluationDataNumber *int   `json:"tcbEvaluationDataNumber"`
	MiscSelect              string `json:"miscselect"`
	MiscSelectMask          string `json:"miscselectMask"`
	Attributes              string `json:"attributes"`
	AttributesMask          string `json:"attributesMask"`
	MRSigner                string `json:"mrsigner"`
	ISVProdID               *int   `json:"isvprodid"`
	TCBLevels               []struct {
		TCB struct {
			ISVSVN *int `json:"isvsvn"`
		} `json:"tcb"`
		TCBDate     string   `json:"tcbDate"`
		TCBStatus   string   `json:"tcbStatus"`
		AdvisoryIDs []string `json:"advisoryIDs"`
	} `json:"tcbLevels"`
}

// ParseQEIdentity decodes the JSON text of an "enclaveIdentity" object and
// checks its structure: id "QE", version 2, hex fields of the right size,
// RFC 3339 dates and levels with a known status. It does not check the
// signature or the validity window.
func ParseQEIdentity(data []byte) (*QEIdentity, error) {
	var raw qeIdentityJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: QE Identity is not JSON: %v", ErrInvalidJSON, err)
	}
	if raw.ID != QEIdentityID {
		return nil, fmt.Errorf("%w: QE Identity id %q, want %q", ErrInvalidJSON, raw.ID, QEIdentityID)
	}
	if raw.Version != 2 {
		return nil, fmt.Errorf("%w: QE Identity version %d, only 2 is supported", ErrInvalidJSON, raw.Version)
	}

	id := &QEIdentity{Version: raw.Version}
	var err error
	if id.IssueDate, id.NextUpdate, err = parseWindow("QE Identity", raw.IssueDate, raw.NextUpdate); err != nil {
		return nil, err
	}
	if raw.TCBEvaluationDataNumber == nil || *raw.TCBEvaluationDataNumber < 0 {
		return nil, fmt.Errorf("%w: QE Identity tcbEvaluationDataNumber %s is missing or negative",
			ErrInvalidJSON, intText(raw.TCBEvaluationDataNumber))
	}
	id.TCBEvaluationDataNumber = *raw.TCBEvaluationDataNumber

	// MISCSELECT is a little-endian uint32 in the report, and the JSON hex
	// is read as the big-endian text of its value.
	// NOTE: this byte order is not confirmed against Intel's QVL. Intel's
	// published QE Identity (00000000 under mask FFFFFFFF) reads the same
	// either way.
	var misc, miscMask [4]byte
	hexFields := []struct {
		name string
		text string
		dst  []byte
	}{
		{"QE Identity miscselect", raw.MiscSelect, misc[:]},
		{"QE Identity miscselectMask", raw.MiscSelectMask, miscMask[:]},
		{"QE Identity attributes", raw.Attributes, id.Attributes[:]},
		{"QE Identity attributesMask", raw.AttributesMask, id.AttributesMask[:]},
		{"QE Identity mrsigner", raw.MRSigner, id.MRSigner[:]},
	}
	for _, f := range hexFields {
		if err := decodeHexField(f.name, f.text, f.dst); err != nil {
			return nil, err
		}
	}
	id.MiscSelect = binary.BigEndian.Uint32(misc[:])
	id.MiscSelectMask = binary.BigEndian.Uint32(miscMask[:])

	prodID, err := svnValue("isvprodid", raw.ISVProdID, 0xffff)
	if err != nil {
		return nil, fmt.Errorf("%w: QE Identity %v", ErrInvalidJSON, err)
	}
	id.ISVProdID = uint16(prodID)

	if len(raw.TCBLevels) == 0 {
		return nil, fmt.Errorf("%w: QE Identity has no tcbLevels", ErrInvalidJSON)
	}
	id.Levels = make([]QELevel, len(raw.TCBLevels))
	for i, l := range raw.TCBLevels {
		svn, err := svnValue("isvsvn", l.TCB.ISVSVN, 0xffff)
		if err != nil {
			return nil, fmt.Errorf("%w: QE Identity level %d: %v", ErrInvalidJSON, i, err)
		}
		date, err := time.Parse(time.RFC3339, l.TCBDate)
		if err != nil {
			return nil, fmt.Errorf("%w: QE Identity level %d: tcbDate %q is not an RFC 3339 time", ErrInvalidJSON, i, l.TCBDate)
		}
		if !qeStatuses[l.TCBStatus] {
			return nil, fmt.Errorf("%w: QE Identity level %d: tcbStatus %q is unknown", ErrInvalidJSON, i, l.TCBStatus)
		}
		id.Levels[i] = QELevel{ISVSVN: uint16(svn), TCBDate: date, Status: l.TCBStatus, AdvisoryIDs: l.AdvisoryIDs}
	}
	return id, nil
}
