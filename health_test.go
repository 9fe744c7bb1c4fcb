package flinkplane_test

import (
	"strings"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
)

func TestClassifyFailure(t *testing.T) {
	for _, tt := range []struct {
		name, trace, task string
		want              []string
	}{
		{"RestoreOperator", `java.lang.Exception: Exception while creating StreamOperatorStateContext.
	at org.apache.flink.streaming.api.operators.StreamTaskStateInitializerImpl.streamOperatorStateContext(StreamTaskStateInitializerImpl.java:330)
Caused by: org.apache.flink.util.FlinkException: Could not restore keyed state backend for KeyedProcessOperator_0a448493b4782967b150582570326227_(1/1) from any of the 1 provided restore options.
	at org.apache.flink.streaming.api.operators.BackendRestorerProcedure.createAndRestore(BackendRestorerProcedure.java:165)
Caused by: java.lang.IllegalArgumentException: Invalid field type
	at org.apache.flink.api.java.typeutils.runtime.PojoSerializer.<init>(PojoSerializer.java:120)`, "pojo-state -> Sink: file-sink (1/1)",
			[]string{"State restore failure of operator KeyedProcessOperator (id 0a448493b4782967b150582570326227) (task pojo-state -> Sink: file-sink (1/1)): java.lang.IllegalArgumentException: Invalid field type"}},
		{"StateMigration", `java.lang.RuntimeException: Error while getting state
	at org.apache.flink.runtime.state.DefaultKeyedStateStore.getState(DefaultKeyedStateStore.java:84)
	at org.apache.flink.streaming.api.operators.StreamingRuntimeContext.getState(StreamingRuntimeContext.java:229)
	at dev.flinkplane.fixtures.pojolist.PojoListJob$RememberPerKey.open(PojoListJob.java:92)
	at org.apache.flink.api.common.functions.util.FunctionUtils.openFunction(FunctionUtils.java:34)
Caused by: org.apache.flink.util.StateMigrationException: For heap backends, the new state serializer must not be incompatible with the old state serializer.
	at org.apache.flink.runtime.state.heap.HeapKeyedStateBackend.tryRegisterStateTable(HeapKeyedStateBackend.java:235)`, "pojo-state -> file-sink: Writer -> file-sink: Committer (1/1) - execution #1",
			[]string{"State restore failure of operator pojo-state (state accessed at dev.flinkplane.fixtures.pojolist.PojoListJob$RememberPerKey.open(PojoListJob.java:92); task pojo-state -> file-sink: Writer -> file-sink: Committer (1/1) - execution #1): org.apache.flink.util.StateMigrationException: For heap backends"}},
		{"ClassMissing", `java.lang.NoClassDefFoundError: org/apache/flink/api/common/time/Time
	at dev.example.Job.main(Job.java:12)
Caused by: java.lang.ClassNotFoundException: org.apache.flink.api.common.time.Time
	at java.base/java.net.URLClassLoader.findClass(URLClassLoader.java:445)`, "",
			[]string{"Class missing: org.apache.flink.api.common.time.Time (java.lang.ClassNotFoundException: org.apache.flink.api.common.time.Time)"}},
		{"UserCode", `java.lang.RuntimeException: flinkplane fault injected (/tmp/fail)
	at dev.flinkplane.fixtures.counter.CounterJob$CountPerKey.processElement(CounterJob.java:121)
	at dev.flinkplane.fixtures.counter.CounterJob$CountPerKey.processElement(CounterJob.java:99)
	at org.apache.flink.streaming.api.operators.KeyedProcessOperator.processElement(KeyedProcessOperator.java:83)`, "count-per-key (1/1)",
			[]string{"User code exception at dev.flinkplane.fixtures.counter.CounterJob$CountPerKey.processElement(CounterJob.java:121): java.lang.RuntimeException: flinkplane fault injected (/tmp/fail)"}},
		{"WrappedUserCode", `org.apache.flink.runtime.JobException: Recovery is suppressed by FixedDelayRestartBackoffTimeStrategy
	at org.apache.flink.runtime.executiongraph.failover.ExecutionFailureHandler.handleFailure(ExecutionFailureHandler.java:180)
Caused by: java.lang.IllegalStateException: bad record
	at app//com.example.Parse.map(Parse.java:7)`, "",
			[]string{"User code exception at com.example.Parse.map(Parse.java:7): java.lang.IllegalStateException: bad record"}},
		{"FlinkOnly", `java.util.concurrent.TimeoutException: Heartbeat of TaskManager with id 127.0.0.1:4242 timed out.
	at org.apache.flink.runtime.jobmaster.JobMaster$TaskManagerHeartbeatListener.notifyHeartbeatTimeout(JobMaster.java:1406)`, "",
			[]string{"java.util.concurrent.TimeoutException: Heartbeat of TaskManager with id 127.0.0.1:4242 timed out."}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := flinkplane.ClassifyFailure(tt.trace, tt.task, "")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Fatalf("got  %q\nwant %q", got, w)
				}
			}
		})
	}
}

func TestProbationWindow(t *testing.T) {
	for _, tt := range []struct {
		c    flinkplane.CheckpointConfig
		want time.Duration
	}{
		{flinkplane.CheckpointConfig{CheckpointingEnabled: true, CheckpointInterval: 60000}, 2 * time.Minute},
		{flinkplane.CheckpointConfig{CheckpointingEnabled: true, CheckpointInterval: 2000}, 10 * time.Second},
		{flinkplane.CheckpointConfig{CheckpointingEnabled: true, CheckpointInterval: 20000}, 40 * time.Second},
		{flinkplane.CheckpointConfig{CheckpointingEnabled: true, CheckpointInterval: 600000}, 2 * time.Minute},
		{flinkplane.CheckpointConfig{CheckpointingEnabled: false, CheckpointInterval: 60000}, 10 * time.Second},
	} {
		if got := flinkplane.ProbationWindow(tt.c); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.c, got, tt.want)
		}
	}
}

func TestParseSettings(t *testing.T) {
	for in, want := range map[string]time.Duration{"90": 90 * time.Second, "1.5": 1500 * time.Millisecond, "2m": 2 * time.Minute, "0": 0} {
		if got, err := flinkplane.ParseWindow(in); err != nil || got != want {
			t.Errorf("ParseWindow(%q) = %s, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-1", "soon", "-5s"} {
		if _, err := flinkplane.ParseWindow(bad); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
			t.Errorf("ParseWindow(%q): %v", bad, err)
		}
	}
	for in, want := range map[string]flinkplane.AutoRollback{"off": {}, "": {}, "OFF": {}, "3/5m": {Restarts: 3, Window: 5 * time.Minute}, "1/600": {Restarts: 1, Window: 10 * time.Minute}} {
		if got, err := flinkplane.ParseAutoRollback(in); err != nil || got != want {
			t.Errorf("ParseAutoRollback(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"3", "x/5m", "0/5m", "3/0", "3/-1m", "on"} {
		if _, err := flinkplane.ParseAutoRollback(bad); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
			t.Errorf("ParseAutoRollback(%q): %v", bad, err)
		}
	}
	if s := (flinkplane.AutoRollback{Restarts: 3, Window: 5 * time.Minute}).String(); s != "3/5m0s" {
		t.Errorf("String = %q", s)
	}
}

func TestJobStatusHealth(t *testing.T) {
	ok := flinkplane.ClusterHealth{JobManagerAlive: true, TaskManagers: 2, TaskManagersAlive: 2}
	lostTM := flinkplane.ClusterHealth{JobManagerAlive: true, TaskManagers: 2, TaskManagersAlive: 1}
	for _, tt := range []struct {
		job     flinkplane.JobHealth
		cluster flinkplane.ClusterHealth
		want    string
	}{
		{flinkplane.JobHealth{State: "RUNNING", AllTasksRunning: true}, ok, flinkplane.HealthHealthy},
		{flinkplane.JobHealth{State: "RUNNING", AllTasksRunning: true}, lostTM, flinkplane.HealthDegraded},
		{flinkplane.JobHealth{State: "RUNNING"}, ok, flinkplane.HealthStarting},
		{flinkplane.JobHealth{State: "RUNNING", Restarts: 2}, ok, flinkplane.HealthDegraded},
		{flinkplane.JobHealth{State: "RESTARTING", Restarts: 2}, ok, flinkplane.HealthRestarting},
		{flinkplane.JobHealth{State: "FAILED"}, ok, flinkplane.HealthFailed},
		{flinkplane.JobHealth{State: "CANCELED"}, ok, flinkplane.HealthCanceled},
		{flinkplane.JobHealth{State: "FINISHED"}, ok, flinkplane.HealthFinished},
		{flinkplane.JobHealth{State: "INITIALIZING"}, ok, flinkplane.HealthStarting},
		{flinkplane.JobHealth{State: "RUNNING", AllTasksRunning: true}, flinkplane.ClusterHealth{}, flinkplane.HealthJobManagerLost},
	} {
		if got := flinkplane.JobStatusHealth(tt.job, tt.cluster); got != tt.want {
			t.Errorf("%+v %+v: %s, want %s", tt.job, tt.cluster, got, tt.want)
		}
	}
}

func TestNameOperators(t *testing.T) {
	const id = "0a448493b4782967b150582570326227"
	g := &flinkplane.JobGraphInfo{Vertices: []flinkplane.JobVertexInfo{{Operators: []flinkplane.OperatorInfo{{ID: id, UID: "count-per-key", Name: "count-per-key"}}}}}
	st := "java.lang.Exception: Exception while creating StreamOperatorStateContext.\n" +
		"Caused by: org.apache.flink.util.FlinkException: Could not restore keyed state backend for KeyedProcessOperator_" + id + "_(1/1) from any of the 1 provided restore options.\n" +
		"Caused by: org.apache.flink.util.StateMigrationException: The new state serializer must not be incompatible."
	got := flinkplane.NameOperators(flinkplane.ClassifyFailure(st, "", ""), nil, g)
	if want := `State restore failure of operator uid "count-per-key" (KeyedProcessOperator, id ` + id + `)`; !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want prefix %q", got, want)
	}
	unmapped := "java.lang.IllegalStateException: Failed to rollback to checkpoint/savepoint file:/s. Cannot map checkpoint/savepoint state for operator " + id + " to the new program, because the operator is not available in the new program."
	if got := flinkplane.NameOperators(flinkplane.ClassifyFailure(unmapped, "", ""), g); !strings.Contains(got, `operator uid "count-per-key" (id `+id+`)`) {
		t.Errorf("unmapped: got %q", got)
	}
	// No graph, or a graph without the operator: unchanged.
	if msg := "operator " + id + " failed"; flinkplane.NameOperators(msg) != msg || flinkplane.NameOperators(msg, &flinkplane.JobGraphInfo{}) != msg {
		t.Error("an id no graph names was changed")
	}
}
