package token

import (
	"fmt"

	"github.com/miekg/pkcs11"
)

// kmraMechanisms are the mechanisms that ImportKMRA needs, with the
// function flag each must support.
var kmraMechanisms = []struct {
	mechanism uint
	flag      uint
	name      string
}{
	{pkcs11.CKM_RSA_PKCS_OAEP, pkcs11.CKF_UNWRAP, "CKM_RSA_PKCS_OAEP"},
	{pkcs11.CKM_AES_KEY_WRAP_PAD, pkcs11.CKF_UNWRAP, "CKM_AES_KEY_WRAP_PAD"},
}

// requireMechanism checks that the token supports mechanism for the
// function flag (CKF_UNWRAP, CKF_SIGN and so on). Without this check a
// missing mechanism would surface as a failed unwrap and be mistaken for a
// bad blob.
func (t *Token) requireMechanism(mechanism, flag uint, name string) error {
	info, err := t.ctx.GetMechanismInfo(t.slot, []*pkcs11.Mechanism{pkcs11.NewMechanism(mechanism, nil)})
	if err != nil {
		return fmt.Errorf("%w: token %q does not support %s (0x%x): %v", ErrMechanismUnsupported,
			t.label, name, mechanism, err)
	}
	if info.Flags&flag == 0 {
		return fmt.Errorf("%w: token %q supports %s (0x%x) but not for function flag 0x%x",
			ErrMechanismUnsupported, t.label, name, mechanism, flag)
	}
	return nil
}

// requireKMRAMechanisms checks the mechanisms of ImportKMRA once per Token.
func (t *Token) requireKMRAMechanisms() error {
	t.kmraOnce.Do(func() {
		for _, m := range kmraMechanisms {
			if t.kmraErr = t.requireMechanism(m.mechanism, m.flag, m.name); t.kmraErr != nil {
				return
			}
		}
	})
	return t.kmraErr
}
