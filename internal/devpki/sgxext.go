package devpki

import (
	"encoding/asn1"
	"errors"
	"fmt"
)

// Object identifiers of the Intel SGX PCK certificate extension ("Intel SGX
// PCK Certificate and Certificate Revocation List Profile Specification",
// section 1.5). The extension value is a SEQUENCE of SEQUENCE {OID, value}.
var (
	OIDSGXExtension          = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidPPID                  = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 1}
	oidTCB                   = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2}
	oidPCEID                 = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3}
	oidFMSPC                 = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4}
	oidSGXType               = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 5}
	oidPlatformInstanceID    = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 6}
	oidConfiguration         = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 7}
	oidConfigDynamicPlatform = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 7, 1}
	oidConfigCachedKeys      = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 7, 2}
	oidConfigSMTEnabled      = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 7, 3}
)

// TCB component numbering inside the TCB entry: 1 to 16 are the SGX TCB
// component SVNs, 17 the PCESVN and 18 the CPUSVN.
const (
	tcbComponentCount = 16
	tcbPCESVNIndex    = 17
	tcbCPUSVNIndex    = 18
)

// SGXType is the SGX Type of the PCK certificate extension.
type SGXType int

const (
	SGXTypeStandard                  SGXType = 0
	SGXTypeScalable                  SGXType = 1
	SGXTypeScalableWithIntegrityOnly SGXType = 2
)

// PlatformConfiguration is the Configuration entry of the extension, present
// in certificates of the Platform CA only.
type PlatformConfiguration struct {
	DynamicPlatform bool
	CachedKeys      bool
	SMTEnabled      bool
}

// SGXExtension is the content of the SGX extension of a PCK certificate.
type SGXExtension struct {
	PPID [16]byte
	// Components are the 16 SGX TCB component SVNs.
	Components [16]byte
	PCESVN     uint16
	CPUSVN     [16]byte
	PCEID      [2]byte
	FMSPC      [6]byte
	SGXType    SGXType
	// PlatformInstanceID and Configuration are written when
	// HasPlatformFields is set (Platform CA certificates).
	HasPlatformFields  bool
	PlatformInstanceID [16]byte
	Configuration      PlatformConfiguration
}

// extensionValue is an entry before encoding: its value is any type that
// encoding/asn1 marshals.
type extensionValue struct {
	id    asn1.ObjectIdentifier
	value any
}

type extensionEntry struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

// Marshal encodes the extension value in the DER form Intel's PCK
// certificates use.
func (e *SGXExtension) Marshal() ([]byte, error) {
	var tcb []extensionEntry
	for i, svn := range e.Components {
		entry, err := newEntry(tcbComponentOID(i+1), int(svn))
		if err != nil {
			return nil, err
		}
		tcb = append(tcb, entry)
	}
	pcesvn, err := newEntry(tcbComponentOID(tcbPCESVNIndex), int(e.PCESVN))
	if err != nil {
		return nil, err
	}
	cpusvn, err := newEntry(tcbComponentOID(tcbCPUSVNIndex), e.CPUSVN[:])
	if err != nil {
		return nil, err
	}
	tcb = append(tcb, pcesvn, cpusvn)

	entries := []extensionValue{
		{oidPPID, e.PPID[:]},
		{oidTCB, tcb},
		{oidPCEID, e.PCEID[:]},
		{oidFMSPC, e.FMSPC[:]},
		{oidSGXType, asn1.Enumerated(e.SGXType)},
	}
	if e.HasPlatformFields {
		config := []extensionEntry{}
		for _, c := range []struct {
			id    asn1.ObjectIdentifier
			value bool
		}{
			{oidConfigDynamicPlatform, e.Configuration.DynamicPlatform},
			{oidConfigCachedKeys, e.Configuration.CachedKeys},
			{oidConfigSMTEnabled, e.Configuration.SMTEnabled},
		} {
			entry, err := newEntry(c.id, c.value)
			if err != nil {
				return nil, err
			}
			config = append(config, entry)
		}
		entries = append(entries,
			extensionValue{oidPlatformInstanceID, e.PlatformInstanceID[:]},
			extensionValue{oidConfiguration, config},
		)
	}

	var out []extensionEntry
	for _, entry := range entries {
		encoded, err := newEntry(entry.id, entry.value)
		if err != nil {
			return nil, err
		}
		out = append(out, encoded)
	}
	return asn1.Marshal(out)
}

func tcbComponentOID(index int) asn1.ObjectIdentifier {
	oid := append(asn1.ObjectIdentifier{}, oidTCB...)
	return append(oid, index)
}

func newEntry(id asn1.ObjectIdentifier, value any) (extensionEntry, error) {
	der, err := asn1.Marshal(value)
	if err != nil {
		return extensionEntry{}, fmt.Errorf("encode SGX extension entry %s: %w", id, err)
	}
	return extensionEntry{ID: id, Value: asn1.RawValue{FullBytes: der}}, nil
}

// ParseSGXExtension decodes the value of the SGX extension. Load uses it to
// recover an authority's platform values from its PCK certificate, and tests
// use it to check Marshal. The verifier has its own parser.
func ParseSGXExtension(der []byte) (*SGXExtension, error) {
	var entries []extensionEntry
	if err := unmarshalAll(der, &entries); err != nil {
		return nil, fmt.Errorf("invalid SGX extension: %w", err)
	}
	e := &SGXExtension{}
	seen := map[string]bool{}
	for _, entry := range entries {
		seen[entry.ID.String()] = true
		var err error
		switch {
		case entry.ID.Equal(oidPPID):
			err = unmarshalOctets(entry.Value.FullBytes, e.PPID[:])
		case entry.ID.Equal(oidTCB):
			err = e.parseTCB(entry.Value.FullBytes)
		case entry.ID.Equal(oidPCEID):
			err = unmarshalOctets(entry.Value.FullBytes, e.PCEID[:])
		case entry.ID.Equal(oidFMSPC):
			err = unmarshalOctets(entry.Value.FullBytes, e.FMSPC[:])
		case entry.ID.Equal(oidSGXType):
			var t asn1.Enumerated
			err = unmarshalAll(entry.Value.FullBytes, &t)
			e.SGXType = SGXType(t)
		case entry.ID.Equal(oidPlatformInstanceID):
			e.HasPlatformFields = true
			err = unmarshalOctets(entry.Value.FullBytes, e.PlatformInstanceID[:])
		case entry.ID.Equal(oidConfiguration):
			err = e.parseConfiguration(entry.Value.FullBytes)
		}
		if err != nil {
			return nil, fmt.Errorf("invalid SGX extension entry %s: %w", entry.ID, err)
		}
	}
	for _, required := range []asn1.ObjectIdentifier{oidPPID, oidTCB, oidPCEID, oidFMSPC, oidSGXType} {
		if !seen[required.String()] {
			return nil, fmt.Errorf("invalid SGX extension: entry %s is missing", required)
		}
	}
	return e, nil
}

func (e *SGXExtension) parseTCB(der []byte) error {
	var entries []extensionEntry
	if err := unmarshalAll(der, &entries); err != nil {
		return err
	}
	found := 0
	for _, entry := range entries {
		if len(entry.ID) != len(oidTCB)+1 || !entry.ID[:len(oidTCB)].Equal(oidTCB) {
			continue
		}
		index := entry.ID[len(oidTCB)]
		switch {
		case index >= 1 && index <= tcbComponentCount:
			var svn int
			if err := unmarshalAll(entry.Value.FullBytes, &svn); err != nil {
				return err
			}
			if svn < 0 || svn > 0xFF {
				return fmt.Errorf("component %d SVN %d is out of range 0..255", index, svn)
			}
			e.Components[index-1] = byte(svn)
		case index == tcbPCESVNIndex:
			var svn int
			if err := unmarshalAll(entry.Value.FullBytes, &svn); err != nil {
				return err
			}
			if svn < 0 || svn > 0xFFFF {
				return fmt.Errorf("PCESVN %d is out of range 0..65535", svn)
			}
			e.PCESVN = uint16(svn)
		case index == tcbCPUSVNIndex:
			if err := unmarshalOctets(entry.Value.FullBytes, e.CPUSVN[:]); err != nil {
				return err
			}
		default:
			continue
		}
		found++
	}
	if found != tcbCPUSVNIndex {
		return fmt.Errorf("TCB has %d of %d entries", found, tcbCPUSVNIndex)
	}
	return nil
}

func (e *SGXExtension) parseConfiguration(der []byte) error {
	var entries []extensionEntry
	if err := unmarshalAll(der, &entries); err != nil {
		return err
	}
	for _, entry := range entries {
		var target *bool
		switch {
		case entry.ID.Equal(oidConfigDynamicPlatform):
			target = &e.Configuration.DynamicPlatform
		case entry.ID.Equal(oidConfigCachedKeys):
			target = &e.Configuration.CachedKeys
		case entry.ID.Equal(oidConfigSMTEnabled):
			target = &e.Configuration.SMTEnabled
		default:
			continue
		}
		if err := unmarshalAll(entry.Value.FullBytes, target); err != nil {
			return err
		}
	}
	return nil
}

func unmarshalAll(der []byte, out any) error {
	rest, err := asn1.Unmarshal(der, out)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing bytes after DER value")
	}
	return nil
}

func unmarshalOctets(der []byte, out []byte) error {
	var b []byte
	if err := unmarshalAll(der, &b); err != nil {
		return err
	}
	if len(b) != len(out) {
		return fmt.Errorf("octet string has %d bytes, expected %d", len(b), len(out))
	}
	copy(out, b)
	return nil
}
