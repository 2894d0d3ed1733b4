package pccs

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// PCK CA types, spelled as the PCS API's ca parameter and the verifier's
// Result.CAType spell them.
const (
	CAPlatform  = "platform"
	CAProcessor = "processor"
)

// fmspcLen is the size of an FMSPC (Family-Model-Stepping-Platform-
// CustomSKU) in bytes, from Intel's SGX PCK Certificate and CRL
// Specification.
const fmspcLen = 6

// Key names the collateral for one platform: its FMSPC and the CA that
// issued its PCK certificate.
type Key struct {
	FMSPC [fmspcLen]byte
	CA    string
}

// String returns the key as lower-case FMSPC hex, a dash and the CA type,
// the form used for bundle file names ("00a067110000-processor").
func (k Key) String() string {
	return FormatFMSPC(k.FMSPC) + "-" + k.CA
}

// FormatFMSPC returns the FMSPC as 12 lower-case hex digits, the form in
// which Intel's TCB Info carries it.
func FormatFMSPC(fmspc [fmspcLen]byte) string {
	return hex.EncodeToString(fmspc[:])
}

// ParseFMSPC decodes an FMSPC from 12 hex digits in either case.
func ParseFMSPC(s string) ([fmspcLen]byte, error) {
	var fmspc [fmspcLen]byte
	s = strings.TrimSpace(s)
	if len(s) != 2*fmspcLen {
		return fmspc, fmt.Errorf("invalid FMSPC %q: want %d hex digits, got %d characters", s, 2*fmspcLen, len(s))
	}
	if _, err := hex.Decode(fmspc[:], []byte(s)); err != nil {
		return fmspc, fmt.Errorf("invalid FMSPC %q: %w", s, err)
	}
	return fmspc, nil
}

// ParseCA checks a PCK CA type and returns it in lower case. It accepts
// "platform" and "processor" in any case, as the PCCS does.
func ParseCA(s string) (string, error) {
	ca := strings.ToLower(strings.TrimSpace(s))
	if ca != CAPlatform && ca != CAProcessor {
		return "", fmt.Errorf("invalid PCK CA type %q: want %q or %q", s, CAPlatform, CAProcessor)
	}
	return ca, nil
}
