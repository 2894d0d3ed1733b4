// Command tcsctl is the operator's tool for the Trusted Certificate Service:
// it inspects and verifies SGX quotes, fetches and serves DCAP collateral,
// wraps CA keys for an enclave, and runs the local demo.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tcs-project/tcs/internal/version"
)

// rootCmd is the top of the command tree. Each subcommand lives in its own
// file and adds itself in an init function.
var rootCmd = &cobra.Command{
	Use:   "tcsctl",
	Short: "Operate the Trusted Certificate Service: quotes, collateral, key wrapping",
	Long: `tcsctl is the operator's tool for the Trusted Certificate Service.

It inspects and verifies Intel SGX ECDSA quotes (version 3) against DCAP
collateral, fetches and serves that collateral, and wraps CA private keys
for an enclave's public key in the KMRA format that the key server uses.

Exit status: 0 on success, 2 for a wrong command line or unusable input
files, 1 for other failures; "tcsctl quote verify --help" says what 1
means there.`,
	Version:       version.String("tcsctl"),
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	rootCmd.SetVersionTemplate("{{.Version}}\n")
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "tcsctl: %v\n", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit status out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode returns the status for err: the one an exitError carries, 2
// (exitUsage) for the command-line errors that cobra reports itself, or 1.
func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	for _, prefix := range cobraUsageErrors {
		if strings.HasPrefix(err.Error(), prefix) {
			return exitUsage
		}
	}
	return 1
}

// cobraUsageErrors are the starts of cobra's messages about a wrong
// command line, which carry no type of their own (cobra v1.10).
var cobraUsageErrors = []string{
	"required flag(s)", "unknown flag", "unknown shorthand flag", "unknown command",
	"invalid argument", "flag needs an argument", "accepts ", "requires at least",
	"if any flags in the group",
}
