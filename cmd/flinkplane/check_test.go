package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var e interface{ ExitCode() int }
	if errors.As(err, &e) {
		return e.ExitCode()
	}
	return -1
}

// The savepoint vectors are real savepoints (see compat/testdata); no JVM or
// runtime is needed.
func TestCheckSavepoint_ExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"savepoint", "../../compat/testdata/savepoints/pojo-list-1.20", "--target", "FLINK-2_2"}, 1, "POJO_COLLECTION_KRYO"},
		{[]string{"savepoint", "--target", "FLINK-2_2", "../../compat/testdata/savepoints/counter-1.20"}, 0, "keyed VALUE"},
		{[]string{"savepoint", "../../compat/testdata/savepoints/counter-2.2/_metadata", "--target=FLINK-1_20"}, 1, "METADATA_VERSION"},
		{[]string{"savepoint", "../../compat/testdata/savepoints/counter-1.20"}, 2, ""},
		{[]string{"savepoint", "/does/not/exist", "--target", "FLINK-2_2"}, 2, ""},
		{[]string{"savepoint", "check_test.go", "--target", "FLINK-2_2"}, 2, ""},
		{[]string{"jar", "a.jar", "b.jar", "--target", "FLINK-2_2"}, 2, ""},
		{[]string{"bogus"}, 2, ""},
		{nil, 2, ""},
	} {
		var out bytes.Buffer
		err := runCheckTo(context.Background(), tc.args, &out)
		if got := exitCode(err); got != tc.code {
			t.Errorf("check %q: exit %d (%v), want %d", tc.args, got, err, tc.code)
		}
		if !strings.Contains(out.String(), tc.out) {
			t.Errorf("check %q: output lacks %q:\n%s", tc.args, tc.out, out.String())
		}
	}
}

func TestCheckSavepoint_JSON(t *testing.T) {
	var out bytes.Buffer
	err := runCheckTo(context.Background(), []string{"savepoint", "../../compat/testdata/savepoints/pojo-list-1.20", "--target", "FLINK-2_2", "--format", "json"}, &out)
	if exitCode(err) != 1 {
		t.Fatalf("exit %d, want 1", exitCode(err))
	}
	var rep struct {
		MetadataVersion int
		Findings        []struct{ Severity, Code, Symbol string }
		Summary         struct{ Errors int }
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.MetadataVersion != 4 || rep.Summary.Errors != 1 || len(rep.Findings) != 1 || rep.Findings[0].Code != "POJO_COLLECTION_KRYO" {
		t.Errorf("report = %+v", rep)
	}
}

// TestCheckSavepoint_JSONNoFindings: no finding is an empty list, not null.
func TestCheckSavepoint_JSONNoFindings(t *testing.T) {
	var out bytes.Buffer
	if err := runCheckTo(context.Background(), []string{"savepoint", "../../compat/testdata/savepoints/counter-1.20", "--target", "FLINK-2_2", "--format", "json"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"findings": [],`) {
		t.Errorf("output:\n%s\nwant \"findings\": []", out.String())
	}
}
