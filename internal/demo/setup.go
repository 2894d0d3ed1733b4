package demo

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/tcs-project/tcs/internal/devpki"
	"github.com/tcs-project/tcs/internal/keyserver"
)

// Demo PINs of the throw-away SoftHSM2 token. They protect nothing: the
// token lives in the demo's work folder and is deleted with it.
const (
	demoUserPIN = "demo-user-pin"
	demoSOPIN   = "demo-so-pin"
)

// materials are the files that the demo's servers read.
type materials struct {
	authorityDir string
	softhsmConf  string
	userPINFile  string
	soPINFile    string
	keyDir       string
	policyFile   string
	receiptKey   string
	receiptPub   string
	caCert       *x509.Certificate
}

// prepare writes the development SGX PKI, a SoftHSM2 configuration, the
// key server's CA key for signer, its receipt key and a policy that
// allows the development enclave.
func prepare(work, signer string) (*materials, error) {
	m := &materials{
		authorityDir: filepath.Join(work, "dev-authority"),
		softhsmConf:  filepath.Join(work, "softhsm2.conf"),
		userPINFile:  filepath.Join(work, "user.pin"),
		soPINFile:    filepath.Join(work, "so.pin"),
		keyDir:       filepath.Join(work, "keyserver-keys"),
		policyFile:   filepath.Join(work, "policy.yaml"),
		receiptKey:   filepath.Join(work, "receipt-key.pem"),
		receiptPub:   filepath.Join(work, "receipt-key.pub.pem"),
	}

	authority, err := devpki.New(devpki.Options{})
	if err != nil {
		return nil, fmt.Errorf("make the development SGX PKI: %w", err)
	}
	if err := authority.Save(m.authorityDir); err != nil {
		return nil, err
	}

	tokens := filepath.Join(work, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens)
	for path, content := range map[string]string{
		m.softhsmConf: conf, m.userPINFile: demoUserPIN, m.soPINFile: demoSOPIN,
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return nil, err
		}
	}

	if err := m.writeCAKey(signer); err != nil {
		return nil, err
	}
	if err := m.writeReceiptKey(); err != nil {
		return nil, err
	}
	return m, m.writePolicy(signer, filepath.Join(m.authorityDir, devpki.RootCertFile))
}

// writeCAKey makes the CA that the key server provisions for signer: a
// P-256 key and a self-signed certificate.
func (m *materials) writeCAKey(signer string) error {
	if err := os.MkdirAll(m.keyDir, 0o700); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "TCS demo CA", Organization: []string{"TCS demo"}},
		NotBefore:             time.Now().Add(-5 * time.Minute),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	if m.caCert, err = x509.ParseCertificate(der); err != nil {
		return err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	base := filepath.Join(m.keyDir, keyserver.FileBase(signer))
	if err := writePEM(base+".key", "PRIVATE KEY", pkcs8); err != nil {
		return err
	}
	return writePEM(base+".crt", "CERTIFICATE", der)
}

// writeReceiptKey makes the Ed25519 key with which the key server signs
// release receipts, and the public half that the issuer pins.
func (m *materials) writeReceiptKey() error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	if err := writePEM(m.receiptKey, "PRIVATE KEY", privDER); err != nil {
		return err
	}
	return writePEM(m.receiptPub, "PUBLIC KEY", pubDER)
}

// writePolicy allows the development enclave identity for signer, under
// the development root.
func (m *materials) writePolicy(signer, rootPath string) error {
	policy := fmt.Sprintf(`# Release policy of the demo. The development root makes quotes of the
# dev quoting backend verify; never list it in production.
developmentRoots:
  - %s
rules:
  - name: demo issuer
    signers: [%q]
    mrenclave: [%s]
    mrsigner: [%s]
    isvProdId: %d
    tcbStatuses: [UpToDate, SWHardeningNeeded]
`, rootPath, signer, hex.EncodeToString(devpki.DevMREnclave[:]),
		hex.EncodeToString(devpki.DevMRSigner[:]), devpki.DevISVProdID)
	return os.WriteFile(m.policyFile, []byte(policy), 0o600)
}

func writePEM(path, blockType string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600)
}
