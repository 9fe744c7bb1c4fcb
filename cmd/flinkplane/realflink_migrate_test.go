package main

// Real-Flink proof of the state migration (issue 13): Path 3 becomes Path 1.

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/client"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	"github.com/flinkplane/flinkplane/migrate"
	"github.com/flinkplane/flinkplane/runtime"
)

// needTools fails (CI=true) or skips when the runtimes' State Processor API
// is not installed (flinkplane runtime install adds it).
func needTools(t *testing.T, ids ...flinkplane.RuntimeID) {
	t.Helper()
	for _, id := range ids {
		if _, err := runtime.ToolClasspath(fixtures.RuntimesDir(), id, runtime.ToolStateProcessor); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal(flinkplane.ErrorMessage(err))
			}
			t.Skip(flinkplane.ErrorMessage(err))
		}
	}
}

// dumpState reads the keyed state of an operator of a savepoint with the
// State Processor API on rt (the serializers the savepoint records, the
// classes of jar) and returns it by key: the neutral encoding of each key's
// states and timers.
func dumpState(t *testing.T, sp string, rt flinkplane.RuntimeID, jar, op string) map[string]string {
	t.Helper()
	m := &migrate.Migrator{RuntimesDir: fixtures.RuntimesDir()}
	files, err := m.Dump(sctx, sp, rt, jar, []string{op}, t.TempDir())
	if err != nil {
		t.Fatalf("read the state of %s on %s: %v", sp, rt, err)
	}
	f, err := os.Open(files[op])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var rec struct {
			Key    json.RawMessage `json:"key"`
			State  json.RawMessage `json:"state"`
			Timers json.RawMessage `json:"timers"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		// Canonical: the order of the states in a line is the order the
		// savepoint lists them in, which differs between the lines.
		var st map[string]json.RawMessage
		if err := json.Unmarshal(rec.State, &st); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(st)
		out[string(rec.Key)] = string(b) + " timers " + string(rec.Timers)
	}
	return out
}

// TestRealFlink_MigrateState: for a POJO with a List field (pojo-list), a
// POJO with a Map field (pojo-map) and a nested POJO with a List beside a
// Map<String, List<Long>> field, in value, list and map state with timers
// (pojo-nested), Flink 2.2 cannot restore the 1.20 state (Path 3). With the
// tag flinkplane:migrate-state=on the UpdateApplication to FLINK-2_2 migrates
// it: the job runs on 2.2 with zero restarts, every state value read back
// from the migrated savepoint on 2.2 equals the value read from the 1.20
// savepoint on 1.20, key by key, and the counts continue exactly (the
// output). A state the migration cannot write (a reducing state) is refused
// before the job stops.
func TestRealFlink_MigrateState(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.PojoList120, fixtures.PojoList22,
		fixtures.PojoMap120, fixtures.PojoMap22, fixtures.PojoNested120, fixtures.PojoNested22)
	needTools(t, flinkplane.RuntimeFlink120, flinkplane.RuntimeFlink22)
	r := startReal(t, jars)
	tag := func(in *kav2.CreateApplicationInput) {
		in.Tags = []types.Tag{{Key: aws.String(flinkplane.TagMigrateState), Value: aws.String("on")}}
		in.ApplicationConfiguration.ApplicationSystemRollbackConfiguration = &types.ApplicationSystemRollbackConfiguration{RollbackEnabled: aws.Bool(true)}
	}
	for _, c := range []struct {
		name, old, new string
		values         int // state values per key
	}{
		{"PojoList", fixtures.PojoList120, fixtures.PojoList22, 1},
		{"PojoMap", fixtures.PojoMap120, fixtures.PojoMap22, 1},
		{"PojoNested", fixtures.PojoNested120, fixtures.PojoNested22, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			app := strings.ToLower(c.name)
			out := filepath.Join(r.dataDir, "output", app)
			r.create(app, types.RuntimeEnvironmentFlink120, c.old, out, tag)
			r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
			waitRecords(t, out, 100)

			up, err := r.upgradeJar22(app, c.new)
			if err != nil {
				t.Fatalf("upgrade with migrate-state=on refused: %v", err)
			}
			fc, job := r.waitRunning(app, aws.ToString(up.OperationId))
			if d := r.describe(app); d.RuntimeEnvironment != types.RuntimeEnvironmentFlink22 || d.ApplicationStatus != types.ApplicationStatusRunning {
				t.Fatalf("after the upgrade: %s %s", d.ApplicationStatus, d.RuntimeEnvironment)
			}
			d, err := client.New(r.m.URL()).DescribeOperation(sctx, app, aws.ToString(up.OperationId))
			if err != nil {
				t.Fatal(err)
			}
			mig := d.StateMigration
			if mig == nil || len(mig.OperatorIDs) != 1 || mig.Snapshot == "" {
				t.Fatalf("DescribeApplicationOperation's FlinkplaneStateMigration: %+v", mig)
			}
			if mig.Keys != 10 || mig.Values != int64(10*c.values) {
				t.Fatalf("migrated %+v, want 10 keys with %d values each", mig, c.values)
			}
			opID := mig.OperatorIDs[0]
			if p := restoredFrom(t, fc, job.ID); !samePath(p, mig.Savepoint) {
				t.Fatalf("the 2.2 job restored from %q, want the migrated savepoint %q", p, mig.Savepoint)
			}
			var info bool
			for _, f := range d.CompatibilityFindings {
				info = info || f.Code == flinkplane.CodeStateMigration
			}
			if !info {
				t.Fatalf("findings %+v lack STATE_MIGRATION", d.CompatibilityFindings)
			}

			// Every value, key by key: the 1.20 savepoint read on 1.20 with
			// the old jar, the migrated one read on 2.2 with the new jar.
			before := dumpState(t, mig.Source, flinkplane.RuntimeFlink120, jars[c.old], opID)
			after := dumpState(t, mig.Savepoint, flinkplane.RuntimeFlink22, jars[c.new], opID)
			if len(before) != 10 {
				t.Fatalf("1.20 state has %d keys, want 10", len(before))
			}
			for k, v := range before {
				if after[k] != v {
					t.Errorf("key %s: 1.20 state %s, migrated %s", k, v, after[k])
				}
			}
			if len(after) != len(before) {
				t.Errorf("migrated state has %d keys, 1.20 state %d", len(after), len(before))
			}
			keys := make([]string, 0, len(before))
			for k := range before {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Logf("%s: %d keys equal before and after, e.g. %s = %s (migration %.1f s: read %.1f s, write %.1f s)",
				c.name, len(before), keys[0], before[keys[0]], mig.Seconds, mig.ReadSeconds, mig.WriteSeconds)

			// The job goes on from that state: counts continue exactly, no
			// restart (pojo-nested also checks every state it reads).
			nUp := checkOutput(t, out, 0)
			waitRecords(t, out, nUp+100)
			m, err := fc.JobMetrics(sctx, job.ID, "numRestarts")
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := strconv.ParseInt(m["numRestarts"], 10, 64); n != 0 || m["numRestarts"] == "" {
				t.Fatalf("numRestarts on 2.2 = %q, want 0", m["numRestarts"])
			}
			r.stop(app)
			t.Logf("%s output: %d records, counts continue exactly from the migrated state", c.name, checkOutput(t, out, nUp))
		})
	}

	// A state the migration cannot write is refused before the job stops.
	t.Run("Refused", func(t *testing.T) {
		const app = "pojo-reducing"
		out := filepath.Join(r.dataDir, "output", app)
		r.create(app, types.RuntimeEnvironmentFlink120, fixtures.PojoNested120, out, tag, func(in *kav2.CreateApplicationInput) {
			in.ApplicationConfiguration.EnvironmentProperties.PropertyGroups[0].PropertyMap["reducing.state"] = "true"
		})
		_, job := r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
		waitRecords(t, out, 50)
		_, err := r.upgradeJar22(app, fixtures.PojoNested22)
		srvWantErr[*types.InvalidApplicationConfigurationException](t, err, flinkplane.CodeStateNotMigratable, "latest", "reducing")
		t.Logf("refused: %v", err)
		if _, job2 := r.job(app); job2.ID != job.ID || job2.Timestamps["RUNNING"] != job.Timestamps["RUNNING"] || !job2.AllTasksRunning() {
			t.Fatalf("running job touched: %s, was %s", job2.ID, job.ID)
		}
		if d := r.describe(app); d.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 || d.ApplicationStatus != types.ApplicationStatusRunning {
			t.Fatalf("refused update changed the application: %s %s", d.ApplicationStatus, d.RuntimeEnvironment)
		}
		r.stop(app)
	})
}
