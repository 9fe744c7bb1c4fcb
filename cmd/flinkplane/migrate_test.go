package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrateState_Usage: migrate-state's usage and input errors exit 2
// before any JVM runs; a savepoint without state to migrate says so.
func TestMigrateState_Usage(t *testing.T) {
	jar := filepath.Join(t.TempDir(), "app.jar")
	os.WriteFile(jar, []byte("PK"), 0o644)
	sp := "../../compat/testdata/savepoints/pojo-list-1.20"
	rd := "--runtimes-dir=" + t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "required"},
		{[]string{"--savepoint", sp, "--jar", jar, "--from", "FLINK-1_20", "--to", "FLINK-2_2"}, 2, "required"},
		{[]string{"--savepoint", sp, "--jar", jar, "--from", "FLINK-1_20", "--to", "FLINK-9_9", "--out", t.TempDir() + "/o"}, 2, "Unknown runtime"},
		{[]string{"--savepoint", sp, "--jar", jar, "--from", "FLINK-1_20", "--to", "FLINK-2_2", "--out", t.TempDir()}, 2, "exists"},
		{[]string{"--savepoint", "/does/not/exist", "--jar", jar, "--from", "FLINK-1_20", "--to", "FLINK-2_2", "--out", t.TempDir() + "/o"}, 2, "No savepoint"},
		{[]string{rd, "--savepoint", sp, "--jar", jar, "--from", "FLINK-1_20", "--to", "FLINK-2_2", "--out", t.TempDir() + "/o"}, 2, "not installed"},
		{[]string{rd, "--savepoint", "../../compat/testdata/savepoints/counter-1.20", "--jar", jar, "--from", "FLINK-1_20", "--to", "FLINK-2_2", "--check"}, 0, "no state needs migrating"},
	} {
		var out bytes.Buffer
		err := runMigrateStateTo(context.Background(), tc.args, &out)
		if got := exitCode(err); got != tc.code {
			t.Errorf("%v: exit %d (%v), want %d", tc.args, got, err, tc.code)
			continue
		}
		text := out.String()
		if err != nil {
			text += err.Error()
		}
		if !strings.Contains(text, tc.msg) {
			t.Errorf("%v: %q lacks %q", tc.args, text, tc.msg)
		}
	}
}
