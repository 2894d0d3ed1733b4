package token

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// maxTokenLabel is the size of the PKCS#11 CK_TOKEN_INFO label field: 32
// bytes, padded with blanks.
const maxTokenLabel = 32

// Config selects a PKCS#11 module and one token in it.
//
// PINs come from a file or the environment (PINFromFile, PINFromEnv). No
// PIN belongs on a command line, because other users of the machine can
// read command lines from the process list.
type Config struct {
	// ModulePath is the file of the PKCS#11 module, for example
	// /usr/lib/softhsm/libsofthsm2.so or the crypto-api-toolkit library.
	ModulePath string
	// TokenLabel selects the token, at most 32 bytes.
	TokenLabel string
	// UserPIN logs in as the normal user.
	UserPIN string
	// SOPIN is the security officer PIN. It is needed only to initialise
	// the token when no token with TokenLabel exists yet.
	SOPIN string
}

func (c *Config) check() error {
	if c.ModulePath == "" {
		return fmt.Errorf("%w: the pkcs#11 module path is empty; set it to the module file, "+
			"for example /usr/lib/softhsm/libsofthsm2.so", ErrModuleNotFound)
	}
	if c.TokenLabel == "" {
		return errors.New("the token label is empty; set the label of the pkcs#11 token to use")
	}
	if len(c.TokenLabel) > maxTokenLabel {
		return fmt.Errorf("token label %q is %d bytes long, more than the pkcs#11 maximum of %d",
			c.TokenLabel, len(c.TokenLabel), maxTokenLabel)
	}
	if c.UserPIN == "" {
		return fmt.Errorf("the user pin for token %q is empty; provide it in a file or "+
			"an environment variable", c.TokenLabel)
	}
	return nil
}

// PINFromFile reads a PIN from the file at path. A trailing line break is
// removed; an empty PIN is an error. The error names the file, never the
// content.
func PINFromFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the pin file: %w", err)
	}
	pin := strings.TrimRight(string(b), "\r\n")
	if pin == "" {
		return "", fmt.Errorf("pin file %s is empty; write the pin into it", path)
	}
	return pin, nil
}

// PINFromEnv reads a PIN from the environment variable name. A missing or
// empty variable is an error.
func PINFromEnv(name string) (string, error) {
	pin, ok := os.LookupEnv(name)
	if !ok {
		return "", fmt.Errorf("environment variable %s is not set; set it to the pin", name)
	}
	if pin == "" {
		return "", fmt.Errorf("environment variable %s is empty; set it to the pin", name)
	}
	return pin, nil
}
