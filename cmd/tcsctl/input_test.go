package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadInputFileRejectsDevicesAndHugeFiles(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxQuoteFileBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()

	cases := map[string]string{
		"/dev/zero": "not a regular file",
		dir:         "not a regular file",
		big:         "larger than",
	}
	for path, want := range cases {
		done := make(chan error, 1)
		go func() {
			_, err := readQuoteFile(path)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("readQuoteFile(%s): err = %v, want one containing %q", path, err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("readQuoteFile(%s) did not return", path)
		}
	}
}

func TestWrapRejectsExtraPEMBlocks(t *testing.T) {
	dir := t.TempDir()
	pubDER, err := x509.MarshalPKIXPublicKey(&wrapEnclave(t).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	ca, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caDER, _ := x509.MarshalPKCS8PrivateKey(ca)
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: caDER})

	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	goodPub, goodKey := write("pub.pem", pub), write("key.pem", key)
	cases := map[string]wrapOptions{
		"two public keys":           {publicKey: write("two-pub.pem", append(append([]byte{}, pub...), pub...)), key: goodKey},
		"text after the public key": {publicKey: write("trail-pub.pem", append(append([]byte{}, pub...), "junk"...)), key: goodKey},
		"two CA keys":               {publicKey: goodPub, key: write("two-keys.pem", append(append([]byte{}, key...), key...))},
	}
	for name, opts := range cases {
		var out bytes.Buffer
		err := runWrap(&out, opts)
		if err == nil {
			t.Errorf("%s: wrap succeeded", name)
			continue
		}
		if out.Len() != 0 {
			t.Errorf("%s: wrap wrote %d bytes despite the error", name, out.Len())
		}
	}

	var out bytes.Buffer
	if err := runWrap(&out, wrapOptions{publicKey: goodPub, key: goodKey}); err != nil {
		t.Errorf("one public key and one CA key: %v", err)
	}
}

func TestMissingFlagIsUsageError(t *testing.T) {
	cmd := newWrapCmd()
	cmd.SetArgs([]string{})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	if err == nil {
		t.Fatal("wrap without flags succeeded")
	}
	if code := exitCode(err); code != exitUsage {
		t.Errorf("exit code = %d, want %d for %q", code, exitUsage, err)
	}
}
