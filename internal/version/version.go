// Package version reports the build's version, set at link time with
// -ldflags "-X github.com/tcs-project/tcs/internal/version.Version=v1.2.3".
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version; "devel" in builds that do not set it.
var Version = "devel"

// String returns the version line that every binary prints for --version.
func String(binary string) string {
	revision := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	return fmt.Sprintf("%s %s (revision %s, %s, %s/%s)",
		binary, Version, revision, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
