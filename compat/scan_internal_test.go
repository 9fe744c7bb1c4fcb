package compat

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/flinkplane/flinkplane"
)

func writeJar(tb testing.TB, entries map[string][]byte) string {
	tb.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, data := range entries {
		f, err := w.Create(name)
		if err != nil {
			tb.Fatal(err)
		}
		f.Write(data)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(tb.TempDir(), "app.jar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestScanJar_ClassVersionAndPoms runs the scan on a synthetic jar: a class
// compiled for Java 21 (the runtime runs 17), a multi-release variant for
// Java 21 that is never loaded, and a connector built for Flink 1.20.
func TestScanJar_ClassVersionAndPoms(t *testing.T) {
	sample, err := os.ReadFile("classfile/testdata/sample/Sample.class")
	if err != nil {
		t.Fatal(err)
	}
	java21 := bytes.Clone(sample)
	binary.BigEndian.PutUint16(java21[6:], 65)
	p := writeJar(t, map[string][]byte{
		"sample/Sample.class":                                                  java21,
		"META-INF/versions/21/sample/Other.class":                              java21,
		"META-INF/MANIFEST.MF":                                                 []byte("Manifest-Version: 1.0\nMulti-Release: true\n"),
		"META-INF/versions/11/sample/Sample.class":                             sample,
		"META-INF/maven/org.apache.flink/flink-connector-kafka/pom.properties": []byte("groupId=org.apache.flink\nartifactId=flink-connector-kafka\nversion=3.4.0-1.20\n"),
	})
	ix := &Index{Runtime: flinkplane.RuntimeFlink22, Classes: map[string]*ClassInfo{}}
	rep, err := ScanJar(context.Background(), p, ix)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]flinkplane.Finding{}
	for _, f := range rep.Findings {
		codes[f.Code] = f
	}
	if _, ok := codes[CodeClassVersion]; ok {
		t.Errorf("CLASS_VERSION although the Java 11 variant of sample.Sample is the one loaded: %+v", rep.Findings)
	}
	if f, ok := codes[CodeConnectorVersion]; !ok || f.Severity != flinkplane.SeverityError {
		t.Errorf("no CONNECTOR_VERSION error: %+v", rep.Findings)
	}
	if rep.Summary.Classes != 1 {
		t.Errorf("%d classes scanned, want 1 (the Java 21 variant is not loaded on 17)", rep.Summary.Classes)
	}
}

func TestScanJar_NotAJar(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.jar")
	os.WriteFile(p, []byte("nope"), 0o644)
	_, err := ScanJar(context.Background(), p, &Index{Runtime: flinkplane.RuntimeFlink22})
	if flinkplane.ErrorCode(err) != flinkplane.ECODE {
		t.Errorf("err = %v, want ECODE", err)
	}
}

func TestScanJar_ClassVersion(t *testing.T) {
	sample, err := os.ReadFile("classfile/testdata/sample/Sample.class")
	if err != nil {
		t.Fatal(err)
	}
	java21 := bytes.Clone(sample)
	binary.BigEndian.PutUint16(java21[6:], 65)
	// Without Multi-Release: true the versions/ directory is ignored.
	p := writeJar(t, map[string][]byte{
		"sample/Sample.class":                      java21,
		"META-INF/versions/11/sample/Sample.class": sample,
	})
	rep, err := ScanJar(context.Background(), p, &Index{Runtime: flinkplane.RuntimeFlink22, Classes: map[string]*ClassInfo{}})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, f := range rep.Findings {
		found = found || (f.Code == CodeClassVersion && f.Severity == flinkplane.SeverityError && f.Class == "sample.Sample")
	}
	if !found {
		t.Errorf("no CLASS_VERSION error for sample.Sample: %+v", rep.Findings)
	}
}
