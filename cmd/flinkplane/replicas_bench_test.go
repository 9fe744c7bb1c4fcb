package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/internal/pgtest"
	"github.com/flinkplane/flinkplane/postgres"
)

// Replicas on PostgreSQL against one server on SQLite, with the same load
// generator (runMixed: the mix of BenchmarkMixedLoad, 32 clients, spread
// over the replicas), both durable: SQLite's synchronous=FULL, and a
// PostgreSQL server of its own with fsync on. Run both in one invocation
// and compare the ratio (the machine is shared):
//
//	go test -run '^$' -bench 'BenchmarkReplicasMixedLoad' -benchtime 20000x -count 2 ./cmd/flinkplane
//	go test -run '^$' -bench 'BenchmarkReplicasFailover' -benchtime 3x ./cmd/flinkplane
func BenchmarkReplicasMixedLoad(b *testing.B) {
	b.Run("SQLite-1", func(b *testing.B) {
		s := startMixedServer(b)
		b.ResetTimer()
		r := runMixed(b, s, b.N, 0, 0, nil)
		b.StopTimer()
		r.report(b, s)
	})
	b.Run("Postgres-3", func(b *testing.B) {
		s := startPostgresReplicas(b, 3)
		b.ResetTimer()
		r := runMixed(b, s, b.N, 0, 0, nil)
		b.StopTimer()
		r.report(b, s)
	})
	b.Run("Postgres-1", func(b *testing.B) {
		s := startPostgresReplicas(b, 1)
		b.ResetTimer()
		r := runMixed(b, s, b.N, 0, 0, nil)
		b.StopTimer()
		r.report(b, s)
	})
	b.Logf("load average: %s", loadAvg())
}

// startPostgresReplicas starts a durable PostgreSQL server of its own,
// fills a database with mixedApps applications and runs n `flinkplane
// serve` processes (mixedBinary) on it, sharing one data directory.
func startPostgresReplicas(b *testing.B, n int) *mixedSrv {
	b.Helper()
	pg, err := pgtest.StartServer(true)
	if err != nil {
		b.Fatalf("PostgreSQL: %v", err)
	}
	b.Cleanup(pg.Stop)
	url := pg.NewDatabase(b)
	db := postgres.New(url)
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	err = benchPopulateStore(db, mixedApps)
	db.Close()
	if err != nil {
		b.Fatal(err)
	}
	bin := mixedBinary(b)
	dir := b.TempDir()
	srvPutObject(b, dir, "bench", "app.jar")
	s := &mixedSrv{dir: dir}
	for i := 0; i < n; i++ {
		addr := freeAddrB(b)
		cmd := exec.Command(bin, "serve")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Env = append(os.Environ(), "FLINKPLANE_ADDR="+addr, "FLINKPLANE_DATA_DIR="+dir, "FLINKPLANE_LOG_LEVEL=error",
			"FLINKPLANE_RUNTIMES_DIR="+b.TempDir(), "FLINKPLANE_SUSPEND_ON_EXIT=false", "FLINKPLANE_STORE="+url,
			fmt.Sprintf("FLINKPLANE_REPLICA_ID=r%d", i))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for j := 0; ; j++ {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			if j > 500 {
				b.Fatal("server did not start")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if i == 0 {
			s.cmd, s.url = cmd, "http://"+addr
		}
		s.urls = append(s.urls, "http://"+addr)
	}
	return s
}

// BenchmarkReplicasFailover measures a takeover: three replicas with the
// default lease TTL (FLINKPLANE_LEASE_TTL overrides), the one driving an
// upgrade is SIGKILLed while it waits for the new job (WAIT_RUNNING), and
// the time from the kill until the upgrade is done on another replica is
// reported (the fake Flink's remaining work takes milliseconds).
func BenchmarkReplicasFailover(b *testing.B) {
	ttl := engine.DefaultLeaseTTL
	if v := os.Getenv("FLINKPLANE_LEASE_TTL"); v != "" {
		ttl, _ = time.ParseDuration(v)
	}
	var total, worst time.Duration
	for i := 0; i < b.N; i++ {
		rc := startReplicas(b, 3, "FLINKPLANE_TEST_HOLD_STEP=UpdateApplication:"+engine.StepWaitRunning,
			"FLINKPLANE_TEST_HOLD_ONCE="+filepath.Join(b.TempDir(), "held"), "FLINKPLANE_LEASE_TTL="+ttl.String())
		c := rc.client(-1)
		name := "orders"
		srvCreateApp(b, c, name, nil)
		out, err := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String(name)})
		if err != nil {
			b.Fatal(err)
		}
		srvWaitOperation(b, c, name, aws.ToString(out.OperationId))
		upd, err := c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(name), CurrentApplicationVersionId: aws.Int64(1),
			RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22})
		if err != nil {
			b.Fatal(err)
		}
		holder := rc.waitAt("UpdateApplication " + engine.StepWaitRunning)
		rc.replicas[holder].kill()
		killed := time.Now()
		c = rc.client(holder)
		deadline := time.Now().Add(3 * ttl)
		for {
			op, err := c.DescribeApplicationOperation(sctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String(name), OperationId: upd.OperationId})
			if err != nil {
				b.Fatal(err)
			}
			if s := op.ApplicationOperationInfoDetails.OperationStatus; s != types.OperationStatusInProgress {
				if s != types.OperationStatusSuccessful {
					b.Fatalf("update %s", s)
				}
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("not taken over")
			}
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(killed)
		total += took
		worst = max(worst, took)
		for _, r := range rc.replicas {
			r.kill()
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "failover-s")
	b.ReportMetric(worst.Seconds(), "worst-failover-s")
	b.ReportMetric(ttl.Seconds(), "lease-ttl-s")
	b.ReportMetric(0, "ns/op")
}
