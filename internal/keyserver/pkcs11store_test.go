package keyserver_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/tcs-project/tcs/internal/enclave/token"
	"github.com/tcs-project/tcs/internal/enclave/token/softhsmtest"
	"github.com/tcs-project/tcs/internal/keyserver"
	"github.com/tcs-project/tcs/internal/keywrap"
)

const (
	pkcs11TokenLabel = "keyserver-test"
	pkcs11Signer     = "tcsclusterissuer.tcs.intel.com/pkcs11-ca"
)

// pkcs11Fixture is a PKCS11Store over a fresh SoftHSM2 token, with a
// second handle on the same token for reading objects behind the store's
// back.
type pkcs11Fixture struct {
	cfg   token.Config
	hsm   *softhsmtest.Token
	store *keyserver.PKCS11Store
	raw   *token.Token
}

func newPKCS11Fixture(t testing.TB) *pkcs11Fixture {
	t.Helper()
	hsm := softhsmtest.New(t)
	cfg := token.Config{ModulePath: hsm.Module, TokenLabel: pkcs11TokenLabel,
		UserPIN: softhsmtest.UserPIN, SOPIN: softhsmtest.SOPIN}
	store, err := keyserver.OpenPKCS11Store(cfg)
	if err != nil {
		t.Fatalf("OpenPKCS11Store: %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("close the store: %v", err)
		}
	})
	raw, err := token.Open(cfg)
	if err != nil {
		t.Fatalf("open the token a second time: %v", err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return &pkcs11Fixture{cfg: cfg, hsm: hsm, store: store, raw: raw}
}

// newCA makes a CA key of alg and its self-signed certificate.
func newCA(t testing.TB, alg, name string) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	var key crypto.Signer
	var err error
	switch alg {
	case "RSA-1024":
		key, err = rsa.GenerateKey(rand.Reader, 1024)
	case "RSA-2048":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "RSA-3072":
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	case "P-256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "P-384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "P-521":
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "Ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unknown algorithm %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(selfSignedCA(t, name, key))
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// countObjects counts the token and session objects that the logged-in
// user can see.
func (f *pkcs11Fixture) countObjects(t testing.TB) int {
	t.Helper()
	return len(f.findObjects(t, nil))
}

func (f *pkcs11Fixture) findObjects(t testing.TB, template []*pkcs11.Attribute) []pkcs11.ObjectHandle {
	t.Helper()
	var handles []pkcs11.ObjectHandle
	err := f.raw.WithSession(func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle) error {
		if err := ctx.FindObjectsInit(s, template); err != nil {
			return err
		}
		for {
			batch, _, err := ctx.FindObjects(s, 100)
			if err != nil {
				return err
			}
			if len(batch) == 0 {
				break
			}
			handles = append(handles, batch...)
		}
		return ctx.FindObjectsFinal(s)
	})
	if err != nil {
		t.Fatalf("search the token: %v", err)
	}
	return handles
}

// caKeyHandle returns the handle of the CA private key of signer.
func (f *pkcs11Fixture) caKeyHandle(t testing.TB, signer string) pkcs11.ObjectHandle {
	t.Helper()
	handles := f.findObjects(t, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, signer),
	})
	if len(handles) != 1 {
		t.Fatalf("%d private keys labelled %s, want 1", len(handles), signer)
	}
	return handles[0]
}

// withRaw runs fn on a session of the second handle.
func (f *pkcs11Fixture) withRaw(t testing.TB, fn func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle) error) {
	t.Helper()
	if err := f.raw.WithSession(fn); err != nil {
		t.Fatal(err)
	}
}

func TestPKCS11StoreWrapKey(t *testing.T) {
	f := newPKCS11Fixture(t)
	e := newEnclave(t)
	for _, alg := range []string{"RSA-2048", "RSA-3072", "P-256", "P-384"} {
		t.Run(alg, func(t *testing.T) {
			signer := pkcs11Signer + "-" + strings.ToLower(alg)
			key, cert := newCA(t, alg, signer)
			if err := f.store.ImportCA(signer, key, []*x509.Certificate{cert}); err != nil {
				t.Fatalf("ImportCA: %v", err)
			}

			before := f.countObjects(t)
			blob, chainPEM, err := f.store.WrapKey(context.Background(), signer, &e.key.PublicKey)
			if err != nil {
				t.Fatalf("WrapKey: %v", err)
			}
			if after := f.countObjects(t); after != before {
				t.Errorf("%d objects after WrapKey, %d before: session objects were left behind", after, before)
			}

			got, err := keywrap.Unwrap(e.key, blob)
			if err != nil {
				t.Fatalf("keywrap.Unwrap of the token's blob: %v", err)
			}
			if !key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(got) {
				t.Error("the unwrapped key differs from the imported CA key")
			}
			wantChain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
			if string(chainPEM) != string(wantChain) {
				t.Errorf("chain PEM = %q, want the CA certificate", chainPEM)
			}
			checkCAKeyProtected(t, f, signer, alg)
		})
	}
}

// checkCAKeyProtected checks that the CA key object is sensitive and
// extractable and that its secret value cannot be read.
func checkCAKeyProtected(t *testing.T, f *pkcs11Fixture, signer, alg string) {
	t.Helper()
	h := f.caKeyHandle(t, signer)
	secret := uint(pkcs11.CKA_VALUE)
	if strings.HasPrefix(alg, "RSA") {
		secret = pkcs11.CKA_PRIVATE_EXPONENT
	}
	f.withRaw(t, func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle) error {
		attrs, err := ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, nil),
		})
		if err != nil {
			return err
		}
		for i, name := range []string{"CKA_SENSITIVE", "CKA_EXTRACTABLE"} {
			if len(attrs[i].Value) != 1 || attrs[i].Value[0] != 1 {
				t.Errorf("%s = %x, want true", name, attrs[i].Value)
			}
		}
		if len(attrs[2].Value) != 1 || attrs[2].Value[0] != 0 {
			t.Errorf("CKA_SIGN = %x, want false", attrs[2].Value)
		}
		_, err = ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(secret, nil)})
		var rv pkcs11.Error
		if !errors.As(err, &rv) || rv != pkcs11.CKR_ATTRIBUTE_SENSITIVE {
			t.Errorf("reading attribute 0x%x of the CA key: error %v, want CKR_ATTRIBUTE_SENSITIVE", secret, err)
		}
		return nil
	})
}

// TestPKCS11StoreIntoEnclaveToken delivers a CA key from the key server's
// token to an enclave token: the enclave token unwraps the blob and signs
// with the key.
func TestPKCS11StoreIntoEnclaveToken(t *testing.T) {
	f := newPKCS11Fixture(t)
	enclaveToken, err := token.Open(token.Config{ModulePath: f.hsm.Module, TokenLabel: "enclave-test",
		UserPIN: softhsmtest.UserPIN, SOPIN: softhsmtest.SOPIN})
	if err != nil {
		t.Fatalf("open the enclave token: %v", err)
	}
	t.Cleanup(func() { _ = enclaveToken.Close() })
	quoteKey, err := enclaveToken.GenerateQuoteKey("attestation-1")
	if err != nil {
		t.Fatal(err)
	}

	for _, alg := range []string{"RSA-3072", "P-256"} {
		t.Run(alg, func(t *testing.T) {
			signer := pkcs11Signer + "-" + strings.ToLower(alg)
			key, cert := newCA(t, alg, signer)
			if err := f.store.ImportCA(signer, key, []*x509.Certificate{cert}); err != nil {
				t.Fatal(err)
			}
			blob, _, err := f.store.WrapKey(context.Background(), signer, quoteKey.Public)
			if err != nil {
				t.Fatalf("WrapKey: %v", err)
			}
			imported, err := enclaveToken.ImportKMRA(quoteKey, signer, blob, cert)
			if err != nil {
				t.Fatalf("ImportKMRA of the token's blob: %v", err)
			}
			digest := sha256.Sum256([]byte("tbs certificate"))
			sig, err := imported.Sign(rand.Reader, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatalf("sign in the enclave token: %v", err)
			}
			switch pub := cert.PublicKey.(type) {
			case *rsa.PublicKey:
				err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digest[:], sig) {
					err = errors.New("ecdsa signature invalid")
				}
			}
			if err != nil {
				t.Errorf("the enclave's signature does not verify with the CA certificate: %v", err)
			}
		})
	}
}

func TestPKCS11StoreConcurrentWraps(t *testing.T) {
	f := newPKCS11Fixture(t)
	key, cert := newCA(t, "P-384", pkcs11Signer)
	if err := f.store.ImportCA(pkcs11Signer, key, []*x509.Certificate{cert}); err != nil {
		t.Fatal(err)
	}
	const workers = 8
	enclaves := make([]*enclave, workers)
	for i := range enclaves {
		enclaves[i] = newEnclave(t)
	}
	before := f.countObjects(t)

	blobs := make([][]byte, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i, e := range enclaves {
		wg.Go(func() {
			blobs[i], _, errs[i] = f.store.WrapKey(context.Background(), pkcs11Signer, &e.key.PublicKey)
		})
	}
	wg.Wait()

	for i, e := range enclaves {
		if errs[i] != nil {
			t.Errorf("WrapKey %d: %v", i, errs[i])
			continue
		}
		got, err := keywrap.Unwrap(e.key, blobs[i])
		if err != nil {
			t.Errorf("Unwrap %d: %v", i, err)
			continue
		}
		if !key.(*ecdsa.PrivateKey).Equal(got) {
			t.Errorf("blob %d carries another key", i)
		}
	}
	if after := f.countObjects(t); after != before {
		t.Errorf("%d objects after the wraps, %d before", after, before)
	}
}

func TestPKCS11StoreChain(t *testing.T) {
	f := newPKCS11Fixture(t)
	e := newEnclave(t)
	key, cert := newCA(t, "P-256", pkcs11Signer)
	_, root := newCA(t, "P-384", "root")
	if err := f.store.ImportCA(pkcs11Signer, key, []*x509.Certificate{cert, root}); err != nil {
		t.Fatalf("ImportCA: %v", err)
	}
	_, chainPEM, err := f.store.WrapKey(context.Background(), pkcs11Signer, &e.key.PublicKey)
	if err != nil {
		t.Fatalf("WrapKey: %v", err)
	}
	want := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})...)
	if string(chainPEM) != string(want) {
		t.Errorf("chain PEM = %q, want the CA certificate and then the root", chainPEM)
	}

	list, err := f.store.ListCAs()
	if err != nil {
		t.Fatalf("ListCAs: %v", err)
	}
	if len(list) != 1 {
		t.Fatalf("ListCAs returned %d entries, want 1", len(list))
	}
	if list[0].Signer != pkcs11Signer || list[0].ChainLength != 2 || list[0].Problem != "" {
		t.Errorf("ListCAs = %+v, want %s with a chain of 2 and no problem", list[0], pkcs11Signer)
	}
	if got := list[0].KeyAlgorithm(); got != "ECDSA-P-256" {
		t.Errorf("KeyAlgorithm = %s, want ECDSA-P-256", got)
	}
}

func TestPKCS11StoreImportPEM(t *testing.T) {
	f := newPKCS11Fixture(t)
	e := newEnclave(t)
	rsaKey, rsaCert := newCA(t, "RSA-2048", "pkcs1")
	ecKey, ecCert := newCA(t, "P-384", "sec1")
	pkcs8Key, pkcs8Cert := newCA(t, "P-256", "pkcs8")
	ecDER, err := x509.MarshalECPrivateKey(ecKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	pkcs8DER, err := x509.MarshalPKCS8PrivateKey(pkcs8Key)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		key     crypto.Signer
		keyPEM  *pem.Block
		certDER []byte
	}{
		"PKCS#1": {rsaKey, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey.(*rsa.PrivateKey))}, rsaCert.Raw},
		"SEC 1":  {ecKey, &pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}, ecCert.Raw},
		"PKCS#8": {pkcs8Key, &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8DER}, pkcs8Cert.Raw},
	} {
		t.Run(name, func(t *testing.T) {
			signer := pkcs11Signer + "-" + strings.ReplaceAll(name, " ", "")
			certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tc.certDER})
			if err := f.store.ImportCAPEM(signer, pem.EncodeToMemory(tc.keyPEM), certPEM); err != nil {
				t.Fatalf("ImportCAPEM: %v", err)
			}
			blob, _, err := f.store.WrapKey(context.Background(), signer, &e.key.PublicKey)
			if err != nil {
				t.Fatalf("WrapKey: %v", err)
			}
			got, err := keywrap.Unwrap(e.key, blob)
			if err != nil {
				t.Fatalf("Unwrap: %v", err)
			}
			if !tc.key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(got) {
				t.Error("the unwrapped key differs from the imported CA key")
			}
		})
	}
}

func TestPKCS11StoreImportRejects(t *testing.T) {
	f := newPKCS11Fixture(t)
	existingKey, existingCert := newCA(t, "P-256", pkcs11Signer)
	if err := f.store.ImportCA(pkcs11Signer, existingKey, []*x509.Certificate{existingCert}); err != nil {
		t.Fatal(err)
	}
	p256, p256Cert := newCA(t, "P-256", "ca")
	_, otherCert := newCA(t, "P-256", "other")
	rsa1024, rsa1024Cert := newCA(t, "RSA-1024", "small")
	p521, p521Cert := newCA(t, "P-521", "p521")
	ed, edCert := newCA(t, "Ed25519", "ed")
	for name, tc := range map[string]struct {
		signer string
		key    crypto.Signer
		chain  []*x509.Certificate
		want   error
	}{
		"exists":       {pkcs11Signer, p256, []*x509.Certificate{p256Cert}, token.ErrExists},
		"mismatch":     {pkcs11Signer + "-mismatch", p256, []*x509.Certificate{otherCert}, token.ErrCertificateMismatch},
		"rsa-1024":     {pkcs11Signer + "-1024", rsa1024, []*x509.Certificate{rsa1024Cert}, token.ErrUnsupportedKey},
		"p-521":        {pkcs11Signer + "-521", p521, []*x509.Certificate{p521Cert}, token.ErrUnsupportedKey},
		"ed25519":      {pkcs11Signer + "-ed", ed, []*x509.Certificate{edCert}, token.ErrUnsupportedKey},
		"empty chain":  {pkcs11Signer + "-nochain", p256, nil, nil},
		"empty signer": {"", p256, []*x509.Certificate{p256Cert}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			before := f.countObjects(t)
			err := f.store.ImportCA(tc.signer, tc.key, tc.chain)
			if err == nil {
				t.Fatal("ImportCA succeeded, want an error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("ImportCA error = %v, want %v", err, tc.want)
			}
			if after := f.countObjects(t); after != before {
				t.Errorf("%d objects after the failed import, %d before", after, before)
			}
		})
	}
}

func TestPKCS11StoreWrapRejects(t *testing.T) {
	f := newPKCS11Fixture(t)
	e := newEnclave(t)

	// Entries that other tools could have written: each breaks one rule.
	addKey := func(signer string, sensitive, extractable bool) (crypto.Signer, *x509.Certificate) {
		key, cert := newCA(t, "P-256", signer)
		if err := f.store.ImportCA(signer, key, []*x509.Certificate{cert}); err != nil {
			t.Fatal(err)
		}
		h := f.caKeyHandle(t, signer)
		f.withRaw(t, func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle) error {
			// A fresh object carries the flags, because PKCS#11 lets
			// CKA_SENSITIVE only turn on and CKA_EXTRACTABLE only off.
			if err := ctx.DestroyObject(s, h); err != nil {
				return err
			}
			params, _ := hex.DecodeString("06082a8648ce3d030107")
			scalar, _ := key.(*ecdsa.PrivateKey).Bytes()
			id := f.idOfCertificate(t, ctx, s, signer)
			_, err := ctx.CreateObject(s, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
				pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, signer),
				pkcs11.NewAttribute(pkcs11.CKA_ID, id),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
				pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, sensitive),
				pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, extractable),
				pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
				pkcs11.NewAttribute(pkcs11.CKA_VALUE, scalar),
			})
			return err
		})
		return key, cert
	}
	addKey(pkcs11Signer+"-readable", false, true)
	addKey(pkcs11Signer+"-unextractable", true, false)

	// A certificate of another key in place of the CA's.
	mismatch := pkcs11Signer + "-mismatch"
	rsaKey, rsaCert := newCA(t, "RSA-2048", mismatch)
	if err := f.store.ImportCA(mismatch, rsaKey, []*x509.Certificate{rsaCert}); err != nil {
		t.Fatal(err)
	}
	_, otherCert := newCA(t, "RSA-2048", mismatch)
	f.replaceCertificate(t, mismatch, otherCert)

	noCert := pkcs11Signer + "-no-certificate"
	key, cert := newCA(t, "P-384", noCert)
	if err := f.store.ImportCA(noCert, key, []*x509.Certificate{cert}); err != nil {
		t.Fatal(err)
	}
	f.replaceCertificate(t, noCert, nil)

	for name, tc := range map[string]struct {
		signer string
		want   error
		text   string
	}{
		"unknown":         {pkcs11Signer + "-unknown", keyserver.ErrUnknownSigner, "no private key labelled"},
		"empty name":      {"", keyserver.ErrUnknownSigner, "empty"},
		"not sensitive":   {pkcs11Signer + "-readable", keyserver.ErrKeyStore, "CKA_SENSITIVE false"},
		"not extractable": {pkcs11Signer + "-unextractable", keyserver.ErrKeyStore, "CKA_EXTRACTABLE false"},
		"mismatch":        {mismatch, keyserver.ErrKeyStore, "does not match its certificate"},
		"no certificate":  {noCert, keyserver.ErrKeyStore, "no certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			before := f.countObjects(t)
			_, _, err := f.store.WrapKey(context.Background(), tc.signer, &e.key.PublicKey)
			if !errors.Is(err, tc.want) {
				t.Fatalf("WrapKey error = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("WrapKey error = %q, want it to contain %q", err, tc.text)
			}
			if after := f.countObjects(t); after != before {
				t.Errorf("%d objects after the failed WrapKey, %d before", after, before)
			}
		})
	}

	t.Run("small enclave key", func(t *testing.T) {
		small, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = f.store.WrapKey(context.Background(), noCert, &small.PublicKey)
		if !errors.Is(err, keyserver.ErrKeyStore) {
			t.Errorf("WrapKey error = %v, want ErrKeyStore", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, _, err := f.store.WrapKey(ctx, mismatch, &e.key.PublicKey)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("WrapKey error = %v, want context.Canceled", err)
		}
	})
}

// idOfCertificate returns the CKA_ID of the certificate of signer.
func (f *pkcs11Fixture) idOfCertificate(t testing.TB, ctx *pkcs11.Ctx, s pkcs11.SessionHandle, signer string) []byte {
	t.Helper()
	certs := f.findObjects(t, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, signer),
	})
	if len(certs) != 1 {
		t.Fatalf("%d certificates labelled %s, want 1", len(certs), signer)
	}
	attrs, err := ctx.GetAttributeValue(s, certs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, nil)})
	if err != nil {
		t.Fatal(err)
	}
	return attrs[0].Value
}

// replaceCertificate swaps the CA certificate of signer for cert, keeping
// its label and ID, or only deletes it when cert is nil.
func (f *pkcs11Fixture) replaceCertificate(t testing.TB, signer string, cert *x509.Certificate) {
	t.Helper()
	f.withRaw(t, func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle) error {
		id := f.idOfCertificate(t, ctx, s, signer)
		certs := f.findObjects(t, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, signer),
		})
		if err := ctx.DestroyObject(s, certs[0]); err != nil {
			return err
		}
		if cert == nil {
			return nil
		}
		_, err := ctx.CreateObject(s, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
			pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, signer),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, cert.RawSubject),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, cert.Raw),
		})
		return err
	})
}

func TestPKCS11StoreListDelete(t *testing.T) {
	f := newPKCS11Fixture(t)
	empty := f.countObjects(t)
	names := []string{pkcs11Signer + "-b", pkcs11Signer + "-a"}
	for _, name := range names {
		key, cert := newCA(t, "P-256", name)
		if err := f.store.ImportCA(name, key, []*x509.Certificate{cert}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := f.store.ListCAs()
	if err != nil {
		t.Fatalf("ListCAs: %v", err)
	}
	if len(list) != 2 || list[0].Signer != names[1] || list[1].Signer != names[0] {
		t.Fatalf("ListCAs = %+v, want %s and %s in order", list, names[1], names[0])
	}

	for _, name := range names {
		if err := f.store.DeleteCA(name); err != nil {
			t.Fatalf("DeleteCA %s: %v", name, err)
		}
	}
	if n := f.countObjects(t); n != empty {
		t.Errorf("%d objects after deleting every CA, want %d", n, empty)
	}
	if err := f.store.DeleteCA(names[0]); !errors.Is(err, keyserver.ErrUnknownSigner) {
		t.Errorf("second DeleteCA error = %v, want ErrUnknownSigner", err)
	}
}

func TestPKCS11StoreOpenErrors(t *testing.T) {
	hsm := softhsmtest.New(t)
	good := token.Config{ModulePath: hsm.Module, TokenLabel: pkcs11TokenLabel,
		UserPIN: softhsmtest.UserPIN, SOPIN: softhsmtest.SOPIN}
	// Initialise the token, then close it so that each case logs in anew.
	store, err := keyserver.OpenPKCS11Store(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	for name, tc := range map[string]struct {
		edit func(*token.Config)
		want error
		text string
	}{
		"wrong pin": {func(c *token.Config) { c.UserPIN = "wrong-pin" }, token.ErrPINIncorrect, "check the configured user pin"},
		"missing module": {func(c *token.Config) { c.ModulePath = filepath.Join(hsm.Dir, "missing.so") },
			token.ErrModuleNotFound, "missing.so"},
		"not a module": {func(c *token.Config) { c.ModulePath = hsm.ConfPath }, token.ErrModuleNotFound,
			"could not be loaded"},
		"unknown token": {func(c *token.Config) { c.TokenLabel, c.SOPIN = "no-such-token", "" },
			token.ErrTokenNotFound, "no-such-token"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := good
			cfg.SOPIN = ""
			tc.edit(&cfg)
			store, err := keyserver.OpenPKCS11Store(cfg)
			if err == nil {
				_ = store.Close()
				t.Fatal("OpenPKCS11Store succeeded, want an error")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error = %q, want it to contain %q", err, tc.text)
			}
			if strings.Contains(err.Error(), cfg.UserPIN) {
				t.Error("the error contains the pin")
			}
		})
	}
}

func TestPKCS11StoreClosed(t *testing.T) {
	f := newPKCS11Fixture(t)
	e := newEnclave(t)
	key, cert := newCA(t, "P-256", pkcs11Signer)
	if err := f.store.ImportCA(pkcs11Signer, key, []*x509.Certificate{cert}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.store.WrapKey(context.Background(), pkcs11Signer, &e.key.PublicKey)
	if !errors.Is(err, token.ErrClosed) {
		t.Errorf("WrapKey error = %v, want token.ErrClosed", err)
	}
	if errors.Is(err, keyserver.ErrKeyStore) || errors.Is(err, keyserver.ErrUnknownSigner) {
		t.Errorf("WrapKey error %v is permanent, want a transient error that is retried", err)
	}
}

// TestPKCS11StoreBlobOpensWithOpenSSL opens a blob that the token made
// with the openssl command alone: pkeyutl for the RSA-OAEP part, enc
// -id-aes256-wrap-pad for the rest, pkey to parse the PKCS#8 result.
func TestPKCS11StoreBlobOpensWithOpenSSL(t *testing.T) {
	opensslPath, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not on PATH")
	}
	f := newPKCS11Fixture(t)
	e := newEnclave(t)
	for _, alg := range []string{"RSA-3072", "P-384"} {
		t.Run(alg, func(t *testing.T) {
			signer := pkcs11Signer + "-" + strings.ToLower(alg)
			key, cert := newCA(t, alg, signer)
			if err := f.store.ImportCA(signer, key, []*x509.Certificate{cert}); err != nil {
				t.Fatal(err)
			}
			blob, _, err := f.store.WrapKey(context.Background(), signer, &e.key.PublicKey)
			if err != nil {
				t.Fatal(err)
			}

			dir := t.TempDir()
			write := func(name string, data []byte) string {
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			}
			enclaveDER, err := x509.MarshalPKCS8PrivateKey(e.key)
			if err != nil {
				t.Fatal(err)
			}
			keyFile := write("enclave.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: enclaveDER}))
			rsaPart := write("rsa.bin", blob[:e.key.Size()])
			wrapPart := write("wrap.bin", blob[e.key.Size():])

			aesKey, err := exec.Command(opensslPath, "pkeyutl", "-decrypt", "-inkey", keyFile,
				"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1",
				"-pkeyopt", "rsa_mgf1_md:sha1", "-in", rsaPart).Output()
			if err != nil {
				t.Fatalf("openssl pkeyutl: %v: %s", err, stderrOf(err))
			}
			if len(aesKey) != keywrap.AESKeySize {
				t.Fatalf("openssl pkeyutl returned %d bytes, want %d", len(aesKey), keywrap.AESKeySize)
			}
			der, err := exec.Command(opensslPath, "enc", "-d", "-id-aes256-wrap-pad",
				"-K", hex.EncodeToString(aesKey), "-iv", "A65959A6", "-in", wrapPart).Output()
			if err != nil {
				t.Fatalf("openssl enc: %v: %s", err, stderrOf(err))
			}
			derFile := write("key.der", der)
			if out, err := exec.Command(opensslPath, "pkey", "-inform", "DER", "-in", derFile,
				"-noout").CombinedOutput(); err != nil {
				t.Fatalf("openssl pkey cannot parse the unwrapped key: %v: %s", err, out)
			}
			got, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				t.Fatalf("the key that openssl unwrapped is not PKCS#8: %v", err)
			}
			if !key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(got) {
				t.Error("openssl unwrapped another key than the imported CA key")
			}
		})
	}
}

func stderrOf(err error) string {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return strings.TrimSpace(string(exitErr.Stderr))
	}
	return ""
}

func BenchmarkPKCS11StoreWrapKey(b *testing.B) {
	for _, alg := range []string{"RSA-3072", "P-256"} {
		b.Run(alg, func(b *testing.B) {
			f := newPKCS11Fixture(b)
			e := newEnclave(b)
			key, cert := newCA(b, alg, pkcs11Signer)
			if err := f.store.ImportCA(pkcs11Signer, key, []*x509.Certificate{cert}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, _, err := f.store.WrapKey(context.Background(), pkcs11Signer, &e.key.PublicKey); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
