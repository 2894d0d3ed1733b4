package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tcs-project/tcs/internal/keywrap"
)

// minWrapRSABits is the smallest RSA key, enclave or CA, that wrap accepts.
const minWrapRSABits = 2048

func init() {
	rootCmd.AddCommand(newWrapCmd())
}

type wrapOptions struct {
	publicKey string
	key       string
}

func newWrapCmd() *cobra.Command {
	var opts wrapOptions
	cmd := &cobra.Command{
		Use:   "wrap --public-key FILE --key FILE",
		Short: "Wrap a CA private key for an enclave public key in the KMRA format",
		Long: `Wrap a CA private key for an enclave's RSA public key and write the
KMRA blob, base64-encoded, to standard output: the value of tls.key in a
key server Secret. This is the counterpart of Intel's km-wrap.

The blob is RSA-OAEP (SHA-1, MGF1-SHA-1, empty label) of a fresh AES-256
key, followed by AES key wrap with padding (RFC 5649) of the CA key as
PKCS#8. The CA key may be PKCS#1, SEC 1 or PKCS#8 PEM; it is always
wrapped as PKCS#8. The enclave imports RSA keys of 2048 bits or more and
ECDSA keys on P-256 or P-384, so wrap accepts only those.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWrap(cmd.OutOrStdout(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.publicKey, "public-key", "",
		`enclave RSA public key, PEM "PUBLIC KEY" or "RSA PUBLIC KEY"`)
	cmd.Flags().StringVar(&opts.key, "key", "", "CA private key to wrap, PEM (PKCS#1, SEC 1 or PKCS#8)")
	_ = cmd.MarkFlagRequired("public-key")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

func runWrap(stdout io.Writer, opts wrapOptions) error {
	pub, err := readWrapPublicKey(opts.publicKey)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	key, err := readWrapPrivateKey(opts.key)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	blob, err := keywrap.Wrap(pub, key)
	if err != nil {
		return fmt.Errorf("wrap %s for %s: %w", opts.key, opts.publicKey, err)
	}
	_, err = fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(blob))
	return err
}

func readWrapPublicKey(path string) (*rsa.PublicKey, error) {
	data, err := readInputFile(path, maxPEMFileBytes)
	if err != nil {
		return nil, fmt.Errorf("read the enclave public key: %w", err)
	}
	if err := checkSinglePEM(data); err != nil {
		return nil, fmt.Errorf("enclave public key %s: %w", path, err)
	}
	pub, err := keywrap.ParseRSAPublicKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("enclave public key %s: %w", path, err)
	}
	if bits := pub.N.BitLen(); bits < minWrapRSABits {
		return nil, fmt.Errorf("enclave public key %s: %d-bit rsa key, expected %d bits or more",
			path, bits, minWrapRSABits)
	}
	return pub, nil
}

func readWrapPrivateKey(path string) (crypto.PrivateKey, error) {
	data, err := readInputFile(path, maxPEMFileBytes)
	if err != nil {
		return nil, fmt.Errorf("read the ca private key: %w", err)
	}
	if err := checkSinglePEM(data); err != nil {
		return nil, fmt.Errorf("ca private key %s: %w", path, err)
	}
	key, err := keywrap.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("ca private key %s: %w", path, err)
	}
	if err := checkWrapKeyType(key); err != nil {
		return nil, fmt.Errorf("ca private key %s: %w", path, err)
	}
	return key, nil
}

// checkWrapKeyType rejects keys that the enclave's token cannot import.
func checkWrapKeyType(key crypto.PrivateKey) error {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < minWrapRSABits {
			return fmt.Errorf("%d-bit rsa key, expected %d bits or more", bits, minWrapRSABits)
		}
		return nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("ecdsa key on %s, expected P-256 or P-384", k.Curve.Params().Name)
		}
		return nil
	}
	return fmt.Errorf("%T key; the enclave imports only rsa and ecdsa keys", key)
}
