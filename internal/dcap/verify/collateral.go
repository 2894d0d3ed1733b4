package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
)

// verifiedCollateral is a bundle whose signatures, chains, CRLs and JSON
// structure were checked. Nothing in it depends on the verification time:
// windows holds what must still be checked against it.
type verifiedCollateral struct {
	tcbInfo    *collateral.TCBInfo
	qeIdentity *collateral.QEIdentity

	root         *x509.Certificate
	pckCRLIssuer *x509.Certificate
	// rootRevoked and pckRevoked are the serial numbers (big-endian bytes)
	// that the root CA CRL and the PCK CRL revoke.
	rootRevoked map[string]bool
	pckRevoked  map[string]bool

	windows               []window
	issueDate, nextUpdate time.Time
}

// verifyCollateral checks everything in b that does not depend on the
// quote or on the verification time.
func (v *Verifier) verifyCollateral(b *collateral.Bundle) (*verifiedCollateral, *Error) {
	vc := &verifiedCollateral{}
	if err := vc.verifyCRLs(v, b); err != nil {
		return nil, err
	}

	tcbSigner, err := vc.verifySignedJSON(v, StepTCBInfo, "TCB Info", b.TCBInfo, b.TCBInfoSignature, b.TCBInfoIssuerChain)
	if err != nil {
		return nil, err
	}
	info, perr := collateral.ParseTCBInfo(b.TCBInfo)
	if perr != nil {
		return nil, fail(StepTCBInfo, ErrInvalidCollateral, "", perr)
	}
	vc.tcbInfo = info
	vc.addWindow(window{name: "TCB Info", step: StepTCBInfo, from: info.IssueDate, till: info.NextUpdate}, true)
	vc.addWindow(certWindow(tcbSigner, StepTCBInfo), false)

	qeSigner, err := vc.verifySignedJSON(v, StepQEIdentity, "QE Identity", b.QEIdentity, b.QEIdentitySignature, b.QEIdentityIssuerChain)
	if err != nil {
		return nil, err
	}
	qe, perr := collateral.ParseQEIdentity(b.QEIdentity)
	if perr != nil {
		return nil, fail(StepQEIdentity, ErrInvalidCollateral, "", perr)
	}
	vc.qeIdentity = qe
	vc.addWindow(window{name: "QE Identity", step: StepQEIdentity, from: qe.IssueDate, till: qe.NextUpdate}, true)
	vc.addWindow(certWindow(qeSigner, StepQEIdentity), false)
	return vc, nil
}

// addWindow records a window; a collateral document's window (not a
// certificate's) also counts for the reported issue and next-update dates.
func (vc *verifiedCollateral) addWindow(w window, document bool) {
	vc.windows = append(vc.windows, w)
	if !document {
		return
	}
	if w.from.After(vc.issueDate) {
		vc.issueDate = w.from
	}
	if vc.nextUpdate.IsZero() || w.till.Before(vc.nextUpdate) {
		vc.nextUpdate = w.till
	}
}

// verifyCRLs checks the root CA CRL under the root of the PCK CRL issuer
// chain, and the PCK CRL under its issuing CA.
func (vc *verifiedCollateral) verifyCRLs(v *Verifier, b *collateral.Bundle) *Error {
	certs, err := decodePEMChain(b.PCKCRLIssuerChain, "PCK CRL issuer chain")
	if err != nil {
		return fail(StepCRL, ErrInvalidCollateral, "", err)
	}
	root, others, err := splitRoot(certs, "PCK CRL issuer chain")
	if err != nil {
		return fail(StepCRL, ErrInvalidCollateral, "", err)
	}
	if len(others) != 1 || !others[0].IsCA {
		return failf(StepCRL, ErrInvalidCollateral, "PCK CRL issuer chain must be one CA certificate and the root, it has %d certificates", len(certs))
	}
	if _, ok := v.findRoot(root); !ok {
		return failf(StepCRL, ErrInvalidCollateral, "root %q of the PCK CRL issuer chain is not a trusted root", root.Subject.CommonName)
	}
	if err := v.checkIssuedCached(others[0], root); err != nil {
		return fail(StepCRL, ErrInvalidCollateral, "PCK CRL issuer chain", err)
	}
	vc.root = root
	vc.pckCRLIssuer = others[0]
	vc.addWindow(certWindow(root, StepCRL), false)
	vc.addWindow(certWindow(vc.pckCRLIssuer, StepCRL), false)

	if vc.rootRevoked, err = vc.checkCRL("root CA CRL", b.RootCACRL, root); err != nil {
		return fail(StepCRL, ErrInvalidCollateral, "", err)
	}
	if vc.pckRevoked, err = vc.checkCRL("PCK CRL", b.PCKCRL, vc.pckCRLIssuer); err != nil {
		return fail(StepCRL, ErrInvalidCollateral, "", err)
	}
	// The PCK CRL issuer is the CA of the PCK certificates it covers, so
	// its revocation revokes their chains.
	if vc.rootRevoked[string(vc.pckCRLIssuer.SerialNumber.Bytes())] {
		return failf(StepCRL, ErrRevokedPCKChain, "PCK CA %q (serial %s) is revoked by the root CA CRL",
			vc.pckCRLIssuer.Subject.CommonName, vc.pckCRLIssuer.SerialNumber.Text(16))
	}
	return nil
}

// checkCRL parses a CRL in any of the forms NormalizeCRL accepts, checks
// that issuer issued and signed it, records its window and returns the
// revoked serial numbers.
func (vc *verifiedCollateral) checkCRL(name string, data []byte, issuer *x509.Certificate) (map[string]bool, error) {
	der, err := collateral.NormalizeCRL(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%s does not parse: %w", name, err)
	}
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return nil, fmt.Errorf("%s is issued by %q, not by %q, the CA it must revoke for",
			name, crl.Issuer.CommonName, issuer.Subject.CommonName)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("%s signature does not verify under %q: %w", name, issuer.Subject.CommonName, err)
	}
	if crl.NextUpdate.IsZero() {
		return nil, fmt.Errorf("%s has no nextUpdate", name)
	}
	vc.addWindow(window{name: name, step: StepCRL, from: crl.ThisUpdate, till: crl.NextUpdate}, true)

	revoked := make(map[string]bool, len(crl.RevokedCertificateEntries))
	for _, e := range crl.RevokedCertificateEntries {
		revoked[string(e.SerialNumber.Bytes())] = true
	}
	return revoked, nil
}

// verifySignedJSON checks the issuer chain of a signed collateral document
// (signing certificate and trusted root) and the signature over its exact
// bytes, and returns the signing certificate.
func (vc *verifiedCollateral) verifySignedJSON(v *Verifier, step Step, name string, body, sig, chainPEM []byte) (*x509.Certificate, *Error) {
	certs, err := decodePEMChain(chainPEM, name+" issuer chain")
	if err != nil {
		return nil, fail(step, ErrInvalidCollateral, "", err)
	}
	root, others, err := splitRoot(certs, name+" issuer chain")
	if err != nil {
		return nil, fail(step, ErrInvalidCollateral, "", err)
	}
	if len(others) != 1 || others[0].IsCA {
		return nil, failf(step, ErrInvalidCollateral, "%s issuer chain must be the signing certificate and the root, it has %d certificates", name, len(certs))
	}
	if !bytes.Equal(root.Raw, vc.root.Raw) {
		return nil, failf(step, ErrInvalidCollateral, "%s issuer chain has root %q, not the root of the PCK CRL issuer chain", name, root.Subject.CommonName)
	}

	signer := others[0]
	if err := v.checkIssuedCached(signer, root); err != nil {
		return nil, fail(step, ErrInvalidCollateral, name+" issuer chain", err)
	}
	if vc.rootRevoked[string(signer.SerialNumber.Bytes())] {
		return nil, failf(step, ErrInvalidCollateral, "%s signing certificate %q (serial %s) is revoked by the root CA CRL",
			name, signer.Subject.CommonName, signer.SerialNumber.Text(16))
	}

	key, err := p256Key(signer)
	if err != nil {
		return nil, fail(step, ErrInvalidCollateral, name+" signing certificate", err)
	}
	digest := sha256.Sum256(body)
	if !verifyRawSignature(key, digest[:], sig) {
		return nil, failf(step, ErrInvalidCollateral, "%s signature does not verify under %q", name, signer.Subject.CommonName)
	}
	return signer, nil
}

// verifyRawSignature verifies an ECDSA signature given as 64 bytes r||s,
// the form Intel uses in quotes and collateral.
func verifyRawSignature(key *ecdsa.PublicKey, digest, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(key, digest, r, s)
}

// checkTime checks every window at the verification time, in step order.
func (vc *verifiedCollateral) checkTime(at time.Time, step Step) *Error {
	for _, w := range vc.windows {
		if w.step != step {
			continue
		}
		if err := w.check(at); err != nil {
			return err
		}
	}
	return nil
}
