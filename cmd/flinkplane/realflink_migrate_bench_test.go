package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	"github.com/flinkplane/flinkplane/migrate"
	"github.com/flinkplane/flinkplane/runtime/local/localtest"
)

// BenchmarkRealFlinkMigrateState measures the state migration of
// pojo-list's keyed state (a POJO with a count and a List of the key's last
// five numbers) from FLINK-1_20 to FLINK-2_2 against the number of keys:
// pojo-list-1.20 runs on a real 1.20 cluster (RocksDB, the service's
// default) with keys=N until every key has state, stops with a savepoint,
// and the savepoint is migrated for pojo-list-2.2 (b.N times, each into a
// new directory):
//
//	migrate-s     the whole migration (both JVMs, the check of the result)
//	read-s        the JVM on 1.20 that reads the state into the neutral encoding
//	write-s       the JVM on 2.2 that writes the new savepoint
//	read-MiB      peak resident memory of the read JVM
//	write-MiB     peak resident memory of the write JVM
//	savepoint-MiB size of the 1.20 savepoint
//
//	FLINKPLANE_BENCH_KEYS=1000,100000,1000000 go test -run '^$' -bench RealFlinkMigrateState -benchtime 1x -timeout 60m ./cmd/flinkplane
func BenchmarkRealFlinkMigrateState(b *testing.B) {
	sizes := []int{1000, 100000, 1000000}
	if s := os.Getenv("FLINKPLANE_BENCH_KEYS"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	for _, keys := range sizes {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			jars := needReal(b, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.PojoList120, fixtures.PojoList22)
			sp := pojoListSavepoint(b, jars[fixtures.PojoList120], keys)
			size, _ := dirSize(strings.TrimPrefix(sp, "file:"))
			m := &migrate.Migrator{RuntimesDir: fixtures.RuntimesDir(), Heap: os.Getenv("FLINKPLANE_BENCH_HEAP"),
				Backend: os.Getenv("FLINKPLANE_BENCH_BACKEND")}
			var total, read, write, readRSS, writeRSS float64
			outs := b.TempDir()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := m.MigrateState(context.Background(), flinkplane.MigrationSpec{Savepoint: strings.TrimPrefix(sp, "file:"),
					From: flinkplane.RuntimeFlink120, To: flinkplane.RuntimeFlink22, OldJar: jars[fixtures.PojoList120], NewJar: jars[fixtures.PojoList22],
					Args: []string{"--output.path", b.TempDir()}, Out: filepath.Join(outs, strconv.Itoa(i))})
				if err != nil {
					b.Fatal(err)
				}
				if res.Refused() || len(res.Operators) != 1 || res.Operators[0].Keys != int64(keys) {
					b.Fatalf("migration: %+v", res)
				}
				total += res.Seconds
				read += res.ReadSeconds
				write += res.WriteSeconds
				readRSS += float64(res.ReadPeakRSS) / (1 << 20)
				writeRSS += float64(res.WritePeakRSS) / (1 << 20)
			}
			n := float64(b.N)
			b.ReportMetric(total/n, "migrate-s")
			b.ReportMetric(read/n, "read-s")
			b.ReportMetric(write/n, "write-s")
			b.ReportMetric(readRSS/n, "read-MiB")
			b.ReportMetric(writeRSS/n, "write-MiB")
			b.ReportMetric(float64(size)/(1<<20), "savepoint-MiB")
		})
	}
}

// pojoListSavepoint runs pojo-list-1.20 with keys keys on a real 1.20
// cluster until every key has state and returns the savepoint it stops
// with. With FLINKPLANE_BENCH_SAVEPOINTS=DIR the savepoint is kept in (and
// taken again from) DIR/pojo-list-<keys>.
func pojoListSavepoint(b *testing.B, jar string, keys int) string {
	b.Helper()
	if keep := os.Getenv("FLINKPLANE_BENCH_SAVEPOINTS"); keep != "" {
		dst := filepath.Join(keep, fmt.Sprintf("pojo-list-%d", keys))
		if _, err := os.Stat(filepath.Join(dst, "_metadata")); err == nil {
			return dst
		}
		sp := strings.TrimPrefix(takePojoListSavepoint(b, jar, keys), "file:")
		os.MkdirAll(keep, 0o755)
		if err := exec.Command("cp", "-r", sp, dst).Run(); err != nil {
			b.Fatal(err)
		}
		return dst
	}
	return takePojoListSavepoint(b, jar, keys)
}

func takePojoListSavepoint(b *testing.B, jar string, keys int) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	d := localtest.NewDriver(b, b.TempDir())
	out := b.TempDir()
	rate := keys / 10
	if rate < 500 {
		rate = 500
	}
	props := []flinkplane.PropertyGroup{{PropertyGroupID: fixtures.PropertyGroup, PropertyMap: map[string]string{
		"output.path": out, "keys": strconv.Itoa(keys), "rate.per.second": strconv.Itoa(rate)}}}
	h := localtest.StartCluster(b, d, flinkplane.ClusterSpec{ApplicationName: "bench", ApplicationID: "bench", Runtime: flinkplane.RuntimeFlink120,
		Parallelism: 1, ParallelismPerKPU: 1, Checkpoint: flinkplane.CheckpointSpec{Enabled: true, Interval: 2 * time.Second}, Properties: props})
	defer d.Stop(context.Background(), h)
	job, err := d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.WaitJobRunning(ctx, h, job); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(25 * time.Minute); ; time.Sleep(time.Second) {
		n, err := fixtures.CheckCounterOutput(out) // an error until the first checkpoint commits a file
		if err == nil && n.Records >= int64(keys) && len(n.Max) == keys {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("not every key has state after 25 minutes: %+v %v", n, err)
		}
	}
	trig, err := d.StopWithSavepoint(ctx, h, job, "")
	if err != nil {
		b.Fatal(err)
	}
	for {
		st, err := d.PollSavepoint(ctx, h, job, trig)
		if err != nil || st.Failure != "" {
			b.Fatalf("savepoint: %+v %v", st, err)
		}
		if st.Location != "" {
			return st.Location
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

// BenchmarkRealFlinkUpgradeMigration measures, through the API on real
// Flink, the total time of an UpdateApplication from FLINK-1_20 to
// FLINK-2_2 (the call until the operation is SUCCESSFUL, its 3-second
// probation included) with the state migration (pojo-list, tag
// flinkplane:migrate-state=on) against without (counter: the same job shape
// whose state 2.2 restores as it is), run alternately in one server:
//
//	upgrade-s   UpdateApplication → SUCCESSFUL
//
//	go test -run '^$' -bench RealFlinkUpgradeMigration -benchtime 2x -timeout 60m ./cmd/flinkplane
func BenchmarkRealFlinkUpgradeMigration(b *testing.B) {
	jars := needReal(b, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.PojoList120, fixtures.PojoList22, fixtures.Counter120, fixtures.Counter22)
	r := startRealPoll(b, jars, 50*time.Millisecond)
	cases := []struct {
		name, old, new string
		tags           []types.Tag
	}{
		{"without-migration", fixtures.Counter120, fixtures.Counter22, nil},
		{"with-migration", fixtures.PojoList120, fixtures.PojoList22, []types.Tag{{Key: aws.String(flinkplane.TagMigrateState), Value: aws.String("on")}}},
	}
	sum := map[string]float64{}
	for i := 0; i < b.N; i++ {
		for _, c := range cases {
			app := fmt.Sprintf("%s-%d", c.name, i)
			out := filepath.Join(r.dataDir, "output", app)
			r.create(app, types.RuntimeEnvironmentFlink120, c.old, out, func(in *kav2.CreateApplicationInput) { in.Tags = c.tags })
			r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
			waitRecords(b, out, 50)
			t0 := time.Now()
			up, err := r.upgradeJar22(app, c.new)
			if err != nil {
				b.Fatal(err)
			}
			r.waitRunning(app, aws.ToString(up.OperationId))
			sum[c.name] += time.Since(t0).Seconds()
			r.stop(app)
		}
	}
	for _, c := range cases {
		b.ReportMetric(sum[c.name]/float64(b.N), c.name+"-s")
	}
	b.ReportMetric(sum["with-migration"]/sum["without-migration"], "ratio")
}
