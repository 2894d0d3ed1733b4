package token

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/tcs-project/tcs/internal/keywrap"
)

const testSigner = "tcsissuer.tcs.intel.com/sandbox.ca"

func TestImportKMRA(t *testing.T) {
	tok := openToken(t, testConfig(t))
	qk, err := tok.GenerateQuoteKey("attestation-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []KeyAlgorithm{RSA3072, ECDSAP256, ECDSAP384} {
		t.Run(string(alg), func(t *testing.T) {
			caKey, caCert := testCA(t, alg)
			blob, err := keywrap.Wrap(qk.Public, caKey)
			if err != nil {
				t.Fatal(err)
			}
			name := testSigner + "-" + string(alg)
			signer, err := tok.ImportKMRA(qk, name, blob, caCert)
			if err != nil {
				t.Fatalf("ImportKMRA: %v", err)
			}
			issueLeaf(t, signer, caCert)

			p, err := signer.KeyProtection()
			if err != nil {
				t.Fatalf("KeyProtection: %v", err)
			}
			if !p.Sensitive {
				t.Error("unwrapped key has CKA_SENSITIVE false, want true")
			}
			if p.Extractable {
				t.Error("unwrapped key has CKA_EXTRACTABLE true, want false")
			}
			if !p.Token || !p.Private {
				t.Errorf("unwrapped key has CKA_TOKEN %v, CKA_PRIVATE %v, want both true",
					p.Token, p.Private)
			}

			checkKeyUnreadable(t, tok, signer)

			found, err := tok.FindSigner(name)
			if err != nil {
				t.Fatalf("FindSigner: %v", err)
			}
			if !bytes.Equal(found.Certificate().Raw, caCert.Raw) {
				t.Error("FindSigner returned another certificate")
			}
			issueLeaf(t, found, caCert)

			if _, err := tok.ImportKMRA(qk, name, blob, caCert); !errors.Is(err, ErrExists) {
				t.Errorf("second ImportKMRA error = %v, want ErrExists", err)
			}
		})
	}

	names, err := tok.ListSigners()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 3 {
		t.Errorf("ListSigners = %q, want 3 names", names)
	}
	// Three signers of two objects each, and the quote key pair.
	if got := countObjects(t, tok); got != 8 {
		t.Errorf("token holds %d objects, want 8: a temporary aes key was left behind?", got)
	}
}

func TestImportKMRARejects(t *testing.T) {
	tok := openToken(t, testConfig(t))
	qk, err := tok.GenerateQuoteKey("attestation-1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := tok.GenerateQuoteKey("attestation-2")
	if err != nil {
		t.Fatal(err)
	}
	caKey, caCert := testCA(t, ECDSAP256)
	_, otherCert := testCA(t, ECDSAP256)
	_, p384Cert := testCA(t, ECDSAP384)
	_, rsaCert := testCA(t, RSA3072)
	blob, err := keywrap.Wrap(qk.Public, caKey)
	if err != nil {
		t.Fatal(err)
	}
	forOther, err := keywrap.Wrap(other.Public, caKey)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(blob)
		c[i] ^= 0x01
		return c
	}
	k := qk.Public.Size()
	before := countObjects(t, tok)

	tests := map[string]struct {
		blob []byte
		cert *x509.Certificate
		want error
	}{
		"blob for another key":  {forOther, caCert, keywrap.ErrWrongKey},
		"truncated":             {blob[:len(blob)-1], caCert, keywrap.ErrMalformed},
		"truncated semiblock":   {blob[:len(blob)-8], caCert, keywrap.ErrIntegrity},
		"rsa part only":         {blob[:k], caCert, keywrap.ErrMalformed},
		"empty":                 {nil, caCert, keywrap.ErrMalformed},
		"rsa part corrupted":    {flip(7), caCert, keywrap.ErrWrongKey},
		"wrap part corrupted":   {flip(k + 9), caCert, keywrap.ErrIntegrity},
		"last byte corrupted":   {flip(len(blob) - 1), caCert, keywrap.ErrIntegrity},
		"mismatched cert":       {blob, otherCert, ErrCertificateMismatch},
		"cert of other curve":   {blob, p384Cert, ErrCertificateMismatch},
		"cert of other type":    {blob, rsaCert, keywrap.ErrIntegrity},
		"unsupported cert type": {blob, ed25519Cert(t), ErrUnsupportedKey},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := tok.ImportKMRA(qk, testSigner, tc.blob, tc.cert)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ImportKMRA error = %v, want %v", err, tc.want)
			}
			t.Logf("ImportKMRA error: %v", err)
			if after := countObjects(t, tok); after != before {
				t.Errorf("token holds %d objects after the failed import, want %d", after, before)
			}
			if _, err := tok.FindSigner(testSigner); !errors.Is(err, ErrNotFound) {
				t.Errorf("FindSigner after the failed import error = %v, want ErrNotFound", err)
			}
		})
	}
}

func ed25519Cert(t *testing.T) *x509.Certificate {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ed25519 ca"},
		NotBefore:    time.Now(),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestRequireMechanism(t *testing.T) {
	tok := openToken(t, testConfig(t))
	if err := tok.requireKMRAMechanisms(); err != nil {
		t.Errorf("SoftHSM2 lacks a KMRA mechanism: %v", err)
	}
	// crypto-api-toolkit's quoting mechanism is unknown to SoftHSM2.
	err := tok.requireMechanism(pkcs11.CKM_VENDOR_DEFINED+0x210D, pkcs11.CKF_WRAP, "vendor")
	if !errors.Is(err, ErrMechanismUnsupported) {
		t.Errorf("requireMechanism(vendor) error = %v, want ErrMechanismUnsupported", err)
	}
	// CKM_ECDSA signs but does not unwrap.
	err = tok.requireMechanism(pkcs11.CKM_ECDSA, pkcs11.CKF_UNWRAP, "CKM_ECDSA")
	if !errors.Is(err, ErrMechanismUnsupported) {
		t.Errorf("requireMechanism(CKM_ECDSA, unwrap) error = %v, want ErrMechanismUnsupported", err)
	}
}

// checkKeyUnreadable checks that the token refuses to reveal the private
// key value or to wrap the key out with an AES key of its own.
func checkKeyUnreadable(t *testing.T, tok *Token, signer *Signer) {
	t.Helper()
	secret := uint(pkcs11.CKA_VALUE)
	if _, ok := signer.Public().(*rsa.PublicKey); ok {
		secret = pkcs11.CKA_PRIVATE_EXPONENT
	}
	err := tok.withSession(func(s pkcs11.SessionHandle) error {
		if _, err := tok.attribute(s, signer.priv, secret); !isRV(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) {
			t.Errorf("reading the private key value: error %v, want CKR_ATTRIBUTE_SENSITIVE", err)
		}
		wrapKey, err := tok.ctx.GenerateKey(s,
			[]*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)},
			[]*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
				pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
				pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
				pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
			})
		if err != nil {
			return err
		}
		defer func() { _ = tok.ctx.DestroyObject(s, wrapKey) }()
		_, err = tok.ctx.WrapKey(s,
			[]*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)},
			wrapKey, signer.priv)
		if !isRV(err, pkcs11.CKR_KEY_UNEXTRACTABLE) {
			t.Errorf("wrapping the private key out: error %v, want CKR_KEY_UNEXTRACTABLE", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
