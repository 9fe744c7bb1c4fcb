package engine

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
)

// ErrorInfo shows the cause without server paths, pids or JVM output
// (issue 9, finding 7).
func TestErrorInfo_NoServerDetails(t *testing.T) {
	for _, tt := range []struct {
		err        error
		want       []string
		notWant    []string
		pointsLogs bool
	}{
		{fmt.Errorf("start cluster fc-1a2b (logs in /root/.local/share/flinkplane/clusters/abc/fc-1a2b/log): %w\n--- jobmanager.out (tail) ---\nException in thread main\n\tat org.apache.Foo",
			errors.New("jobmanager (pid 4242) exited during start-up: exit status 1")),
			[]string{"start cluster fc-1a2b", "exited during start-up"}, []string{"/root", "4242", "Exception in thread", "org.apache.Foo"}, true},
		{errors.New("job 0123 is FAILED: java.io.FileNotFoundException: /var/lib/flinkplane/savepoints/id/savepoint-ab12/_metadata (No such file or directory)"),
			[]string{"java.io.FileNotFoundException", "_metadata"}, []string{"/var/lib"}, true},
		{errors.New("savepoint failed: Could not read file:/data/flinkplane/savepoints/x/savepoint-1"),
			[]string{"savepoint-1"}, []string{"/data", "file:"}, true},
		{errors.New("process 31337 exited"), []string{"a process exited"}, []string{"31337"}, true},
		{flinkplane.Errorf(flinkplane.ECODE, "Flink could not run the application: java.lang.NoClassDefFoundError: org/apache/flink/api/common/functions/RichFunction"),
			[]string{"java.lang.NoClassDefFoundError: org/apache/flink/api/common/functions/RichFunction"}, nil, false},
	} {
		got := errorInfo("START_CLUSTER", tt.err)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("ErrorInfo %q does not contain %q", got, w)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(got, w) {
				t.Errorf("ErrorInfo %q contains %q", got, w)
			}
		}
		if strings.Contains(got, "flinkplane logs") != tt.pointsLogs {
			t.Errorf("ErrorInfo %q: points to the logs = %v, want %v", got, !tt.pointsLogs, tt.pointsLogs)
		}
		if len(got) > 512 || !strings.HasPrefix(got, "START_CLUSTER: ") {
			t.Errorf("ErrorInfo %q", got)
		}
	}
}

// FuzzSanitizeCause: whatever a driver or Flink says, ErrorInfo keeps one
// line without an absolute path or a pid.
func FuzzSanitizeCause(f *testing.F) {
	f.Add("start cluster fc-1 (logs in /root/.local/share/flinkplane/clusters/a/fc-1/log): jobmanager (pid 4242) exited\n--- jobmanager.out (tail) ---\nboom")
	f.Add("savepoint failed: file:///data/savepoints/x/savepoint-1 (No such file)")
	f.Add("java.lang.NoClassDefFoundError: org/apache/flink/api/Foo")
	f.Add("process 31337 exited; see /tmp/x:/y,/z;(/w)[/v]")
	f.Fuzz(func(t *testing.T, msg string) {
		out := sanitizeCause(msg)
		if strings.ContainsAny(out, "\n") {
			t.Fatalf("%q: more than one line: %q", msg, out)
		}
		if pathRE.MatchString(out) {
			t.Fatalf("%q: a path is left: %q", msg, out)
		}
		if m := regexp.MustCompile(`\bpid:? ?\d+`).FindString(out); m != "" {
			t.Fatalf("%q: a pid is left: %q", msg, out)
		}
	})
}
