package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

func parseFlags(t *testing.T, args ...string) *issuerFlags {
	t.Helper()
	var f issuerFlags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f.bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &f
}

func TestFlagsConfig(t *testing.T) {
	tests := map[string]struct {
		args    []string
		errText string
	}{
		"self-signed only":    {args: []string{"--quoting=none", "--namespace=ops"}},
		"ctk":                 {args: []string{"--namespace=ops"}},
		"unknown quoting":     {args: []string{"--quoting=sgx", "--namespace=ops"}, errText: `--quoting="sgx"`},
		"dev without folder":  {args: []string{"--quoting=dev", "--namespace=ops"}, errText: "--dev-authority"},
		"dev folder missing":  {args: []string{"--quoting=dev", "--dev-authority=/nonexistent", "--namespace=ops"}, errText: "development authority"},
		"bad CA algorithm":    {args: []string{"--quoting=none", "--namespace=ops", "--ca-key-algorithm=DSA"}, errText: `--ca-key-algorithm="DSA"`},
		"no namespace":        {args: []string{"--quoting=none", "--namespace="}, errText: "--namespace"},
		"missing receipt key": {args: []string{"--quoting=none", "--namespace=ops", "--keyserver-public-key=/nonexistent"}, errText: "key-server public key"},
		"retry maximum below": {args: []string{"--quoting=none", "--namespace=ops", "--provisioning-retry=1m", "--provisioning-retry-max=1s"}, errText: "--provisioning-retry-max=1s"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := parseFlags(t, tc.args...).config(nil)
			if tc.errText == "" {
				if err != nil {
					t.Fatalf("config: %v", err)
				}
				if cfg.Controller.Namespace != "ops" {
					t.Errorf("namespace = %q, want ops", cfg.Controller.Namespace)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("err = %v, want one containing %q", err, tc.errText)
			}
		})
	}
}

func TestOpenTokenNeedsModule(t *testing.T) {
	_, err := parseFlags(t).openToken()
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--pkcs11-module") {
		t.Fatalf("err = %v, want a usage error naming --pkcs11-module", err)
	}
}

func TestOpenTokenNeedsPIN(t *testing.T) {
	t.Setenv(envUserPIN, "")
	_, err := parseFlags(t, "--pkcs11-module=/usr/lib/softhsm/libsofthsm2.so").openToken()
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--user-pin-file") {
		t.Fatalf("err = %v, want a usage error naming --user-pin-file", err)
	}
}
