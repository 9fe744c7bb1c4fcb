package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
)

// TestWriteReportJSON: the parallel encoding is byte for byte what
// json.Encoder writes.
func TestWriteReportJSON(t *testing.T) {
	for _, n := range []int{0, 1, 999, 1000, 3001} {
		rep := &compat.JarReport{Jar: "a<b>.jar", Target: flinkplane.RuntimeFlink22, Findings: []flinkplane.Finding{}}
		for i := range n {
			rep.Findings = append(rep.Findings, flinkplane.Finding{Severity: "WARNING", Code: "X", Class: fmt.Sprintf("c%d", i),
				Message: "m \"q\" & <t>\n", Hint: map[bool]string{true: "h"}[i%2 == 0]})
		}
		job := &compat.JobReport{Jar: "j", Findings: rep.Findings, JobGraph: &flinkplane.JobGraphInfo{JobName: "g"}}
		for _, report := range []any{rep, job} {
			var want, got bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(report); err != nil {
				t.Fatal(err)
			}
			if err := writeReportJSON(&got, report); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("%d findings, %T: output differs:\n%s\nwant:\n%s", n, report, got.String(), want.String())
			}
		}
	}
}
