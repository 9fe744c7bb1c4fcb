package main

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Configuration lives in one place: every flag has a matching FLINKPLANE_*
// environment variable (the flag name upper-cased, dashes as underscores),
// read as the flag's default. Flags given on the command line win.

// envName returns the environment variable for a flag name.
func envName(flagName string) string {
	return "FLINKPLANE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func stringFlag(fs *flag.FlagSet, name, def, usage string) *string {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	return fs.String(name, def, usage+" (env "+envName(name)+")")
}

func boolFlag(fs *flag.FlagSet, name string, def bool, usage string) *bool {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		}
	}
	return fs.Bool(name, def, usage+" (env "+envName(name)+")")
}

func intFlag(fs *flag.FlagSet, name string, def int, usage string) *int {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		}
	}
	return fs.Int(name, def, usage+" (env "+envName(name)+")")
}

// defaultDataDir is the per-user data directory: $XDG_DATA_HOME/flinkplane
// or ~/.local/share/flinkplane.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "flinkplane")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".flinkplane"
	}
	return filepath.Join(home, ".local", "share", "flinkplane")
}
