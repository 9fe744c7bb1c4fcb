package main

import (
	"bytes"
	"encoding/json"
	"io"
	"runtime"
	"sync"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
)

// writeReportJSON writes a report as json.Encoder with two-space indent
// does, byte for byte. A report with many findings (a large jar has
// thousands) has them encoded in parallel and spliced in.
func writeReportJSON(out io.Writer, report any) error {
	var findings []flinkplane.Finding
	var shell any
	switch r := report.(type) {
	case *compat.JarReport:
		c := *r
		findings, c.Findings, shell = r.Findings, []flinkplane.Finding{}, &c
	case *compat.JobReport:
		c := *r
		findings, c.Findings, shell = r.Findings, []flinkplane.Finding{}, &c
	}
	const parallelFrom = 1000
	if shell == nil || len(findings) < parallelFrom {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	b, err := json.MarshalIndent(shell, "", "  ")
	if err != nil {
		return err
	}
	const empty = `"findings": []`
	at := bytes.Index(b, []byte(empty))
	if at < 0 {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	// The elements as they appear nested one level deep: each chunk
	// marshalled with the outer indent as prefix, its brackets removed.
	n := runtime.GOMAXPROCS(0)
	parts := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		lo, hi := len(findings)*i/n, len(findings)*(i+1)/n
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := json.MarshalIndent(findings[lo:hi], "  ", "  ")
			if err == nil && len(p) >= 6 {
				p = p[2 : len(p)-4] // "[\n" ... "\n  ]"
			}
			parts[i], errs[i] = p, err
		}()
	}
	wg.Wait()
	var buf bytes.Buffer
	buf.Grow(len(b) + len(findings)*400)
	buf.Write(b[:at])
	buf.WriteString(`"findings": [` + "\n")
	first := true
	for i, p := range parts {
		if errs[i] != nil {
			return errs[i]
		}
		if len(p) == 0 {
			continue
		}
		if !first {
			buf.WriteString(",\n")
		}
		first = false
		buf.Write(p)
	}
	buf.WriteString("\n  ]")
	buf.Write(b[at+len(empty):])
	buf.WriteByte('\n')
	_, err = out.Write(buf.Bytes())
	return err
}
