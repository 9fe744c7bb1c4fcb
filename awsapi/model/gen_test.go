package model

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGenerated_UpToDate regenerates the shapes from service-2.json and
// checks shapes_gen.go is identical: run `go generate ./awsapi/model` after
// changing the model or the generator.
func TestGenerated_UpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator with go run")
	}
	out := filepath.Join(t.TempDir(), "shapes_gen.go")
	cmd := exec.Command("go", "run", "./gen", "-in", "service-2.json", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./gen: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("shapes_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("shapes_gen.go is out of date: run go generate ./awsapi/model")
	}
}
