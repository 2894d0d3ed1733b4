// Package collateral holds the Intel DCAP collateral that a verifier needs
// for one platform: TCB Info, QE Identity, the PCK CRL, the root CA CRL and
// the issuer chains that sign them.
package collateral

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Bundle is the collateral for quotes from one platform (one FMSPC and PCK
// CA), kept in the raw forms in which Intel's Provisioning Certification
// Service delivers it. Nothing in a Bundle has been verified.
type Bundle struct {
	// TCBInfo is the exact JSON text of the "tcbInfo" object that Intel
	// signed, so that the signature can be checked over the same bytes.
	TCBInfo []byte
	// TCBInfoSignature is the 64-byte ECDSA P-256 signature r||s.
	TCBInfoSignature []byte
	// TCBInfoIssuerChain is the PEM chain of the TCB signing certificate.
	TCBInfoIssuerChain []byte

	// QEIdentity is the exact JSON text of the "enclaveIdentity" object.
	QEIdentity []byte
	// QEIdentitySignature is the 64-byte ECDSA P-256 signature r||s.
	QEIdentitySignature []byte
	// QEIdentityIssuerChain is the PEM chain of the TCB signing certificate.
	QEIdentityIssuerChain []byte

	// PCKCRL is the CRL of the Platform or Processor CA: DER, as
	// ParseBundleJSON stores it, or PEM or hex text (see NormalizeCRL).
	PCKCRL []byte
	// PCKCRLIssuerChain is the PEM chain of the CA that issued PCKCRL.
	PCKCRLIssuerChain []byte

	// RootCACRL is the CRL of the root CA, in the same forms as PCKCRL.
	RootCACRL []byte
}

// bundleJSON is the JSON form used by the dcap-qvl verifier
// (github.com/Phala-Network/dcap-qvl, QuoteCollateralV3): chains as PEM
// text, CRLs as hex of their DER, tcb_info and qe_identity as the signed
// JSON text, signatures as hex.
type bundleJSON struct {
	PCKCRLIssuerChain     string `json:"pck_crl_issuer_chain"`
	RootCACRL             string `json:"root_ca_crl"`
	PCKCRL                string `json:"pck_crl"`
	TCBInfoIssuerChain    string `json:"tcb_info_issuer_chain"`
	TCBInfo               string `json:"tcb_info"`
	TCBInfoSignature      string `json:"tcb_info_signature"`
	QEIdentityIssuerChain string `json:"qe_identity_issuer_chain"`
	QEIdentity            string `json:"qe_identity"`
	QEIdentitySignature   string `json:"qe_identity_signature"`
}

// ParseBundleJSON decodes a bundle in the dcap-qvl JSON form. It checks
// only the encoding: every field must be present, the signatures must be
// hex, and the CRLs hex, PEM or DER text (see NormalizeCRL); both CRLs are
// stored as DER. Verification is the verifier's job.
func ParseBundleJSON(data []byte) (*Bundle, error) {
	var raw bundleJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("invalid collateral JSON: %w", err)
	}

	fields := []struct {
		name  string
		value string
	}{
		{"pck_crl_issuer_chain", raw.PCKCRLIssuerChain},
		{"root_ca_crl", raw.RootCACRL},
		{"pck_crl", raw.PCKCRL},
		{"tcb_info_issuer_chain", raw.TCBInfoIssuerChain},
		{"tcb_info", raw.TCBInfo},
		{"tcb_info_signature", raw.TCBInfoSignature},
		{"qe_identity_issuer_chain", raw.QEIdentityIssuerChain},
		{"qe_identity", raw.QEIdentity},
		{"qe_identity_signature", raw.QEIdentitySignature},
	}
	for _, f := range fields {
		if strings.TrimSpace(f.value) == "" {
			return nil, fmt.Errorf("invalid collateral JSON: field %q is missing or empty", f.name)
		}
	}

	b := &Bundle{
		TCBInfo:               []byte(raw.TCBInfo),
		TCBInfoIssuerChain:    []byte(raw.TCBInfoIssuerChain),
		QEIdentity:            []byte(raw.QEIdentity),
		QEIdentityIssuerChain: []byte(raw.QEIdentityIssuerChain),
		PCKCRLIssuerChain:     []byte(raw.PCKCRLIssuerChain),
	}
	crlFields := []struct {
		name string
		src  string
		dst  *[]byte
	}{
		{"root_ca_crl", raw.RootCACRL, &b.RootCACRL},
		{"pck_crl", raw.PCKCRL, &b.PCKCRL},
	}
	for _, f := range crlFields {
		der, err := NormalizeCRL([]byte(f.src))
		if err != nil {
			return nil, fmt.Errorf("invalid collateral JSON: field %q: %w", f.name, err)
		}
		*f.dst = der
	}

	hexFields := []struct {
		name string
		src  string
		dst  *[]byte
	}{
		{"tcb_info_signature", raw.TCBInfoSignature, &b.TCBInfoSignature},
		{"qe_identity_signature", raw.QEIdentitySignature, &b.QEIdentitySignature},
	}
	for _, f := range hexFields {
		decoded, err := hex.DecodeString(strings.TrimSpace(f.src))
		if err != nil {
			return nil, fmt.Errorf("invalid collateral JSON: field %q is not hex: %w", f.name, err)
		}
		*f.dst = decoded
	}
	return b, nil
}

// MarshalJSON writes the bundle in the dcap-qvl JSON form that
// ParseBundleJSON reads.
func (b *Bundle) MarshalJSON() ([]byte, error) {
	return json.Marshal(bundleJSON{
		PCKCRLIssuerChain:     string(b.PCKCRLIssuerChain),
		RootCACRL:             hex.EncodeToString(b.RootCACRL),
		PCKCRL:                hex.EncodeToString(b.PCKCRL),
		TCBInfoIssuerChain:    string(b.TCBInfoIssuerChain),
		TCBInfo:               string(b.TCBInfo),
		TCBInfoSignature:      hex.EncodeToString(b.TCBInfoSignature),
		QEIdentityIssuerChain: string(b.QEIdentityIssuerChain),
		QEIdentity:            string(b.QEIdentity),
		QEIdentitySignature:   hex.EncodeToString(b.QEIdentitySignature),
	})
}
