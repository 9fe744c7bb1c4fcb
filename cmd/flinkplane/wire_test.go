package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane/runtime/local"
)

// TestRouteDriverLogs: the local driver's progress lines come out of the
// server's slog logger, in its format and with a level.
func TestRouteDriverLogs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	d := local.New(t.TempDir(), t.TempDir())
	routeDriverLogs(d, nil, logger)
	if d.Logf == nil {
		t.Fatal("Logf not set")
	}
	d.Logf("local: starting cluster %s", "c-1")
	d.Logf("local: cannot cancel job %s of a failed submission: %v", "j", "boom")
	out := buf.String()
	for _, want := range []string{`level=INFO msg="starting cluster c-1" driver=local`, `level=WARN msg="cannot cancel job j of a failed submission: boom" driver=local`} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q:\n%s", want, out)
		}
	}
	// A driver given its own Logf keeps it.
	own := func(string, ...any) {}
	d2 := local.New(t.TempDir(), t.TempDir())
	d2.Logf = own
	routeDriverLogs(d2, nil, logger)
	d2.Logf("local: x")
	if strings.Count(buf.String(), "\n") != 2 {
		t.Fatalf("a driver's own Logf was replaced:\n%s", buf.String())
	}
}
