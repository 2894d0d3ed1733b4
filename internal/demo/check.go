package demo

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	sgxv1alpha1 "github.com/tcs-project/tcs/api/sgx/v1alpha1"
)

// verifyRealQuotes runs `tcsctl quote verify` on each real quote folder,
// at the time its expect file names.
func (d *demo) verifyRealQuotes(ctx context.Context) error {
	if d.opts.RealQuotes == "" {
		d.printf("skipped: set TCS_REAL_QUOTES to a folder of real SGX quotes to verify them here")
		return nil
	}
	entries, err := os.ReadDir(d.opts.RealQuotes)
	if err != nil {
		return fmt.Errorf("read TCS_REAL_QUOTES=%s: %w", d.opts.RealQuotes, err)
	}
	verified := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(d.opts.RealQuotes, e.Name())
		expect, err := os.ReadFile(filepath.Join(dir, "expect"))
		if err != nil {
			return fmt.Errorf("real quote %s: %w", dir, err)
		}
		fields := strings.Fields(string(expect))
		if len(fields) != 2 {
			return fmt.Errorf("real quote %s: expect file %q is not \"UNIX_TIME STATUS\"", dir, expect)
		}
		cmd := exec.CommandContext(ctx, filepath.Join(d.opts.BinDir, "tcsctl"), "quote", "verify",
			"--collateral", filepath.Join(dir, "collateral.json"), "--at", fields[0],
			filepath.Join(dir, "quote.bin"))
		out, err := cmd.CombinedOutput()
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			d.printf("%s: %s", e.Name(), line)
		}
		if err != nil {
			return fmt.Errorf("%w: tcsctl quote verify of %s: %v", errStep, e.Name(), err)
		}
		if !strings.Contains(string(out), fields[1]) {
			return fmt.Errorf("%w: %s verified, but not with the expected status %s", errStep, e.Name(), fields[1])
		}
		verified++
	}
	d.printf("%d real quotes verified with the expected TCB status", verified)
	return nil
}

// checkOutput checks that both leaves chain to ca.pem, with OpenSSL when it
// is installed, and that quoteattestation.yaml records a Success with a
// Secret for every signer.
func (d *demo) checkOutput(context.Context) error {
	caPEM, err := os.ReadFile(filepath.Join(d.opts.OutDir, "ca.pem"))
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%w: ca.pem contains no certificate", errStep)
	}
	openssl, _ := exec.LookPath("openssl")
	for _, leaf := range []string{"leaf-csr.pem", "leaf-cr.pem"} {
		path := filepath.Join(d.opts.OutDir, leaf)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		block, _ := pem.Decode(data)
		if block == nil {
			return fmt.Errorf("%w: %s is not PEM", errStep, leaf)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return err
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return fmt.Errorf("%w: %s does not verify against ca.pem: %v", errStep, leaf, err)
		}
		if openssl != "" {
			out, err := exec.Command(openssl, "verify", "-CAfile", filepath.Join(d.opts.OutDir, "ca.pem"), path).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%w: openssl verify %s: %s", errStep, leaf, out)
			}
			d.printf("openssl verify: %s", strings.TrimSpace(string(out)))
		} else {
			d.printf("%s verifies against ca.pem (OpenSSL is not installed, so only Go checked it)", leaf)
		}
	}

	data, err := os.ReadFile(filepath.Join(d.opts.OutDir, "quoteattestation.yaml"))
	if err != nil {
		return err
	}
	var qa sgxv1alpha1.QuoteAttestation
	if err := yaml.Unmarshal(data, &qa); err != nil {
		return fmt.Errorf("parse quoteattestation.yaml: %w", err)
	}
	if qa.Status.Condition == nil || qa.Status.Condition.Type != sgxv1alpha1.ConditionSuccess {
		return fmt.Errorf("%w: quoteattestation.yaml has no Success condition", errStep)
	}
	for _, signer := range qa.Spec.SignerNames {
		if _, ok := qa.Status.Secrets[signer]; !ok {
			return fmt.Errorf("%w: quoteattestation.yaml has no status.secrets entry for %s", errStep, signer)
		}
	}
	d.printf("quoteattestation.yaml: condition Success, a Secret for each of %d signers", len(qa.Spec.SignerNames))
	return nil
}
