package pccs

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
)

// Validity is the window in which every piece of a bundle is current.
type Validity struct {
	// IssueDate is the latest issueDate (TCB Info, QE Identity) or
	// thisUpdate (CRLs) over the pieces of the bundle.
	IssueDate time.Time
	// NextUpdate is the earliest nextUpdate over the pieces of the bundle.
	NextUpdate time.Time
}

// Age returns how long before at the newest piece of the bundle was issued.
func (v Validity) Age(at time.Time) time.Duration { return at.Sub(v.IssueDate) }

// Remaining returns the time from at until the first piece needs an
// update; it is negative once the bundle has expired.
func (v Validity) Remaining(at time.Time) time.Duration { return v.NextUpdate.Sub(at) }

// Contains reports whether at lies in [IssueDate, NextUpdate).
func (v Validity) Contains(at time.Time) bool {
	return !at.Before(v.IssueDate) && at.Before(v.NextUpdate)
}

// Entry is a bundle with the facts read from it.
type Entry struct {
	Key      Key
	Validity Validity
	Bundle   *collateral.Bundle
}

// signedDates are the members of TCB Info and QE Identity this package
// reads. Both carry issueDate and nextUpdate as RFC 3339 UTC times, and
// only TCB Info carries fmspc.
type signedDates struct {
	IssueDate  *time.Time `json:"issueDate"`
	NextUpdate *time.Time `json:"nextUpdate"`
	FMSPC      string     `json:"fmspc"`
}

// Describe reads the FMSPC, the PCK CA type and the validity window of a
// bundle. The FMSPC comes from the TCB Info. The CA type comes from the
// common name of the PCK CRL's issuer ("Intel SGX PCK Platform CA" or
// "... Processor CA"). Only when the name contains neither word is caHint
// used, and when caHint is empty too, Describe fails. Describe checks no
// signature.
func Describe(b *collateral.Bundle, caHint string) (Entry, error) {
	tcb, err := readSignedDates(b.TCBInfo, "TCB Info")
	if err != nil {
		return Entry{}, err
	}
	qe, err := readSignedDates(b.QEIdentity, "QE Identity")
	if err != nil {
		return Entry{}, err
	}
	fmspc, err := ParseFMSPC(tcb.FMSPC)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: TCB Info: %w", ErrInvalidBundle, err)
	}

	pckCRL, err := x509.ParseRevocationList(b.PCKCRL)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: PCK CRL does not parse: %w", ErrInvalidBundle, err)
	}
	rootCRL, err := x509.ParseRevocationList(b.RootCACRL)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: root CA CRL does not parse: %w", ErrInvalidBundle, err)
	}
	for _, crl := range []*x509.RevocationList{pckCRL, rootCRL} {
		if crl.NextUpdate.IsZero() {
			return Entry{}, fmt.Errorf("%w: CRL of %q has no nextUpdate", ErrInvalidBundle, crl.Issuer.CommonName)
		}
	}

	ca, err := caOfCRL(pckCRL, caHint)
	if err != nil {
		return Entry{}, err
	}

	v := Validity{IssueDate: *tcb.IssueDate, NextUpdate: *tcb.NextUpdate}
	v = v.narrow(*qe.IssueDate, *qe.NextUpdate)
	v = v.narrow(pckCRL.ThisUpdate, pckCRL.NextUpdate)
	v = v.narrow(rootCRL.ThisUpdate, rootCRL.NextUpdate)
	return Entry{Key: Key{FMSPC: fmspc, CA: ca}, Validity: v, Bundle: b}, nil
}

func (v Validity) narrow(issue, next time.Time) Validity {
	if issue.After(v.IssueDate) {
		v.IssueDate = issue
	}
	if next.Before(v.NextUpdate) {
		v.NextUpdate = next
	}
	return v
}

func readSignedDates(body []byte, what string) (signedDates, error) {
	var d signedDates
	if err := json.Unmarshal(body, &d); err != nil {
		return d, fmt.Errorf("%w: %s JSON: %w", ErrInvalidBundle, what, err)
	}
	if d.IssueDate == nil || d.NextUpdate == nil {
		return d, fmt.Errorf("%w: %s lacks issueDate or nextUpdate", ErrInvalidBundle, what)
	}
	if !d.NextUpdate.After(*d.IssueDate) {
		return d, fmt.Errorf("%w: %s nextUpdate %s is not after issueDate %s", ErrInvalidBundle, what,
			d.NextUpdate.Format(time.RFC3339), d.IssueDate.Format(time.RFC3339))
	}
	return d, nil
}

func caOfCRL(crl *x509.RevocationList, caHint string) (string, error) {
	name := strings.ToLower(crl.Issuer.CommonName)
	switch {
	case strings.Contains(name, CAProcessor):
		return CAProcessor, nil
	case strings.Contains(name, CAPlatform):
		return CAPlatform, nil
	case caHint != "":
		return ParseCA(caHint)
	}
	return "", fmt.Errorf("%w: cannot tell the PCK CA type from the CRL issuer %q; name the file <fmspc>-platform.json or <fmspc>-processor.json",
		ErrInvalidBundle, crl.Issuer.CommonName)
}
