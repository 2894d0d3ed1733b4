package devpki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// File names in a saved authority directory. Certificates are PEM
// "CERTIFICATE" blocks; keys are PKCS#8 PEM "PRIVATE KEY" blocks, written
// with mode 0600.
const (
	RootCertFile           = "root.pem"
	RootKeyFile            = "root-key.pem"
	PlatformCACertFile     = "platform-ca.pem"
	PlatformCAKeyFile      = "platform-ca-key.pem"
	ProcessorCACertFile    = "processor-ca.pem"
	ProcessorCAKeyFile     = "processor-ca-key.pem"
	TCBSigningCertFile     = "tcb-signing.pem"
	TCBSigningKeyFile      = "tcb-signing-key.pem"
	PCKCertFile            = "pck.pem"
	PCKKeyFile             = "pck-key.pem"
	AttestationKeyFile     = "attestation-key.pem"
	directoryMode          = 0o700
	keyFileMode            = 0o600
	certFileMode           = 0o644
	pemCertificateType     = "CERTIFICATE"
	pemPrivateKeyType      = "PRIVATE KEY"
	maxAuthorityFileLength = 64 << 10
)

type storedPair struct {
	certFile, keyFile string
	cert              **x509.Certificate
	key               **ecdsa.PrivateKey
}

func (a *Authority) storedPairs() []storedPair {
	return []storedPair{
		{RootCertFile, RootKeyFile, &a.root, &a.rootKey},
		{PlatformCACertFile, PlatformCAKeyFile, &a.platformCA, &a.platformKey},
		{ProcessorCACertFile, ProcessorCAKeyFile, &a.processorCA, &a.processorKey},
		{TCBSigningCertFile, TCBSigningKeyFile, &a.tcbSigning, &a.tcbSigningKey},
		{PCKCertFile, PCKKeyFile, &a.pck, &a.pckKey},
		{"", AttestationKeyFile, nil, &a.attestationKey},
	}
}

// Save writes the authority's certificates and private keys to dir, which
// it creates with mode 0700 when missing, so that other processes can Load
// the same authority. The keys are development keys in clear: keep the
// directory away from anything that trusts the development root.
func (a *Authority) Save(dir string) error {
	if err := os.MkdirAll(dir, directoryMode); err != nil {
		return fmt.Errorf("create authority directory: %w", err)
	}
	for _, p := range a.storedPairs() {
		if p.cert != nil {
			data := pem.EncodeToMemory(&pem.Block{Type: pemCertificateType, Bytes: (*p.cert).Raw})
			if err := writeFile(filepath.Join(dir, p.certFile), data, certFileMode); err != nil {
				return err
			}
		}
		data, err := encodeKeyPEM(*p.key)
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, p.keyFile), data, keyFileMode); err != nil {
			return err
		}
	}
	return nil
}

// writeFile replaces path through a temporary file in the same directory,
// so that a concurrent Load never reads half a file.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Load reads an authority that Save wrote to dir. It checks that each key
// matches its certificate, that the chains verify, and reads the platform's
// FMSPC, PCE ID and TCB back from the PCK certificate.
func Load(dir string) (*Authority, error) {
	a := &Authority{}
	for _, p := range a.storedPairs() {
		if p.cert != nil {
			cert, err := readCertificate(filepath.Join(dir, p.certFile))
			if err != nil {
				return nil, err
			}
			*p.cert = cert
		}
		key, err := readKey(filepath.Join(dir, p.keyFile))
		if err != nil {
			return nil, err
		}
		*p.key = key
		if p.cert != nil {
			if err := checkKeyMatches(*p.cert, key, p.certFile, p.keyFile); err != nil {
				return nil, err
			}
		}
	}
	if err := a.loadPlatform(dir); err != nil {
		return nil, err
	}
	if err := a.deriveQEID(); err != nil {
		return nil, err
	}
	return a, nil
}

// loadPlatform finds the PCK issuer and decodes the PCK extension.
func (a *Authority) loadPlatform(dir string) error {
	switch {
	case a.pck.CheckSignatureFrom(a.platformCA) == nil:
		a.caType = PlatformCA
	case a.pck.CheckSignatureFrom(a.processorCA) == nil:
		a.caType = ProcessorCA
	default:
		return fmt.Errorf("invalid authority in %s: %s is signed by neither %s nor %s",
			dir, PCKCertFile, PlatformCACertFile, ProcessorCACertFile)
	}
	for _, c := range []struct {
		name string
		cert *x509.Certificate
	}{
		{PlatformCACertFile, a.platformCA},
		{ProcessorCACertFile, a.processorCA},
		{TCBSigningCertFile, a.tcbSigning},
		{RootCertFile, a.root},
	} {
		if err := c.cert.CheckSignatureFrom(a.root); err != nil {
			return fmt.Errorf("invalid authority in %s: %s is not signed by %s: %w", dir, c.name, RootCertFile, err)
		}
	}
	for _, ext := range a.pck.Extensions {
		if ext.Id.Equal(OIDSGXExtension) {
			parsed, err := ParseSGXExtension(ext.Value)
			if err != nil {
				return fmt.Errorf("invalid authority in %s: %s: %w", dir, PCKCertFile, err)
			}
			a.ext = *parsed
			return nil
		}
	}
	return fmt.Errorf("invalid authority in %s: %s has no SGX extension", dir, PCKCertFile)
}

func readPEM(path, blockType string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read authority file: %w", err)
	}
	if info.Size() > maxAuthorityFileLength {
		return nil, fmt.Errorf("invalid authority file %s: %d bytes, more than the %d a PEM key or certificate needs",
			path, info.Size(), maxAuthorityFileLength)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read authority file: %w", err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != blockType {
		return nil, fmt.Errorf("invalid authority file %s: expected one PEM %q block", path, blockType)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("invalid authority file %s: data after the PEM %q block", path, blockType)
	}
	return block.Bytes, nil
}

func readCertificate(path string) (*x509.Certificate, error) {
	der, err := readPEM(path, pemCertificateType)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("invalid certificate in %s: %w", path, err)
	}
	return cert, nil
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	der, err := readPEM(path, pemPrivateKeyType)
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("invalid private key in %s: %w", path, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || key.Curve.Params().Name != "P-256" {
		return nil, fmt.Errorf("invalid private key in %s: expected an ECDSA P-256 key", path)
	}
	return key, nil
}

func checkKeyMatches(cert *x509.Certificate, key *ecdsa.PrivateKey, certFile, keyFile string) error {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return errors.New("invalid authority: the key in " + keyFile + " does not match the certificate in " + certFile)
	}
	return nil
}
