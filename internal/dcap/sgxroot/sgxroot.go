// Package sgxroot embeds the Intel SGX Root CA certificate, the trust anchor
// of every PCK certificate chain and of the DCAP collateral.
package sgxroot

import (
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
)

// Subject is the common name of the Intel SGX Root CA.
const Subject = "Intel SGX Root CA"

// FingerprintSHA256 is the SHA-256 fingerprint of the DER certificate. The
// test pins the embedded file to it, so a changed file fails the build's
// tests.
const FingerprintSHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"

// pemBytes is the Intel SGX Root CA certificate (valid 2018-05-21 to
// 2049-12-31). It is the root of the issuer chains that Intel's
// Provisioning Certification Service returned with the TCB Info, QE
// Identity and PCK CRL published as test data by Phala-Network/dcap-qvl
// (sample/sgx_quote_collateral.json) and automata-network/
// automata-dcap-attestation; both carry the same certificate.
//
//go:embed intel_sgx_root_ca.pem
var pemBytes []byte

var root = mustParse(pemBytes)

// Certificate returns the Intel SGX Root CA certificate. Callers must not
// modify it.
func Certificate() *x509.Certificate { return root }

// PEM returns the PEM encoding of the certificate.
func PEM() []byte { return append([]byte(nil), pemBytes...) }

func mustParse(b []byte) *x509.Certificate {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		panic("sgxroot: embedded file is not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		panic(fmt.Sprintf("sgxroot: embedded certificate does not parse: %v", err))
	}
	return cert
}
