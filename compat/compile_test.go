package compat_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/compat/savepoint"
)

func props(kv ...string) []flinkplane.PropertyGroup {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return []flinkplane.PropertyGroup{{PropertyGroupID: "FlinkApplicationProperties", PropertyMap: m}}
}

func compile(t *testing.T, target flinkplane.RuntimeID, spec flinkplane.CompileSpec) (*flinkplane.JobGraphInfo, []flinkplane.Finding) {
	t.Helper()
	g, fs, err := testChecker(t, target).CompileJob(context.Background(), target, spec)
	if err != nil {
		t.Fatal(err)
	}
	return g, fs
}

// TestCompileJob: the dry compile on real Flink (a JVM per compile, about a
// second each once the helper and its class data archive exist).
func TestCompileJob(t *testing.T) {
	if testing.Short() {
		t.Skip("runs JVMs")
	}
	t.Run("Counter22", func(t *testing.T) {
		spec := flinkplane.CompileSpec{JarPath: fixtureJar(t, "counter-2.2"), Parallelism: 2, Properties: props("output.path", t.TempDir())}
		g, fs := compile(t, flinkplane.RuntimeFlink22, spec)
		if len(fs) != 0 || g == nil {
			t.Fatalf("findings %s, graph %v: want a graph", dump(fs), g)
		}
		if g.FlinkVersion != "2.2.1" || g.JobName != "counter" || g.JobType != "STREAMING" || g.Parallelism != 2 {
			t.Errorf("graph %+v", g)
		}
		// Checkpointing as the code set it (the cluster configuration does not enable it here).
		if c := g.Checkpointing; !c.Enabled || c.IntervalMillis != 2000 || c.Mode != "EXACTLY_ONCE" {
			t.Errorf("checkpointing %+v, want the code's 2000 ms", c)
		}
		uids := map[string]string{}
		n := 0
		for _, v := range g.Vertices {
			if v.Parallelism != 2 {
				t.Errorf("vertex %s parallelism %d, want 2", v.Name, v.Parallelism)
			}
			for _, o := range v.Operators {
				uids[o.UID] = o.ID
				n++
			}
		}
		for _, uid := range []string{"numbers-source", "count-per-key", "file-sink", "Sink Committer: file-sink"} {
			if id, ok := uids[uid]; !ok || id != savepoint.OperatorIDForUID(uid) {
				t.Errorf("operator uid %q: id %q, want %s (chained ones included): %+v", uid, id, savepoint.OperatorIDForUID(uid), g.Vertices)
			}
		}
		if len(g.Vertices) != 2 || n != 4 {
			t.Errorf("%d vertices, %d operators; want 2 and 4", len(g.Vertices), n)
		}

		// The cluster's configuration reaches main(): checkpointing enabled
		// there is kept by the code (which enables it only when it is off).
		spec.FlinkConfig = map[string]string{"execution.checkpointing.interval": "60000ms"}
		g, _ = compile(t, flinkplane.RuntimeFlink22, spec)
		if g == nil || g.Checkpointing.IntervalMillis != 60000 {
			t.Errorf("with the cluster's interval: %+v, want 60000 ms", g)
		}
	})
	t.Run("PropertiesReachMain", func(t *testing.T) {
		// counter's main() needs output.path: without the properties it
		// throws, with them (and count.uid) it builds the graph.
		spec := flinkplane.CompileSpec{JarPath: fixtureJar(t, "counter-2.2")}
		g, fs := compile(t, flinkplane.RuntimeFlink22, spec)
		if g != nil || len(fs) != 1 || fs[0].Code != compat.CodeMainFailed || fs[0].Severity != flinkplane.SeverityError ||
			!strings.Contains(fs[0].Message, "java.lang.IllegalArgumentException: missing setting output.path") ||
			fs[0].Class != "dev.flinkplane.fixtures.counter.CounterJob" {
			t.Errorf("without properties: %s, want JOB_MAIN_FAILED with main()'s message", dump(fs))
		}
		spec.Properties = props("output.path", t.TempDir(), "count.uid", "from-properties")
		g, fs = compile(t, flinkplane.RuntimeFlink22, spec)
		if len(fs) != 0 {
			t.Fatalf("with properties: %s", dump(fs))
		}
		if _, _, ok := g.Operator(savepoint.OperatorIDForUID("from-properties")); !ok {
			t.Errorf("no operator with the uid from the properties: %+v", g.Vertices)
		}
	})
	t.Run("MainFailsOnTarget", func(t *testing.T) {
		// counter-1.20 on 2.2: Flink's NoClassDefFoundError, with the hint.
		g, fs := compile(t, flinkplane.RuntimeFlink22, flinkplane.CompileSpec{JarPath: fixtureJar(t, "counter-1.20"), Properties: props("output.path", t.TempDir())})
		if g != nil || len(fs) != 1 || fs[0].Code != compat.CodeMainFailed ||
			!strings.Contains(fs[0].Message, "java.lang.NoClassDefFoundError: org/apache/flink/api/common/time/Time") || !strings.Contains(fs[0].Hint, "Duration") {
			t.Errorf("findings %s, want JOB_MAIN_FAILED NoClassDefFoundError Time", dump(fs))
		}
	})
	t.Run("SystemExit", func(t *testing.T) {
		g, fs := compile(t, flinkplane.RuntimeFlink22, flinkplane.CompileSpec{JarPath: fixtureJar(t, "bad-main-2.2"), Properties: props("mode", "exit")})
		if g != nil || len(fs) != 1 || fs[0].Code != compat.CodeMainFailed || !strings.Contains(fs[0].Message, "exit status 3") {
			t.Errorf("findings %s, want JOB_MAIN_FAILED for System.exit(3)", dump(fs))
		}
	})
	t.Run("ImposedCheckpointingAndGraph", func(t *testing.T) {
		// The code sets 1000 ms; the application's configuration (60 s, 5 s
		// pause) is imposed on the graph, which is written for a submission.
		dir := t.TempDir()
		spec := flinkplane.CompileSpec{JarPath: fixtureJar(t, "counter-2.2"), Parallelism: 1,
			Properties:    props("output.path", dir, "code.checkpoint.interval.ms", "1000"),
			JobID:         "0123456789abcdef0123456789abcdef",
			Checkpointing: &flinkplane.CheckpointSpec{Enabled: true, Interval: time.Minute, MinPauseBetweenCheckpoints: 5 * time.Second},
			GraphFile:     filepath.Join(dir, "job.graph"), AllowNonRestoredState: true}
		g, fs := compile(t, flinkplane.RuntimeFlink22, spec)
		if len(fs) != 0 || g == nil {
			t.Fatalf("findings %s", dump(fs))
		}
		if c := g.Checkpointing; !c.Enabled || c.IntervalMillis != 60000 || c.MinPauseMillis != 5000 || c.MaxConcurrent != 1 || c.Mode != "EXACTLY_ONCE" || c.Unaligned ||
			c.Retention != "RETAIN_ON_CANCELLATION" {
			t.Errorf("checkpointing %+v, want the imposed 60000/5000", c)
		}
		if r := g.RequestedCheckpointing; r == nil || r.IntervalMillis != 1000 {
			t.Errorf("requested %+v, want the code's 1000 ms", r)
		}
		c := g.Compiled
		if c == nil || c.JobID != spec.JobID || g.JobID != spec.JobID || c.RestorePlaceholder == "" || !c.AllowNonRestoredState {
			t.Fatalf("compiled %+v", c)
		}
		plain, err := os.ReadFile(c.GraphFile)
		if err != nil {
			t.Fatal(err)
		}
		restore, err := os.ReadFile(c.RestoreGraphFile)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(plain, []byte(c.RestorePlaceholder)) || bytes.Count(restore, []byte(c.RestorePlaceholder)) != 1 {
			t.Errorf("the placeholder must be in the restore graph once and not in the plain one")
		}
		// Checkpointing off in the configuration: off, whatever the code says.
		spec.Checkpointing = &flinkplane.CheckpointSpec{}
		if g, _ = compile(t, flinkplane.RuntimeFlink22, spec); g == nil || g.Checkpointing.Enabled {
			t.Errorf("checkpointing %+v, want off", g)
		}
	})
	t.Run("DetachedResult", func(t *testing.T) {
		// main() reads the result of its detached execute(): Flink's own
		// message, as the cluster's jar run reports it.
		g, fs := compile(t, flinkplane.RuntimeFlink22, flinkplane.CompileSpec{JarPath: fixtureJar(t, "bad-main-2.2"), Properties: props("mode", "detached-result")})
		if g != nil || len(fs) != 1 || fs[0].Code != compat.CodeMainFailed || !strings.Contains(fs[0].Message, "detached mode") {
			t.Errorf("findings %s, want JOB_MAIN_FAILED with Flink's detached-mode message", dump(fs))
		}
		if g, fs := compile(t, flinkplane.RuntimeFlink22, flinkplane.CompileSpec{JarPath: fixtureJar(t, "bad-main-2.2"), Properties: props("mode", "ok")}); g == nil || len(fs) != 0 || g.JobType != "BATCH" {
			t.Errorf("mode ok: %s %+v", dump(fs), g)
		}
	})
	t.Run("UidChangedAgainstSavepoint", func(t *testing.T) {
		c := testChecker(t, flinkplane.RuntimeFlink22, flinkplane.RuntimeFlink120)
		out := t.TempDir()
		req := compat.JobCheck{Target: flinkplane.RuntimeFlink22,
			Job:       flinkplane.CompileSpec{JarPath: fixtureJar(t, "counter-uid-2.2"), Properties: props("output.path", out)},
			Savepoint: "testdata/savepoints/counter-1.20",
			Previous:  flinkplane.CompileSpec{JarPath: fixtureJar(t, "counter-1.20"), Properties: props("output.path", out)}, PreviousTarget: flinkplane.RuntimeFlink120}
		rep, err := c.CheckJob(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		errs := bySeverity(rep.Findings, flinkplane.SeverityError)
		if len(errs) != 1 || errs[0].Code != compat.CodeUnmappedState || errs[0].Class != `uid "count-per-key"` ||
			!strings.Contains(errs[0].Hint, `uid "count-per-key-v2"`) {
			t.Errorf("findings %s, want STATE_NOT_MAPPED naming uid count-per-key", dump(rep.Findings))
		}
		req.AllowNonRestoredState = true
		if rep, err = c.CheckJob(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if rep.Summary.Errors != 0 || len(bySeverity(rep.Findings, flinkplane.SeverityWarning)) != 1 {
			t.Errorf("with AllowNonRestoredState: %s, want one STATE_NOT_RESTORED warning", dump(rep.Findings))
		}
		// The same savepoint into counter-2.2: clean.
		req.Job.JarPath, req.AllowNonRestoredState = fixtureJar(t, "counter-2.2"), false
		if rep, err = c.CheckJob(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if len(rep.Findings) != 0 || rep.JobGraph == nil {
			t.Errorf("counter-2.2 with a counter-1.20 savepoint: %s, want none", dump(rep.Findings))
		}
	})
}
