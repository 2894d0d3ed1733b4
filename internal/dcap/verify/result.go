package verify

import (
	"time"

	"github.com/tcs-project/tcs/internal/dcap/quote"
)

// Result is the outcome of verifying one quote. Fields that the failing
// step had not reached yet are zero.
type Result struct {
	Verified bool
	// Step is the failing step on failure.
	Step Step
	// TCBStatus is the merged platform and QE status: "UpToDate",
	// "SWHardeningNeeded", "ConfigurationNeeded",
	// "ConfigurationAndSWHardeningNeeded", "OutOfDate",
	// "OutOfDateConfigurationNeeded" or "Revoked".
	TCBStatus string
	// AdvisoryIDs are the Intel security advisories of the platform and
	// QE TCB levels.
	AdvisoryIDs []string
	// CollateralIssueDate is the latest issue date and CollateralNextUpdate
	// the earliest next update over TCB Info, QE Identity and both CRLs.
	CollateralIssueDate, CollateralNextUpdate time.Time
	Enclave                                   EnclaveIdentity
	FMSPC                                     [6]byte
	PCEID                                     [2]byte
	// CAType is "platform" or "processor": the intermediate CA that issued
	// the PCK certificate.
	CAType string
	// TrustedRoot is "Intel SGX Root CA" or the subject common name of the
	// extra root that anchored the chain.
	TrustedRoot string
	// DevelopmentRoot is true when an extra root, not the Intel root,
	// anchored the chain.
	DevelopmentRoot bool
}

// EnclaveIdentity is the identity of the enclave that produced the quote,
// from its report body.
type EnclaveIdentity struct {
	MREnclave, MRSigner [32]byte
	ISVProdID, ISVSVN   uint16
	Attributes          [16]byte
	// Debug is the DEBUG flag of the attributes (bit 1).
	Debug      bool
	ReportData [64]byte
	MiscSelect uint32
}

func enclaveIdentity(b *quote.ReportBody) EnclaveIdentity {
	return EnclaveIdentity{
		MREnclave:  b.MREnclave,
		MRSigner:   b.MRSigner,
		ISVProdID:  b.ISVProdID,
		ISVSVN:     b.ISVSVN,
		Attributes: b.Attributes,
		Debug:      b.Debug(),
		ReportData: b.ReportData,
		MiscSelect: b.MiscSelect,
	}
}
