package demo

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/tcs-project/tcs/internal/pccs"
)

// softhsmModule is the path at which Debian's softhsm2 package installs
// SoftHSM2.
const softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"

func (d *demo) startServers(ctx context.Context) error {
	files, err := prepare(d.work, signerName)
	if err != nil {
		return fmt.Errorf("prepare the servers' files in %s: %w", d.work, err)
	}
	d.files = files
	d.printf("made a development SGX PKI, a SoftHSM2 token folder, the key server's CA for %s and its receipt key", signerName)

	pccsAddr, err := freeAddress()
	if err != nil {
		return err
	}
	p, err := d.startProcess("pccs", "tcsctl", nil,
		"collateral", "serve", "--listen", pccsAddr, "--dev-authority", files.authorityDir)
	if err != nil {
		return err
	}
	if err := p.waitReady(ctx, "http://"+pccsAddr+pccs.DefaultPathPrefix+"/qe/identity"); err != nil {
		return err
	}
	d.printf("development PCCS serves collateral at http://%s%s", pccsAddr, pccs.DefaultPathPrefix)

	probe, metrics, err := addresses()
	if err != nil {
		return err
	}
	p, err = d.startProcess("tcs-keyserver", "tcs-keyserver", nil,
		"--kubeconfig", d.kubecfg,
		"--health-probe-bind-address", probe, "--metrics-bind-address", metrics,
		"--leader-elect", "--leader-election-namespace", keyserverNamespace,
		"--namespaces", operatorNamespace, "--claims-namespace", keyserverNamespace,
		"--policy", files.policyFile,
		"--pccs-url", "http://"+pccsAddr+pccs.DefaultPathPrefix,
		"--key-store", "dir", "--key-dir", files.keyDir,
		"--receipt-key", files.receiptKey)
	if err != nil {
		return err
	}
	if err := p.waitReady(ctx, "http://"+probe+"/readyz"); err != nil {
		return err
	}
	d.printf("tcs-keyserver is ready: it trusts the development root (see %s) and answers requests in %s",
		files.policyFile, operatorNamespace)

	probe, metrics, err = addresses()
	if err != nil {
		return err
	}
	p, err = d.startProcess("tcs-issuer", "tcs-issuer", []string{"SOFTHSM2_CONF=" + files.softhsmConf},
		"--kubeconfig", d.kubecfg,
		"--health-probe-bind-address", probe, "--metrics-bind-address", metrics,
		"--leader-elect", "--leader-election-namespace", operatorNamespace,
		"--namespace", operatorNamespace, "--cluster-issuer-secret-namespace", clusterCANamespace,
		"--pkcs11-module", softhsmModule, "--token-label", "tcs-demo",
		"--user-pin-file", files.userPINFile, "--so-pin-file", files.soPINFile,
		"--quoting", "dev", "--dev-authority", files.authorityDir,
		"--keyserver-public-key", files.receiptPub)
	if err != nil {
		return err
	}
	if err := p.waitReady(ctx, "http://"+probe+"/readyz"); err != nil {
		return err
	}
	d.printf("tcs-issuer is ready: SoftHSM2 token, dev quoting backend, receipts checked against %s",
		filepath.Base(files.receiptPub))
	return nil
}

func (d *demo) startProcess(name, binary string, env []string, args ...string) (*process, error) {
	p, err := start(name, filepath.Join(d.opts.BinDir, binary), d.work, env, args...)
	if err != nil {
		return nil, err
	}
	d.procs = append(d.procs, p)
	return p, nil
}

// addresses returns a free probe address and a free metrics address.
func addresses() (string, string, error) {
	probe, err := freeAddress()
	if err != nil {
		return "", "", err
	}
	metrics, err := freeAddress()
	return probe, metrics, err
}
