package signing

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
)

// A usage string names either a key usage bit or an extended key usage.
// The strings are those of the KeyUsage type of both certificates.k8s.io/v1
// (Kubernetes CertificateSigningRequest) and cert-manager.io/v1, which
// share one list.
var keyUsages = map[string]x509.KeyUsage{
	"signing":            x509.KeyUsageDigitalSignature,
	"digital signature":  x509.KeyUsageDigitalSignature,
	"content commitment": x509.KeyUsageContentCommitment,
	"key encipherment":   x509.KeyUsageKeyEncipherment,
	"key agreement":      x509.KeyUsageKeyAgreement,
	"data encipherment":  x509.KeyUsageDataEncipherment,
	"cert sign":          x509.KeyUsageCertSign,
	"crl sign":           x509.KeyUsageCRLSign,
	"encipher only":      x509.KeyUsageEncipherOnly,
	"decipher only":      x509.KeyUsageDecipherOnly,
}

var extKeyUsages = map[string]x509.ExtKeyUsage{
	"any":              x509.ExtKeyUsageAny,
	"server auth":      x509.ExtKeyUsageServerAuth,
	"client auth":      x509.ExtKeyUsageClientAuth,
	"code signing":     x509.ExtKeyUsageCodeSigning,
	"email protection": x509.ExtKeyUsageEmailProtection,
	"s/mime":           x509.ExtKeyUsageEmailProtection,
	"ipsec end system": x509.ExtKeyUsageIPSECEndSystem,
	"ipsec tunnel":     x509.ExtKeyUsageIPSECTunnel,
	"ipsec user":       x509.ExtKeyUsageIPSECUser,
	"timestamping":     x509.ExtKeyUsageTimeStamping,
	"ocsp signing":     x509.ExtKeyUsageOCSPSigning,
	"microsoft sgc":    x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	"netscape sgc":     x509.ExtKeyUsageNetscapeServerGatedCrypto,
}

// KnownUsages returns every usage string ParseUsages accepts, sorted.
func KnownUsages() []string {
	names := make([]string, 0, len(keyUsages)+len(extKeyUsages))
	for name := range keyUsages {
		names = append(names, name)
	}
	for name := range extKeyUsages {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// ParseUsages maps Kubernetes or cert-manager usage strings to a key usage
// and extended key usages. The strings must match exactly, as both APIs
// define them in lower case. Repeated usages are merged. An unknown usage
// is an error, wrapping ErrInvalidRequest, that names it.
func ParseUsages(usages []string) (x509.KeyUsage, []x509.ExtKeyUsage, error) {
	var keyUsage x509.KeyUsage
	var extUsages []x509.ExtKeyUsage
	for _, usage := range usages {
		if bit, ok := keyUsages[usage]; ok {
			keyUsage |= bit
			continue
		}
		ext, ok := extKeyUsages[usage]
		if !ok {
			return 0, nil, fmt.Errorf("%w: unknown usage %q, expected one of: %s",
				ErrInvalidRequest, usage, strings.Join(KnownUsages(), ", "))
		}
		if !slices.Contains(extUsages, ext) {
			extUsages = append(extUsages, ext)
		}
	}
	return keyUsage, extUsages, nil
}

// defaultKeyUsage is the key usage of a request that names no usages.
// cert-manager's default is digital signature and key encipherment. Key
// encipherment means key transport (RFC 5280 section 4.2.1.3), which only
// an RSA key can do, so it is kept for RSA keys only. No extended key
// usage is set by default, again as cert-manager does, which leaves the
// certificate usable for any purpose its key usage allows.
func defaultKeyUsage(pub any) x509.KeyUsage {
	if _, ok := pub.(*rsa.PublicKey); ok {
		return x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	}
	return x509.KeyUsageDigitalSignature
}
