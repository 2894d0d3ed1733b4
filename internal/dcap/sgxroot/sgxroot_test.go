package sgxroot

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestCertificateFingerprint(t *testing.T) {
	sum := sha256.Sum256(Certificate().Raw)
	if got := hex.EncodeToString(sum[:]); got != FingerprintSHA256 {
		t.Errorf("fingerprint = %s, want %s", got, FingerprintSHA256)
	}
}

func TestCertificateSubject(t *testing.T) {
	cert := Certificate()
	if cert.Subject.CommonName != Subject {
		t.Errorf("subject CN = %q, want %q", cert.Subject.CommonName, Subject)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		t.Errorf("root is not self-signed: %v", err)
	}
	if !cert.IsCA {
		t.Error("root is not a CA certificate")
	}
}
