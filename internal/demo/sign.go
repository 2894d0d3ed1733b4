package demo

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"

	tcsv1alpha1 "github.com/tcs-project/tcs/api/tcs/v1alpha1"
)

func (d *demo) signRequests(ctx context.Context) error {
	if err := d.saveCA(ctx); err != nil {
		return err
	}
	if err := d.signCSR(ctx); err != nil {
		return err
	}
	return d.signCertificateRequest(ctx)
}

// saveCA writes the CA certificate that the issuer published to ca.pem.
func (d *demo) saveCA(ctx context.Context) error {
	var secret corev1.Secret
	key := client.ObjectKey{Namespace: demoNamespace, Name: issuerName}
	if err := d.client.Get(ctx, key, &secret); err != nil {
		return fmt.Errorf("read the CA certificate Secret %s: %w", key, err)
	}
	if secret.Type != corev1.SecretTypeTLS || len(secret.Data[corev1.TLSPrivateKeyKey]) != 0 {
		return fmt.Errorf("%w: Secret %s has type %s and a %d-byte tls.key, want kubernetes.io/tls with an empty tls.key",
			errStep, key, secret.Type, len(secret.Data[corev1.TLSPrivateKeyKey]))
	}
	path := filepath.Join(d.opts.OutDir, "ca.pem")
	if err := os.WriteFile(path, secret.Data[corev1.TLSCertKey], 0o644); err != nil {
		return err
	}
	d.printf("the issuer published its CA certificate in Secret %s: saved to %s", key, path)
	return nil
}

// newCSR returns a PKCS#10 request for commonName made the way an
// administrator would, with `openssl req`, or with Go when OpenSSL is
// missing.
func (d *demo) newCSR(commonName string) ([]byte, string, error) {
	if openssl, err := exec.LookPath("openssl"); err == nil {
		keyPath := filepath.Join(d.work, commonName+".key")
		csrPath := filepath.Join(d.work, commonName+".csr")
		cmd := exec.Command(openssl, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
			"-nodes", "-keyout", keyPath, "-out", csrPath,
			"-subj", "/O=TCS demo/CN="+commonName, "-addext", "subjectAltName=DNS:"+commonName)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, "", fmt.Errorf("openssl req: %v: %s", err, out)
		}
		csr, err := os.ReadFile(csrPath)
		return csr, "openssl req", err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{Organization: []string{"TCS demo"}, CommonName: commonName},
		DNSNames: []string{commonName},
	}, key)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), "crypto/x509", nil
}

// signCSR creates, approves and waits for a Kubernetes
// CertificateSigningRequest for the demo signer.
func (d *demo) signCSR(ctx context.Context) error {
	request, tool, err := d.newCSR("csr.demo.example.com")
	if err != nil {
		return err
	}
	expiration := int32(3600)
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-leaf"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           request,
			SignerName:        signerName,
			ExpirationSeconds: &expiration,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		},
	}
	if err := d.client.Create(ctx, csr); err != nil {
		return fmt.Errorf("create CertificateSigningRequest: %w", err)
	}
	d.printf("created CertificateSigningRequest %s from a PKCS#10 request made with %s", csr.Name, tool)

	clientset, err := kubernetes.NewForConfig(d.cfg)
	if err != nil {
		return err
	}
	csrs := clientset.CertificatesV1().CertificateSigningRequests()
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := csrs.Get(ctx, csr.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		current.Status.Conditions = append(current.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue,
			Reason: "DemoApproved", Message: "Approved by the demo.", LastUpdateTime: metav1.Now(),
		})
		_, err = csrs.UpdateApproval(ctx, csr.Name, current, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("approve CertificateSigningRequest %s: %w", csr.Name, err)
	}
	d.printf("approved it")

	var signed certificatesv1.CertificateSigningRequest
	if err := poll(ctx, func() (bool, error) {
		err := d.client.Get(ctx, client.ObjectKey{Name: csr.Name}, &signed)
		return err == nil && len(signed.Status.Certificate) > 0, err
	}); err != nil {
		return fmt.Errorf("CertificateSigningRequest %s was not signed (conditions %+v): %w", csr.Name, signed.Status.Conditions, err)
	}
	return d.saveLeaf("leaf-csr.pem", signed.Status.Certificate, "the CSR")
}

// signCertificateRequest creates, approves and waits for a cert-manager
// CertificateRequest that names the demo TCSIssuer.
func (d *demo) signCertificateRequest(ctx context.Context) error {
	request, tool, err := d.newCSR("cr.demo.example.com")
	if err != nil {
		return err
	}
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: demoNamespace, Name: "demo-leaf"},
		Spec: cmapi.CertificateRequestSpec{
			Request:  request,
			Duration: &metav1.Duration{Duration: time.Hour},
			Usages:   []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageServerAuth},
			IssuerRef: cmmeta.IssuerReference{
				Group: tcsv1alpha1.GroupVersion.Group, Kind: "TCSIssuer", Name: issuerName,
			},
		},
	}
	if err := d.client.Create(ctx, cr); err != nil {
		return fmt.Errorf("create CertificateRequest: %w", err)
	}
	d.printf("created cert-manager CertificateRequest %s/%s from a PKCS#10 request made with %s", cr.Namespace, cr.Name, tool)

	// Without cert-manager's approver running, the demo approves the
	// request itself, as `cmctl approve` would. The issuer writes the
	// request's status too (Pending), so the approval rereads the object
	// and tries again on a conflict.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var current cmapi.CertificateRequest
		if err := d.client.Get(ctx, client.ObjectKeyFromObject(cr), &current); err != nil {
			return err
		}
		now := metav1.Now()
		current.Status.Conditions = append(current.Status.Conditions, cmapi.CertificateRequestCondition{
			Type: cmapi.CertificateRequestConditionApproved, Status: cmmeta.ConditionTrue,
			Reason: "DemoApproved", Message: "Approved by the demo.", LastTransitionTime: &now,
		})
		return d.client.Status().Update(ctx, &current)
	})
	if err != nil {
		return fmt.Errorf("approve CertificateRequest %s: %w", cr.Name, err)
	}
	d.printf("approved it")

	var signed cmapi.CertificateRequest
	if err := poll(ctx, func() (bool, error) {
		err := d.client.Get(ctx, client.ObjectKeyFromObject(cr), &signed)
		return err == nil && len(signed.Status.Certificate) > 0, err
	}); err != nil {
		return fmt.Errorf("CertificateRequest %s was not signed (conditions %+v): %w", cr.Name, signed.Status.Conditions, err)
	}
	if len(signed.Status.CA) > 0 {
		ca, _ := os.ReadFile(filepath.Join(d.opts.OutDir, "ca.pem"))
		if !bytes.Equal(bytes.TrimSpace(signed.Status.CA), bytes.TrimSpace(ca)) {
			return fmt.Errorf("%w: status.ca of CertificateRequest %s is not the published CA certificate", errStep, cr.Name)
		}
	}
	return d.saveLeaf("leaf-cr.pem", signed.Status.Certificate, "the CertificateRequest")
}

func (d *demo) saveLeaf(name string, certPEM []byte, what string) error {
	path := filepath.Join(d.opts.OutDir, name)
	if err := os.WriteFile(path, certPEM, 0o644); err != nil {
		return err
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return fmt.Errorf("%w: the certificate of %s is not PEM", errStep, what)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("%w: the certificate of %s: %v", errStep, what, err)
	}
	d.printf("signed %s: %q, valid until %s; saved to %s", what, cert.Subject.String(),
		cert.NotAfter.UTC().Format(time.RFC3339), path)
	return nil
}
