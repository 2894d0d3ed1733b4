package verify

import (
	"bytes"
	"encoding/hex"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/dcap/pck"
	"github.com/tcs-project/tcs/internal/dcap/quote"
)

// selectPlatformLevel returns the first TCB Info level, in Intel's order
// (descending), whose 16 component SVNs and PCESVN the PCK certificate's
// TCB all reach.
func selectPlatformLevel(info *collateral.TCBInfo, ext *pck.Extension) (*collateral.TCBLevel, *Error) {
	for i := range info.Levels {
		lv := &info.Levels[i]
		if ext.PCESVN < lv.PCESVN {
			continue
		}
		reached := true
		for c := range lv.Components {
			if ext.Components[c] < lv.Components[c] {
				reached = false
				break
			}
		}
		if reached {
			return lv, nil
		}
	}
	return nil, failf(StepTCBEvaluation, ErrNoMatchingTCBLevel,
		"PCK TCB components %s with PCESVN %d are below every one of the %d TCB Info levels",
		hex.EncodeToString(ext.Components[:]), ext.PCESVN, len(info.Levels))
}

// checkQEIdentity compares the QE report with the QE Identity and returns
// the QE's TCB level, or nil when its ISVSVN is below every level. As in
// Intel's Quote Verification Library, the report's MISCSELECT and
// attributes are masked and compared with the identity's values as
// published.
func checkQEIdentity(id *collateral.QEIdentity, qe *quote.ReportBody) (*collateral.QELevel, *Error) {
	if qe.MRSigner != id.MRSigner {
		return nil, failf(StepQEIdentity, ErrQEIdentityMismatch, "QE MRSIGNER %x, QE Identity requires %x", qe.MRSigner, id.MRSigner)
	}
	if qe.ISVProdID != id.ISVProdID {
		return nil, failf(StepQEIdentity, ErrQEIdentityMismatch, "QE ISVPRODID %d, QE Identity requires %d", qe.ISVProdID, id.ISVProdID)
	}
	if qe.MiscSelect&id.MiscSelectMask != id.MiscSelect {
		return nil, failf(StepQEIdentity, ErrQEIdentityMismatch, "QE MISCSELECT %08x under mask %08x is not %08x",
			qe.MiscSelect, id.MiscSelectMask, id.MiscSelect)
	}
	var masked [16]byte
	for i := range masked {
		masked[i] = qe.Attributes[i] & id.AttributesMask[i]
	}
	if !bytes.Equal(masked[:], id.Attributes[:]) {
		return nil, failf(StepQEIdentity, ErrQEIdentityMismatch, "QE attributes %x under mask %x are not %x",
			qe.Attributes, id.AttributesMask, id.Attributes)
	}

	for i := range id.Levels {
		if qe.ISVSVN >= id.Levels[i].ISVSVN {
			return &id.Levels[i], nil
		}
	}
	return nil, nil
}

// mergeStatus combines the platform's TCB status with the QE's, following
// convergeTcbStatusWithQeTcbStatus in Intel's Quote Verification Library
// (Src/AttestationLibrary/src/Verifiers/Checks/TcbLevelCheck.cpp). An out-of-date QE makes an up-to-date or
// SW-hardening-needed platform OutOfDate, and a configuration-needed one
// OutOfDateConfigurationNeeded. A revoked QE makes everything Revoked.
func mergeStatus(platform, qe string) string {
	switch qe {
	case collateral.StatusOutOfDate:
		switch platform {
		case collateral.StatusUpToDate, collateral.StatusSWHardeningNeeded:
			return collateral.StatusOutOfDate
		case collateral.StatusConfigurationNeeded, collateral.StatusConfigurationAndSWHardeningNeeded:
			return collateral.StatusOutOfDateConfigurationNeeded
		}
	case collateral.StatusRevoked:
		return collateral.StatusRevoked
	}
	return platform
}

// unionAdvisories returns the advisory IDs of both lists, each once, in
// the order they first appear.
func unionAdvisories(lists ...[]string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, list := range lists {
		for _, id := range list {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// evaluateTCB selects the platform and QE levels and merges them. A QE
// ISVSVN below every QE Identity level is "not supported" in Intel's
// Quote Verification Library (STATUS_SGX_ENCLAVE_REPORT_ISVSVN_NOT_SUPPORTED,
// merged to STATUS_TCB_NOT_SUPPORTED), like a platform below every TCB Info
// level, so both fail with ErrNoMatchingTCBLevel.
func evaluateTCB(vc *verifiedCollateral, ext *pck.Extension, qe *quote.ReportBody, r *Result) *Error {
	qeLevel, err := checkQEIdentity(vc.qeIdentity, qe)
	if err != nil {
		return err
	}
	platform, err := selectPlatformLevel(vc.tcbInfo, ext)
	if err != nil {
		return err
	}
	if qeLevel == nil {
		return failf(StepTCBEvaluation, ErrNoMatchingTCBLevel, "QE ISVSVN %d is below every one of the %d QE Identity levels",
			qe.ISVSVN, len(vc.qeIdentity.Levels))
	}

	r.TCBStatus = mergeStatus(platform.Status, qeLevel.Status)
	r.AdvisoryIDs = unionAdvisories(platform.AdvisoryIDs, qeLevel.AdvisoryIDs)
	if r.TCBStatus == collateral.StatusRevoked {
		return failf(StepTCBEvaluation, ErrTCBRevoked, "platform TCB level %s, QE TCB level %s (ISVSVN >= %d, QE ISVSVN %d)",
			platform.Status, qeLevel.Status, qeLevel.ISVSVN, qe.ISVSVN)
	}
	return nil
}
