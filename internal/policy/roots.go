package policy

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
)

// Load reads, parses and validates the policy file at path, then reads the
// certificates of its development roots. A relative root path is taken
// relative to the directory of the policy file. Each development root adds
// a warning to the policy. Errors about the content of the file wrap
// ErrInvalidPolicy and join one *FieldError per problem.
func Load(path string) (*Policy, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("read release policy: %w", err)
	}
	p, err := parse(data, path)
	if err != nil {
		return nil, err
	}

	var errs []error
	for i, rootPath := range p.DevelopmentRootPaths {
		if !filepath.IsAbs(rootPath) {
			rootPath = filepath.Join(filepath.Dir(path), rootPath)
		}
		certs, err := readRootCertificates(rootPath)
		if err != nil {
			errs = append(errs, &FieldError{
				File: path, Line: p.developmentRootLines[i], Field: fmt.Sprintf("developmentRoots[%d]", i),
				Message: err.Error(),
			})
			continue
		}
		for _, cert := range certs {
			p.DevelopmentRoots = append(p.DevelopmentRoots, cert)
			p.Warnings = append(p.Warnings, fmt.Sprintf("development root %q from %s is trusted "+
				"beside the Intel SGX Root CA: quotes it anchors come from no genuine SGX platform, "+
				"so remove it in production", cert.Subject.String(), rootPath))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPolicy, errors.Join(errs...))
	}
	return p, nil
}

// readRootCertificates returns the CERTIFICATE blocks of a PEM file, each
// of which must be a self-signed CA certificate.
func readRootCertificates(path string) ([]*x509.Certificate, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("read development root: %w", err)
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse development root in %s: %w", path, err)
		}
		if !cert.IsCA {
			return nil, fmt.Errorf("development root %q in %s is not a CA certificate",
				cert.Subject.String(), path)
		}
		if err := cert.CheckSignatureFrom(cert); err != nil {
			return nil, fmt.Errorf("development root %q in %s is not self-signed: %w",
				cert.Subject.String(), path, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s contains no PEM CERTIFICATE block", path)
	}
	return certs, nil
}
