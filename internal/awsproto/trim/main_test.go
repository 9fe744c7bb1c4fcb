package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/flinkplane/flinkplane/internal/fixtures"
)

// botocoreData returns the data directory of the botocore the aws CLI of
// the tests vendors (scripts/install-awscli.sh).
func botocoreData(t *testing.T) string {
	t.Helper()
	venv := os.Getenv("FLINKPLANE_AWSCLI_VENV")
	if venv == "" {
		cache, _ := os.UserCacheDir()
		venv = filepath.Join(cache, "flinkplane", "awscli")
	}
	matches, _ := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages", "awscli", "botocore", "data"))
	if len(matches) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no botocore models under %s: run scripts/install-awscli.sh", venv)
		}
		t.Skip("no aws CLI installed (scripts/install-awscli.sh)")
	}
	return matches[0]
}

// The embedded models are what trim makes of the installed botocore's.
func TestEmbeddedModels_UpToDate(t *testing.T) {
	data := botocoreData(t)
	root, err := fixtures.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ model, ops, out string }{
		{"cloudwatch/2010-08-01/service-2.json", "GetMetricStatistics,GetMetricData,ListMetrics", "cloudwatch/model.json"},
		{"logs/2014-03-28/service-2.json", "CreateLogGroup,CreateLogStream,DescribeLogGroups,DescribeLogStreams,GetLogEvents,FilterLogEvents", "cwlogs/model.json"},
	} {
		src, err := os.ReadFile(filepath.Join(data, c.model))
		if err != nil {
			t.Fatal(err)
		}
		want, err := Trim(src, splitComma(c.ops))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(root, c.out))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what trim makes of %s: run go generate ./%s", c.out, c.model, filepath.Dir(c.out))
		}
	}
}

func splitComma(s string) []string {
	var out []string
	for _, p := range bytes.Split([]byte(s), []byte(",")) {
		out = append(out, string(p))
	}
	return out
}
