package runtime

import (
	"os"
	"path/filepath"
)

// DefaultDir is where runtimes are installed unless configured otherwise,
// shared by any number of data directories: $XDG_CACHE_HOME/flinkplane/runtimes
// or ~/.cache/flinkplane/runtimes.
func DefaultDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "flinkplane", "runtimes")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".flinkplane", "runtimes")
	}
	return filepath.Join(home, ".cache", "flinkplane", "runtimes")
}

// DirFromEnv is $FLINKPLANE_RUNTIMES_DIR (the variable of the --runtimes-dir
// flag), else DefaultDir: the runtimes directory for tests and tools that
// take no flags.
func DirFromEnv() string {
	if d := os.Getenv("FLINKPLANE_RUNTIMES_DIR"); d != "" {
		return d
	}
	return DefaultDir()
}
