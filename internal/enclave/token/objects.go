package token

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/miekg/pkcs11"
)

// Object roles. The CKA_ID of every object of one quote key or signer is
// derived from its role and name, so that a quote key and a signer of the
// same name never match each other's searches.
const (
	roleQuoteKey = "quote-key"
	roleSigner   = "signer"
)

// objectIDSize is the size of the CKA_ID values this package writes.
const objectIDSize = 16

// maxNameSize bounds quote key and signer names. Signer names of the form
// tcsissuer.tcs.intel.com/<namespace>.<name> stay well below it.
const maxNameSize = 512

func objectID(role, name string) []byte {
	sum := sha256.Sum256([]byte(role + "\x00" + name))
	return sum[:objectIDSize]
}

func checkName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("%s name is empty", kind)
	}
	if len(name) > maxNameSize {
		return fmt.Errorf("%s name of %d bytes is longer than the maximum of %d",
			kind, len(name), maxNameSize)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%s name %q is not valid UTF-8", kind, name)
	}
	return nil
}

// findObjects returns the handles of all objects that match template.
func (t *Token) findObjects(s pkcs11.SessionHandle, template []*pkcs11.Attribute) (
	[]pkcs11.ObjectHandle, error) {
	if err := t.ctx.FindObjectsInit(s, template); err != nil {
		return nil, fmt.Errorf("search the token: %w", err)
	}
	var all []pkcs11.ObjectHandle
	for {
		batch, _, err := t.ctx.FindObjects(s, 64)
		if err != nil {
			_ = t.ctx.FindObjectsFinal(s)
			return nil, fmt.Errorf("search the token: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		all = append(all, batch...)
	}
	if err := t.ctx.FindObjectsFinal(s); err != nil {
		return nil, fmt.Errorf("end the token search: %w", err)
	}
	return all, nil
}

// findOne returns the single object that matches template, or found false.
func (t *Token) findOne(s pkcs11.SessionHandle, what string, template []*pkcs11.Attribute) (
	pkcs11.ObjectHandle, bool, error) {
	handles, err := t.findObjects(s, template)
	if err != nil {
		return 0, false, err
	}
	switch len(handles) {
	case 0:
		return 0, false, nil
	case 1:
		return handles[0], true, nil
	}
	return 0, false, fmt.Errorf("token %q contains %d objects for %s, expected one; delete them "+
		"and provision again", t.label, len(handles), what)
}

// destroyObjects destroys every handle, returning the first error.
func (t *Token) destroyObjects(s pkcs11.SessionHandle, handles ...pkcs11.ObjectHandle) error {
	var first error
	for _, h := range handles {
		if err := t.ctx.DestroyObject(s, h); err != nil && first == nil {
			first = fmt.Errorf("destroy object %d: %w", h, err)
		}
	}
	return first
}

// attribute reads one attribute value of an object.
func (t *Token) attribute(s pkcs11.SessionHandle, h pkcs11.ObjectHandle, typ uint) ([]byte, error) {
	attrs, err := t.ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
	if err != nil {
		return nil, fmt.Errorf("read attribute 0x%x of object %d: %w", typ, h, err)
	}
	return attrs[0].Value, nil
}

// boolAttribute reads a CK_BBOOL attribute.
func (t *Token) boolAttribute(s pkcs11.SessionHandle, h pkcs11.ObjectHandle, typ uint) (bool, error) {
	v, err := t.attribute(s, h, typ)
	if err != nil {
		return false, err
	}
	if len(v) != 1 {
		return false, fmt.Errorf("attribute 0x%x of object %d is %d bytes, expected a 1-byte "+
			"CK_BBOOL", typ, h, len(v))
	}
	return v[0] != 0, nil
}

// ulongAttribute reads a CK_ULONG attribute in the host's byte order, as
// the module returns it.
func (t *Token) ulongAttribute(s pkcs11.SessionHandle, h pkcs11.ObjectHandle, typ uint) (uint64, error) {
	v, err := t.attribute(s, h, typ)
	if err != nil {
		return 0, err
	}
	switch len(v) {
	case 4:
		return uint64(binary.NativeEndian.Uint32(v)), nil
	case 8:
		return binary.NativeEndian.Uint64(v), nil
	}
	return 0, fmt.Errorf("attribute 0x%x of object %d is %d bytes, expected a CK_ULONG",
		typ, h, len(v))
}
