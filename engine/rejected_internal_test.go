package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
)

func TestRejectedErrorInfo(t *testing.T) {
	errf := func(i int, msgLen int) flinkplane.Finding {
		return flinkplane.Finding{Severity: flinkplane.SeverityError, Code: "REMOVED_API",
			Message: fmt.Sprintf("finding-%d ", i) + strings.Repeat("m", msgLen), Class: "com.example.Job", Method: "main",
			Hint: "use the new API"}
	}
	warn := flinkplane.Finding{Severity: flinkplane.SeverityWarning, Code: "KRYO_STATE", Message: "a warning"}
	const where = "flinkplane check operation --application-name app --operation-id 0123456789abcdef"
	for _, tt := range []struct {
		name      string
		findings  []flinkplane.Finding
		wantWhole int    // whole findings shown
		wantTail  string // what follows them
	}{
		{"OneFits", []flinkplane.Finding{errf(1, 20)}, 1, " Details: " + where},
		{"WithWarnings", []flinkplane.Finding{errf(1, 20), warn}, 1, " 1 warning(s) and note(s) besides: " + where},
		{"ManyCut", []flinkplane.Finding{errf(1, 60), errf(2, 60), errf(3, 60), errf(4, 60), errf(5, 60), warn}, 2, " 3 more error(s) of 6 finding(s): " + where},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := rejectedErrorInfo("app", "0123456789abcdef", "FLINK-2_2", tt.findings)
			if len(got) > 512 {
				t.Fatalf("len = %d > 512: %s", len(got), got)
			}
			if !strings.HasPrefix(got, "PREFLIGHT: The compatibility check against FLINK-2_2 failed; the application was not changed: [REMOVED_API finding-1 ") {
				t.Errorf("head: %s", got)
			}
			if !strings.HasSuffix(got, tt.wantTail) {
				t.Errorf("got %s\nwant suffix %q", got, tt.wantTail)
			}
			for i := 1; i <= tt.wantWhole; i++ {
				if whole := " " + findingText(errf(i, 60), true) + ";"; tt.name == "ManyCut" && !strings.Contains(got, whole) {
					t.Errorf("finding %d not whole in %s", i, got)
				}
			}
			if n := strings.Count(got, "[REMOVED_API"); n != tt.wantWhole {
				t.Errorf("%d findings shown, want %d: %s", n, tt.wantWhole, got)
			}
		})
	}
	t.Run("OneTooLong", func(t *testing.T) {
		got := rejectedErrorInfo("app", "0123456789abcdef", "FLINK-2_2", []flinkplane.Finding{errf(1, 900), errf(2, 10)})
		if len(got) > 512 {
			t.Fatalf("len = %d: %s", len(got), got)
		}
		if !strings.Contains(got, "…;") || strings.Contains(got, "hint") || !strings.HasSuffix(got, " 1 more error(s) of 2 finding(s): "+where) {
			t.Fatalf("got %s", got)
		}
	})
}
