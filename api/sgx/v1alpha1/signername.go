package v1alpha1

import "regexp"

// SignerNamePattern is the form of a signer name that the CRD enforces
// on spec.signerNames: tcsissuer.tcs.intel.com/<namespace>.<name> with a
// DNS label and a DNS subdomain, or tcsclusterissuer.tcs.intel.com/<name>.
// A test checks that it equals the CRD's pattern.
const SignerNamePattern = `^(tcsissuer\.tcs\.intel\.com/[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9]([-a-z0-9.]*[a-z0-9])?|tcsclusterissuer\.tcs\.intel\.com/[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$`

var signerNameRegexp = regexp.MustCompile(SignerNamePattern)

// ValidSignerName reports whether name is a signer name that a
// QuoteAttestation may list.
func ValidSignerName(name string) bool {
	return len(name) <= MaxSignerNameLength && signerNameRegexp.MatchString(name)
}
