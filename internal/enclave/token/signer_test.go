package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestGenerateSelfSignedCA(t *testing.T) {
	tok := openToken(t, testConfig(t))
	for _, alg := range []KeyAlgorithm{RSA3072, ECDSAP256, ECDSAP384} {
		t.Run(string(alg), func(t *testing.T) {
			name := "tcsclusterissuer.tcs.intel.com/" + string(alg)
			notBefore := time.Now().Add(-time.Minute).Truncate(time.Second)
			signer, err := tok.GenerateSelfSignedCA(name, CAOptions{Algorithm: alg,
				NotBefore: notBefore, Validity: 24 * time.Hour})
			if err != nil {
				t.Fatalf("GenerateSelfSignedCA: %v", err)
			}
			cert := signer.Certificate()
			if err := cert.CheckSignatureFrom(cert); err != nil {
				t.Errorf("ca certificate is not validly self-signed: %v", err)
			}
			if !cert.IsCA || !cert.MaxPathLenZero {
				t.Errorf("ca certificate IsCA %v, MaxPathLenZero %v, want both true",
					cert.IsCA, cert.MaxPathLenZero)
			}
			if cert.Subject.CommonName != name {
				t.Errorf("subject common name = %q, want %q", cert.Subject.CommonName, name)
			}
			if !cert.NotBefore.Equal(notBefore) || !cert.NotAfter.Equal(notBefore.Add(24*time.Hour)) {
				t.Errorf("validity %v to %v, want %v for 24h", cert.NotBefore, cert.NotAfter, notBefore)
			}
			issueLeaf(t, signer, cert)

			p, err := signer.KeyProtection()
			if err != nil {
				t.Fatal(err)
			}
			want := KeyProtection{Token: true, Private: true, Sensitive: true,
				AlwaysSensitive: true, NeverExtractable: true}
			if p != want {
				t.Errorf("KeyProtection = %+v, want %+v", p, want)
			}
		})
	}

	// Each signer is a private key and a certificate; no public key remains.
	if got := countObjects(t, tok); got != 6 {
		t.Errorf("token holds %d objects, want 6", got)
	}
}

func TestGenerateSelfSignedCARejects(t *testing.T) {
	tok := openToken(t, testConfig(t))
	if _, err := tok.GenerateSelfSignedCA("ca", CAOptions{}); err != nil {
		t.Fatal(err)
	}
	before := countObjects(t, tok)
	tests := map[string]struct {
		name string
		opts CAOptions
		want error
	}{
		"existing name":     {"ca", CAOptions{}, ErrExists},
		"unknown algorithm": {"ca-2", CAOptions{Algorithm: "DSA-1024"}, ErrUnsupportedKey},
		"negative validity": {"ca-3", CAOptions{Validity: -time.Hour}, nil},
		"empty name":        {"", CAOptions{}, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := tok.GenerateSelfSignedCA(tc.name, tc.opts)
			if err == nil {
				t.Fatal("GenerateSelfSignedCA succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("GenerateSelfSignedCA error = %v, want %v", err, tc.want)
			}
			if after := countObjects(t, tok); after != before {
				t.Errorf("token holds %d objects after the failure, want %d", after, before)
			}
		})
	}
}

func TestSignerListAndDelete(t *testing.T) {
	tok := openToken(t, testConfig(t))
	names := []string{"tcsissuer.tcs.intel.com/b.ca", "tcsissuer.tcs.intel.com/a.ca"}
	for _, name := range names {
		if _, err := tok.GenerateSelfSignedCA(name, CAOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tok.GenerateQuoteKey("attestation-1"); err != nil {
		t.Fatal(err)
	}

	got, err := tok.ListSigners()
	if err != nil {
		t.Fatalf("ListSigners: %v", err)
	}
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(got, want) {
		t.Errorf("ListSigners = %q, want %q", got, want)
	}

	if err := tok.DeleteSigner(names[0]); err != nil {
		t.Fatalf("DeleteSigner: %v", err)
	}
	if _, err := tok.FindSigner(names[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindSigner after DeleteSigner error = %v, want ErrNotFound", err)
	}
	if err := tok.DeleteSigner(names[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteSigner error = %v, want ErrNotFound", err)
	}
	if got, _ := tok.ListSigners(); !slices.Equal(got, names[1:]) {
		t.Errorf("ListSigners after deletion = %q, want %q", got, names[1:])
	}
	// The other signer and the quote key pair remain.
	if got := countObjects(t, tok); got != 4 {
		t.Errorf("token holds %d objects, want 4", got)
	}
}

func TestSignerSignOptions(t *testing.T) {
	tok := openToken(t, testConfig(t))
	rsaSigner, err := tok.GenerateSelfSignedCA("rsa", CAOptions{Algorithm: RSA3072})
	if err != nil {
		t.Fatal(err)
	}
	ecSigner, err := tok.GenerateSelfSignedCA("ec", CAOptions{Algorithm: ECDSAP384})
	if err != nil {
		t.Fatal(err)
	}
	d256 := sha256.Sum256([]byte("message"))
	d384 := sha512.Sum384([]byte("message"))
	d512 := sha512.Sum512([]byte("message"))
	rsaPub := rsaSigner.Public().(*rsa.PublicKey)
	ecPub := ecSigner.Public().(*ecdsa.PublicKey)

	tests := map[string]struct {
		signer *Signer
		digest []byte
		opts   crypto.SignerOpts
	}{
		"rsa pkcs1 sha256":        {rsaSigner, d256[:], crypto.SHA256},
		"rsa pkcs1 sha512":        {rsaSigner, d512[:], crypto.SHA512},
		"rsa pss equals hash":     {rsaSigner, d256[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}},
		"rsa pss auto":            {rsaSigner, d384[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA384}},
		"rsa pss explicit salt":   {rsaSigner, d256[:], &rsa.PSSOptions{SaltLength: 20, Hash: crypto.SHA256}},
		"ecdsa p384 sha384":       {ecSigner, d384[:], crypto.SHA384},
		"ecdsa p384 sha256 input": {ecSigner, d256[:], crypto.SHA256},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sig, err := tc.signer.Sign(rand.Reader, tc.digest, tc.opts)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			switch opts := tc.opts.(type) {
			case *rsa.PSSOptions:
				verifyOpts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: opts.Hash}
				err = rsa.VerifyPSS(rsaPub, opts.Hash, tc.digest, sig, verifyOpts)
			default:
				if tc.signer == rsaSigner {
					err = rsa.VerifyPKCS1v15(rsaPub, opts.HashFunc(), tc.digest, sig)
				} else if !ecdsa.VerifyASN1(ecPub, tc.digest, sig) {
					err = errors.New("ecdsa signature does not verify")
				}
			}
			if err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
		})
	}

	// crypto/x509 signs RSA-PSS certificates with PSSSaltLengthEqualsHash.
	ca := rsaSigner.Certificate()
	template := &x509.Certificate{
		SerialNumber:       ca.SerialNumber,
		Subject:            pkix.Name{CommonName: "pss leaf"},
		NotBefore:          time.Now(),
		NotAfter:           time.Now().Add(time.Hour),
		SignatureAlgorithm: x509.SHA256WithRSAPSS,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca, ca.PublicKey, rsaSigner)
	if err != nil {
		t.Fatalf("CreateCertificate with RSA-PSS: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		t.Errorf("RSA-PSS leaf does not verify: %v", err)
	}

	if _, err := rsaSigner.Sign(rand.Reader, d256[:], crypto.SHA1); err == nil {
		t.Error("Sign accepted SHA-1")
	}
	if _, err := rsaSigner.Sign(rand.Reader, d256[:20], crypto.SHA256); err == nil {
		t.Error("Sign accepted a 20-byte digest for SHA-256")
	}
}

// TestSignerConcurrent signs from many goroutines at once, more than the
// session pool keeps idle.
func TestSignerConcurrent(t *testing.T) {
	tok := openToken(t, testConfig(t))
	signer, err := tok.GenerateSelfSignedCA("ec", CAOptions{Algorithm: ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	pub := signer.Public().(*ecdsa.PublicKey)
	const goroutines, rounds = 12, 20
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				digest := sha256.Sum256(fmt.Appendf(nil, "%d/%d", g, r))
				sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
				if err != nil {
					errs <- err
					return
				}
				if !ecdsa.VerifyASN1(pub, digest[:], sig) {
					errs <- fmt.Errorf("signature %d/%d does not verify", g, r)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSignerAfterClose(t *testing.T) {
	tok, err := Open(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tok.GenerateSelfSignedCA("ec", CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("x"))
	if _, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256); !errors.Is(err, ErrClosed) {
		t.Errorf("Sign after Close error = %v, want ErrClosed", err)
	}
}
