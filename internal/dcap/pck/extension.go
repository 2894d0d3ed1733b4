// Package pck decodes the Intel SGX extension of a PCK certificate
// (OID 1.2.840.113741.1.13.1), as laid out in Intel's "SGX PCK Certificate
// and Certificate Revocation List Profile Specification".
package pck

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
)

// ErrInvalidExtension is wrapped by every error of Parse.
var ErrInvalidExtension = errors.New("invalid PCK SGX extension")

// ComponentCount is the number of SGX TCB component SVNs in the TCB field.
const ComponentCount = 16

// Sizes of the fixed-size fields.
const (
	sizePPID               = 16
	sizeCPUSVN             = 16
	sizePCEID              = 2
	sizeFMSPC              = 6
	sizePlatformInstanceID = 16
)

// OIDs of the extension and its fields.
var (
	OIDSGXExtension = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}

	oidPPID               = sub(OIDSGXExtension, 1)
	oidTCB                = sub(OIDSGXExtension, 2)
	oidPCEID              = sub(OIDSGXExtension, 3)
	oidFMSPC              = sub(OIDSGXExtension, 4)
	oidSGXType            = sub(OIDSGXExtension, 5)
	oidPlatformInstanceID = sub(OIDSGXExtension, 6)
	oidConfiguration      = sub(OIDSGXExtension, 7)

	oidPCESVN = sub(oidTCB, 17)
	oidCPUSVN = sub(oidTCB, 18)

	oidDynamicPlatform = sub(oidConfiguration, 1)
	oidCachedKeys      = sub(oidConfiguration, 2)
	oidSMTEnabled      = sub(oidConfiguration, 3)
)

func sub(base asn1.ObjectIdentifier, n int) asn1.ObjectIdentifier {
	out := make(asn1.ObjectIdentifier, len(base)+1)
	copy(out, base)
	out[len(base)] = n
	return out
}

// SGX types of the platform.
const (
	SGXTypeStandard              = 0
	SGXTypeScalable              = 1
	SGXTypeScalableWithIntegrity = 2
	maxSGXType                   = SGXTypeScalableWithIntegrity
)

// Extension is the decoded SGX extension.
type Extension struct {
	PPID       [sizePPID]byte
	Components [ComponentCount]byte
	PCESVN     uint16
	CPUSVN     [sizeCPUSVN]byte
	PCEID      [sizePCEID]byte
	FMSPC      [sizeFMSPC]byte
	SGXType    int
	// PlatformInstanceID and Configuration are present only in
	// certificates that the Platform CA issued.
	PlatformInstanceID []byte
	Configuration      *Configuration
}

// Configuration is the optional platform configuration field.
type Configuration struct {
	DynamicPlatform *bool
	CachedKeys      *bool
	SMTEnabled      *bool
}

// field is one element of the extension's SEQUENCE: an OID and a value of
// a type that depends on it.
type field struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

// FromCertificate finds and decodes the SGX extension of cert.
func FromCertificate(cert *x509.Certificate) (*Extension, error) {
	var found []byte
	for _, e := range cert.Extensions {
		if !e.Id.Equal(OIDSGXExtension) {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("%w: the certificate has the extension %s twice", ErrInvalidExtension, OIDSGXExtension)
		}
		found = e.Value
	}
	if found == nil {
		return nil, fmt.Errorf("%w: the certificate has no extension %s", ErrInvalidExtension, OIDSGXExtension)
	}
	return Parse(found)
}

// Parse decodes the DER value of the SGX extension. Required fields must
// each be present once, and an unknown field is rejected, as Intel's
// profile defines a closed set.
func Parse(der []byte) (*Extension, error) {
	fields, err := parseFields(der, "extension")
	if err != nil {
		return nil, err
	}

	ext := &Extension{SGXType: -1}
	seen := map[string]bool{}
	for _, f := range fields {
		key := f.ID.String()
		if seen[key] {
			return nil, fmt.Errorf("%w: field %s appears twice", ErrInvalidExtension, key)
		}
		seen[key] = true
		if err := ext.setField(f); err != nil {
			return nil, err
		}
	}

	for _, required := range []asn1.ObjectIdentifier{oidPPID, oidTCB, oidPCEID, oidFMSPC, oidSGXType} {
		if !seen[required.String()] {
			return nil, fmt.Errorf("%w: required field %s is missing", ErrInvalidExtension, required)
		}
	}
	return ext, nil
}

func (ext *Extension) setField(f field) error {
	switch {
	case f.ID.Equal(oidPPID):
		return octets(f, ext.PPID[:])
	case f.ID.Equal(oidTCB):
		return ext.parseTCB(f.Value.FullBytes)
	case f.ID.Equal(oidPCEID):
		return octets(f, ext.PCEID[:])
	case f.ID.Equal(oidFMSPC):
		return octets(f, ext.FMSPC[:])
	case f.ID.Equal(oidSGXType):
		var v asn1.Enumerated
		if err := unmarshalAll(f.Value.FullBytes, &v); err != nil {
			return fmt.Errorf("%w: SGX type %s: %v", ErrInvalidExtension, f.ID, err)
		}
		if v < 0 || v > maxSGXType {
			return fmt.Errorf("%w: SGX type %d is unknown", ErrInvalidExtension, v)
		}
		ext.SGXType = int(v)
		return nil
	case f.ID.Equal(oidPlatformInstanceID):
		ext.PlatformInstanceID = make([]byte, sizePlatformInstanceID)
		return octets(f, ext.PlatformInstanceID)
	case f.ID.Equal(oidConfiguration):
		cfg, err := parseConfiguration(f.Value.FullBytes)
		ext.Configuration = cfg
		return err
	}
	return fmt.Errorf("%w: unknown field %s", ErrInvalidExtension, f.ID)
}

func (ext *Extension) parseTCB(der []byte) error {
	fields, err := parseFields(der, "TCB field")
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, f := range fields {
		key := f.ID.String()
		if seen[key] {
			return fmt.Errorf("%w: TCB field %s appears twice", ErrInvalidExtension, key)
		}
		seen[key] = true

		switch n := componentIndex(f.ID); {
		case n >= 0:
			svn, err := integer(f, 0xff)
			if err != nil {
				return err
			}
			ext.Components[n] = byte(svn)
		case f.ID.Equal(oidPCESVN):
			svn, err := integer(f, 0xffff)
			if err != nil {
				return err
			}
			ext.PCESVN = uint16(svn)
		case f.ID.Equal(oidCPUSVN):
			if err := octets(f, ext.CPUSVN[:]); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: unknown TCB field %s", ErrInvalidExtension, f.ID)
		}
	}
	if len(seen) != ComponentCount+2 {
		return fmt.Errorf("%w: TCB field has %d of the %d SVNs (16 components, PCESVN, CPUSVN)",
			ErrInvalidExtension, len(seen), ComponentCount+2)
	}
	return nil
}

// componentIndex returns n-1 for the OID of SGX TCB component n (1..16),
// or -1.
func componentIndex(id asn1.ObjectIdentifier) int {
	if len(id) != len(oidTCB)+1 || !id[:len(oidTCB)].Equal(oidTCB) {
		return -1
	}
	n := id[len(oidTCB)]
	if n < 1 || n > ComponentCount {
		return -1
	}
	return n - 1
}

func parseConfiguration(der []byte) (*Configuration, error) {
	fields, err := parseFields(der, "configuration field")
	if err != nil {
		return nil, err
	}
	cfg := &Configuration{}
	for _, f := range fields {
		var dst **bool
		switch {
		case f.ID.Equal(oidDynamicPlatform):
			dst = &cfg.DynamicPlatform
		case f.ID.Equal(oidCachedKeys):
			dst = &cfg.CachedKeys
		case f.ID.Equal(oidSMTEnabled):
			dst = &cfg.SMTEnabled
		default:
			return nil, fmt.Errorf("%w: unknown configuration field %s", ErrInvalidExtension, f.ID)
		}
		if *dst != nil {
			return nil, fmt.Errorf("%w: configuration field %s appears twice", ErrInvalidExtension, f.ID)
		}
		var v bool
		if err := unmarshalAll(f.Value.FullBytes, &v); err != nil {
			return nil, fmt.Errorf("%w: configuration field %s: %v", ErrInvalidExtension, f.ID, err)
		}
		*dst = &v
	}
	return cfg, nil
}

func parseFields(der []byte, name string) ([]field, error) {
	var fields []field
	if err := unmarshalAll(der, &fields); err != nil {
		return nil, fmt.Errorf("%w: %s is not a SEQUENCE of (OID, value): %v", ErrInvalidExtension, name, err)
	}
	return fields, nil
}

func unmarshalAll(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing bytes", len(rest))
	}
	return nil
}

// octets decodes an OCTET STRING of exactly len(dst) bytes into dst.
func octets(f field, dst []byte) error {
	var v []byte
	if err := unmarshalAll(f.Value.FullBytes, &v); err != nil {
		return fmt.Errorf("%w: field %s is not an OCTET STRING: %v", ErrInvalidExtension, f.ID, err)
	}
	if len(v) != len(dst) {
		return fmt.Errorf("%w: field %s is %d bytes, want %d", ErrInvalidExtension, f.ID, len(v), len(dst))
	}
	copy(dst, v)
	return nil
}

// integer decodes an INTEGER in 0..max.
func integer(f field, max int64) (int64, error) {
	var v int64
	if err := unmarshalAll(f.Value.FullBytes, &v); err != nil {
		return 0, fmt.Errorf("%w: field %s is not an INTEGER: %v", ErrInvalidExtension, f.ID, err)
	}
	if v < 0 || v > max {
		return 0, fmt.Errorf("%w: field %s is %d, outside 0..%d", ErrInvalidExtension, f.ID, v, max)
	}
	return v, nil
}
