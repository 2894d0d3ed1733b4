package policy

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
)

// DefaultTCBStatuses are the TCB statuses a rule accepts when it lists
// none: a platform that is up to date, or needs only software hardening
// in the enclave.
var DefaultTCBStatuses = []string{collateral.StatusUpToDate, collateral.StatusSWHardeningNeeded}

// knownTCBStatuses are the statuses a rule may accept: every TCB status of
// Intel's TCB Info v2 and v3 except Revoked.
var knownTCBStatuses = []string{
	collateral.StatusUpToDate,
	collateral.StatusSWHardeningNeeded,
	collateral.StatusConfigurationNeeded,
	collateral.StatusConfigurationAndSWHardeningNeeded,
	collateral.StatusOutOfDate,
	collateral.StatusOutOfDateConfigurationNeeded,
}

// Policy is a parsed and validated release policy.
type Policy struct {
	// Rules in file order. The first rule matching a signer applies.
	Rules []Rule

	// DevelopmentRootPaths are the developmentRoots entries as written.
	DevelopmentRootPaths []string
	// developmentRootLines are the lines of DevelopmentRootPaths, for
	// errors about reading them.
	developmentRootLines []int

	// DevelopmentRoots are the certificates read from
	// DevelopmentRootPaths. Load fills it and Parse leaves it empty.
	DevelopmentRoots []*x509.Certificate

	// Warnings are sentences about settings that weaken the policy, such
	// as development roots and debug enclaves. The key server logs them
	// at start.
	Warnings []string
}

// Rule is one entry of the rules list.
type Rule struct {
	// Name is the name field, or "rules[N]" when the rule has none.
	Name string
	// Line is the line of the rule in the policy file.
	Line int

	Signers           []string
	MRSigners         [][32]byte
	MREnclaves        [][32]byte
	ISVProdID         *uint16
	MinISVSVN         uint16
	AllowDebug        bool
	TCBStatuses       []string
	DeniedAdvisoryIDs []string
	// MaxCollateralAge is zero when the rule sets no limit.
	MaxCollateralAge time.Duration
}

// Evidence is the part of a verified quote that Evaluate checks.
// EvidenceFromResult builds it from a verify.Result.
type Evidence struct {
	MREnclave, MRSigner [32]byte
	ISVProdID, ISVSVN   uint16
	Debug               bool
	TCBStatus           string
	AdvisoryIDs         []string
	// CollateralIssueDate is the latest issue date over the collateral.
	CollateralIssueDate time.Time
	// DevelopmentRoot is true when a development root, not the Intel SGX
	// Root CA, anchored the PCK chain. TrustedRoot names that root.
	DevelopmentRoot bool
	TrustedRoot     string
}

// Reason is the code of a decision. The key server maps it to the state
// of the QuoteAttestation condition.
type Reason string

const (
	// ReasonAllowed means the rule accepts the enclave and platform.
	ReasonAllowed Reason = "Allowed"
	// ReasonUnknownSigner means no rule matches the signer name.
	ReasonUnknownSigner Reason = "UnknownSigner"
	// ReasonDebugEnclave means the enclave is a debug enclave and the
	// rule does not allow debug enclaves.
	ReasonDebugEnclave Reason = "DebugEnclave"
	// ReasonEnclaveNotAllowed means the MRSIGNER, MRENCLAVE, ISVPRODID or
	// ISVSVN of the enclave is not one the rule allows.
	ReasonEnclaveNotAllowed Reason = "EnclaveNotAllowed"
	// ReasonTCBStatusNotAccepted means the rule does not accept the
	// platform's TCB status.
	ReasonTCBStatusNotAccepted Reason = "TCBStatusNotAccepted"
	// ReasonTCBRevoked means the platform's TCB status is Revoked, which
	// no rule accepts.
	ReasonTCBRevoked Reason = "TCBRevoked"
	// ReasonAdvisoryDenied means an advisory the rule denies applies to
	// the platform.
	ReasonAdvisoryDenied Reason = "AdvisoryDenied"
	// ReasonCollateralTooOld means the collateral was issued longer ago
	// than the rule's maxCollateralAge.
	ReasonCollateralTooOld Reason = "CollateralTooOld"
	// ReasonQuoteNotVerified means EvaluateResult was given a result
	// whose verification failed for a reason other than a revoked TCB.
	ReasonQuoteNotVerified Reason = "QuoteNotVerified"
)

// Decision is the outcome of evaluating one signer's request.
type Decision struct {
	Allowed bool
	Reason  Reason
	// Message is a sentence naming the value that decided and, for a
	// rejection, what to do about it.
	Message string
	// Rule is the name of the rule that applied, empty when none did.
	Rule string
}

func (r *Rule) label() string {
	return fmt.Sprintf("%q (line %d)", r.Name, r.Line)
}
