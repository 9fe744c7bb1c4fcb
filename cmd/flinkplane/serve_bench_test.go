package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/sqlite"
)

// The benchmarks run the server as a child process (this test binary in
// child mode) on a data directory holding benchApps applications, and drive
// it from benchClients concurrent clients over loopback. They report
// requests/s, p50/p99 latency and the server's resident memory (VmRSS).
//
//	go test -run '^$' -bench . -benchtime 20000x ./cmd/flinkplane
const (
	benchApps    = 10000
	benchClients = 64
)

var benchSrv struct {
	once sync.Once
	warm sync.Once
	err  error
	url  string
	cmd  *exec.Cmd
	dir  string
}

func benchServer(b *testing.B) string {
	benchSrv.once.Do(func() {
		benchSrv.dir, benchSrv.err = os.MkdirTemp("", "flinkplane-bench-")
		if benchSrv.err != nil {
			return
		}
		if benchSrv.err = benchPopulate(benchSrv.dir, benchApps); benchSrv.err != nil {
			return
		}
		addr := freeAddrB(b)
		cmd := exec.Command(os.Args[0])
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the benchmark
		cmd.Env = append(os.Environ(), "FLINKPLANE_TEST_CHILD=1", "FLINKPLANE_ADDR="+addr, "FLINKPLANE_DATA_DIR="+benchSrv.dir,
			"FLINKPLANE_TEST_DRIVER_STATE="+filepath.Join(benchSrv.dir, "driver.json"), "FLINKPLANE_LOG_LEVEL=error")
		if benchSrv.err = cmd.Start(); benchSrv.err != nil {
			return
		}
		benchSrv.cmd = cmd
		benchSrv.url = "http://" + addr
		for i := 0; i < 500; i++ {
			if resp, err := http.Post(benchSrv.url+"/", "application/x-amz-json-1.1", nil); err == nil {
				resp.Body.Close()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		benchSrv.err = fmt.Errorf("benchmark server did not start")
	})
	if benchSrv.err != nil {
		b.Fatal(benchSrv.err)
	}
	return benchSrv.url
}

// stopBenchServer is called by TestMain after the run.
func stopBenchServer() {
	if benchSrv.cmd != nil {
		benchSrv.cmd.Process.Kill()
		benchSrv.cmd.Wait()
	}
	if benchSrv.dir != "" {
		os.RemoveAll(benchSrv.dir)
	}
}

func freeAddrB(b *testing.B) string {
	l, err := srvListen()
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// populate writes n applications straight into the store, in batches.
func benchPopulate(dir string, n int) error {
	db := sqlite.New(dir)
	if err := db.Open(); err != nil {
		return err
	}
	defer db.Close()
	return benchPopulateStore(db, n)
}

// benchPopulateStore writes n applications into a store.
func benchPopulateStore(db flinkplane.Store, n int) error {
	now := time.Now().UTC()
	cfg := flinkplane.DefaultConfig()
	cfg.RuntimeEnvironment = flinkplane.RuntimeFlink120
	cfg.ServiceExecutionRole = "arn:aws:iam::000000000000:role/flink"
	cfg.Code = flinkplane.CodeConfig{ContentType: flinkplane.CodeZipFile, S3: &flinkplane.S3ContentLocation{BucketARN: "arn:aws:s3:::bench", FileKey: "app.jar"}}
	cfg.EnvironmentProperties = []flinkplane.PropertyGroup{{PropertyGroupID: "FlinkApplicationProperties", PropertyMap: map[string]string{"rate": "100", "output": "/tmp/out"}}}
	for start := 0; start < n; start += 1000 {
		err := db.Update(context.Background(), func(tx flinkplane.Tx) error {
			for i := start; i < min(start+1000, n); i++ {
				name := fmt.Sprintf("app-%05d", i)
				if err := tx.CreateApplication(&flinkplane.Application{Name: name, ID: fmt.Sprintf("id%05d", i),
					ARN: "arn:aws:kinesisanalytics:us-east-1:000000000000:application/" + name, Status: flinkplane.StatusReady,
					VersionID: 1, RuntimeEnvironment: cfg.RuntimeEnvironment, ApplicationMode: "STREAMING",
					ConditionalToken: strconv.Itoa(i), CreateTime: now, UpdateTime: now}); err != nil {
					return err
				}
				if err := tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: name, VersionID: 1, CreateTime: now,
					Status: flinkplane.StatusReady, Config: cfg}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// load runs b.N requests from benchClients clients; body(i) gives the
// i-th request body.
func benchLoad(b *testing.B, url, op string, body func(i int) []byte) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: benchClients, MaxIdleConnsPerHost: benchClients, DisableCompression: true}}
	benchWarm(b, client, url)
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	cpu0 := cpuTime(benchSrv.cmd)
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < benchClients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				req, _ := http.NewRequest("POST", url+"/", bytes.NewReader(body(i)))
				req.Header.Set("X-Amz-Target", "KinesisAnalytics_20180523."+op)
				req.Header.Set("Content-Type", "application/x-amz-json-1.1")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 {
						failed.Add(1)
					}
				} else {
					failed.Add(1)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d requests failed", f)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[b.N/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(b.N-1, b.N*99/100)].Microseconds())/1000, "p99-ms")
	if benchSrv.cmd == nil {
		return
	}
	if cpu := cpuTime(benchSrv.cmd) - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "server-CPU-µs/op")
	}
	if rss := vmRSS(benchSrv.cmd.Process.Pid); rss > 0 {
		b.ReportMetric(float64(rss)/1024, "server-RSS-MiB")
	}
}

// warm describes every application once, so that the measurement sees the
// server's steady state (its read cache filled), not its first minute.
func benchWarm(b *testing.B, client *http.Client, url string) {
	benchSrv.warm.Do(func() {
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < benchApps; i += 8 {
					req, _ := http.NewRequest("POST", url+"/", strings.NewReader(fmt.Sprintf(`{"ApplicationName":"app-%05d"}`, i)))
					req.Header.Set("X-Amz-Target", "KinesisAnalytics_20180523.DescribeApplication")
					req.Header.Set("Content-Type", "application/x-amz-json-1.1")
					if resp, err := client.Do(req); err == nil {
						resp.Body.Close()
					}
				}
			}()
		}
		wg.Wait()
	})
}

// vmRSS returns a process's resident memory in KiB.
func vmRSS(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

func BenchmarkDescribeApplication(b *testing.B) {
	url := benchServer(b)
	bodies := make([][]byte, benchApps)
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf(`{"ApplicationName":"app-%05d"}`, i))
	}
	benchLoad(b, url, "DescribeApplication", func(i int) []byte { return bodies[(i*7919)%benchApps] })
}

func BenchmarkListApplications(b *testing.B) {
	url := benchServer(b)
	bodies := make([][]byte, benchApps/50)
	for i := range bodies {
		if i == 0 {
			bodies[i] = []byte(`{"Limit":50}`)
		} else {
			bodies[i] = []byte(fmt.Sprintf(`{"Limit":50,"NextToken":"app-%05d"}`, i*50-1))
		}
	}
	benchLoad(b, url, "ListApplications", func(i int) []byte { return bodies[i%len(bodies)] })
}

// cpuTime returns the user+system CPU time of the server process.
func cpuTime(cmd *exec.Cmd) time.Duration {
	if cmd == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.Atoi(f[11])
	k, _ := strconv.Atoi(f[12])
	return time.Duration(u+k) * (time.Second / 100) // clock ticks (USER_HZ = 100)
}
