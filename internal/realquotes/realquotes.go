// Package realquotes reads, for tests, the real SGX quotes in the folder
// named by the environment variable TCS_REAL_QUOTES: one subfolder per
// quote with quote.bin, collateral.json and expect ("UNIX_TIME STATUS").
// The data belongs to other projects and is read in place, never copied.
package realquotes

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvVar names the folder of real quotes.
const EnvVar = "TCS_REAL_QUOTES"

// SkipReason is the message of a test skipped for lack of real quotes.
const SkipReason = EnvVar + " is unset: it names the folder of real SGX quotes with their collateral"

// Files returns the file called name of every sample folder, keyed by the
// folder's name, or nil when TCS_REAL_QUOTES is unset.
func Files(tb testing.TB, name string) map[string][]byte {
	tb.Helper()
	dir := os.Getenv(EnvVar)
	if dir == "" {
		return nil
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*", name))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(filepath.Dir(p))] = data
	}
	return out
}
