package metrics_test

import (
	"os"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/sqlite"
)

// dbSize is the size of the database file after a checkpoint of its WAL
// (closing the database checkpoints it).
func dbSize(b *testing.B, db *sqlite.DB) int64 {
	b.Helper()
	db.Close()
	fi, err := os.Stat(db.Path)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// BenchmarkStorage_AppDay records one day of one application at the
// default reading interval (15 s, 4 readings a minute) and reports the
// database growth per application per day, for each MetricsLevel (the
// counter fixture's two tasks and three operators, one TaskManager).
//
//	go test -run - -bench Storage -benchtime 1x ./metrics/
func BenchmarkStorage_AppDay(b *testing.B) {
	for _, level := range []string{flinkplane.MetricsLevelApplication, flinkplane.MetricsLevelTask, flinkplane.MetricsLevelOperator} {
		b.Run(level, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				v := newEnv(b, b.TempDir())
				v.c.Interval = 0
				v.createApp("app", "id", level, flinkplane.RuntimeFlink120)
				v.startJob("app", flinkplane.OpStartApplication, "j1", t0)
				m := running("j1", t0, 0, 1, 0)
				m.TaskManagers = m.TaskManagers[:1]
				m.Tasks[1].Operators = append(m.Tasks[1].Operators, flinkplane.OperatorMetrics{Name: "file-sink__Writer"}, flinkplane.OperatorMetrics{Name: "file-sink__Committer"})
				v.setJob(m)
				app := v.app("app")
				before := dbSize(b, v.db)
				b.ResetTimer()
				start := time.Now()
				const readings = 24 * 60 * 4
				for r := 0; r < readings; r++ {
					if err := v.c.RecordMetrics(ctx, app, t0.Add(time.Duration(r)*15*time.Second), health("RUNNING", 0)); err != nil {
						b.Fatal(err)
					}
				}
				elapsed := time.Since(start)
				b.StopTimer()
				after := dbSize(b, v.db)
				minutes, _, _ := v.db.MetricStorage(ctx)
				b.ReportMetric(float64(after-before)/(1<<20), "MiB/app/day")
				b.ReportMetric(float64(minutes)/1440, "series")
				b.ReportMetric(float64(elapsed.Microseconds())/readings, "µs/reading")
				// Roll the day into hours: what is left after 15 days.
				if _, err := v.db.ExpireMetrics(ctx, t0.Add(25*time.Hour), t0); err != nil {
					b.Fatal(err)
				}
				_, hours, _ := v.db.MetricStorage(ctx)
				b.ReportMetric(float64(hours), "hour-points/app/day")
				v.db.Close()
			}
		})
	}
}
