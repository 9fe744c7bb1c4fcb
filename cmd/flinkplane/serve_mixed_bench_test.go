package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The mixed-load benchmarks drive a real `flinkplane serve` process (the
// binary built from this tree, or FLINKPLANE_BENCH_BIN, e.g. an older build
// to compare with) over loopback from mixedClients concurrent clients,
// with fsync on (the store's default), on a data directory holding
// mixedApps applications in READY. The mix, per request:
//
//	reads  60 %  DescribeApplication 35, DescribeApplicationVersion (any version) 10,
//	             ListApplications 5, ListApplicationVersions 5, ListTagsForResource 5
//	writes 40 %  UpdateApplication (a new version) 25, TagResource 10,
//	             CreateApplication + DeleteApplication of the previous one 5
//
// Each client updates and tags only its own applications, so that no
// write is refused as a concurrent modification. Reported: req/s, p99 of
// reads, of writes and overall, and the server's RSS.
//
//	go test -run '^$' -bench BenchmarkMixedLoad -benchtime 20000x ./cmd/flinkplane
//	FLINKPLANE_SOAK_DURATION=30m go test -run '^$' -bench BenchmarkSoak -benchtime 1x -timeout 0 ./cmd/flinkplane
//
// bench/mixed.sh alternates an old and a new binary; bench/soak.sh runs the
// soak and prints its RSS curve.
const (
	mixedApps    = 2000
	mixedClients = 32
)

// mixedSrv is one server process on a fresh data directory.
type mixedSrv struct {
	url string
	cmd *exec.Cmd
	dir string
	// urls, if set, are several replicas: client i talks to urls[i%n]
	// (cmd is the first, whose CPU and memory are reported).
	urls []string
}

// urlFor returns the server client i talks to.
func (s *mixedSrv) urlFor(i int) string {
	if len(s.urls) > 0 {
		return s.urls[i%len(s.urls)]
	}
	return s.url
}

// mixedBinary returns FLINKPLANE_BENCH_BIN or a build of this tree.
func mixedBinary(b *testing.B) string {
	if p := os.Getenv("FLINKPLANE_BENCH_BIN"); p != "" {
		return p
	}
	bin := filepath.Join(b.TempDir(), "flinkplane")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("build: %v", err)
	}
	return bin
}

func startMixedServer(b *testing.B, extraEnv ...string) *mixedSrv {
	return startServeBinary(b, mixedApps, extraEnv...)
}

// startServeBinary runs `flinkplane serve` (mixedBinary) on a fresh data
// directory holding apps applications.
func startServeBinary(b *testing.B, apps int, extraEnv ...string) *mixedSrv {
	b.Helper()
	bin := mixedBinary(b)
	dir := b.TempDir()
	if err := benchPopulate(dir, apps); err != nil {
		b.Fatal(err)
	}
	srvPutObject(b, dir, "bench", "app.jar")
	addr := freeAddrB(b)
	cmd := exec.Command(bin, "serve")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "FLINKPLANE_ADDR="+addr, "FLINKPLANE_DATA_DIR="+dir, "FLINKPLANE_LOG_LEVEL=error",
		"FLINKPLANE_RUNTIMES_DIR="+b.TempDir(), "FLINKPLANE_SUSPEND_ON_EXIT=false")
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &mixedSrv{url: "http://" + addr, cmd: cmd, dir: dir}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i > 500 {
			b.Fatal("server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// mixedResult is what one run measured.
type mixedResult struct {
	n                 int
	elapsed           time.Duration
	reads, writes     []time.Duration
	failed            int64
	firstFailure      string
	rssStart, rssPeak int
	cpuStart, cpu     time.Duration // the server's CPU time
}

func pct(lat []time.Duration, p float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	i := int(float64(len(lat)) * p)
	if i >= len(lat) {
		i = len(lat) - 1
	}
	return float64(lat[i].Microseconds()) / 1000
}

// mixedClient is one client's view: its own applications and their
// current versions.
type mixedClient struct {
	id      int
	rng     *rand.Rand
	http    *http.Client
	url     string
	own     []string
	version map[string]int64
	created struct {
		name string
		ts   json.Number
	}
	seq int
}

// versions is the newest known version of every application (for
// DescribeApplicationVersion of any version), shared by the clients.
type mixedVersions struct {
	mu sync.Mutex
	v  map[string]int64
}

func (m *mixedVersions) get(name string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v[name]
}

func (m *mixedVersions) set(name string, v int64) {
	m.mu.Lock()
	m.v[name] = v
	m.mu.Unlock()
}

func (c *mixedClient) call(op, body string) ([]byte, int, error) {
	req, _ := http.NewRequest("POST", c.url+"/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "KinesisAnalytics_20180523."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

const mixedARN = "arn:aws:kinesisanalytics:us-east-1:000000000000:application/"

// one sends one request of the mix; it returns whether it was a write.
func (c *mixedClient) one(vers *mixedVersions) (write bool, err error) {
	r := c.rng.IntN(100)
	app := fmt.Sprintf("app-%05d", c.rng.IntN(mixedApps))
	var op, body string
	switch {
	case r < 35:
		op, body = "DescribeApplication", `{"ApplicationName":"`+app+`"}`
	case r < 45:
		v := max(vers.get(app), 1)
		op, body = "DescribeApplicationVersion", fmt.Sprintf(`{"ApplicationName":"%s","ApplicationVersionId":%d}`, app, 1+c.rng.Int64N(v))
	case r < 50:
		op, body = "ListApplications", fmt.Sprintf(`{"Limit":50,"NextToken":"app-%05d"}`, c.rng.IntN(mixedApps))
	case r < 55:
		op, body = "ListApplicationVersions", `{"ApplicationName":"`+app+`","Limit":50}`
	case r < 60:
		op, body = "ListTagsForResource", `{"ResourceARN":"`+mixedARN+app+`"}`
	case r < 85:
		write = true
		own := c.own[c.rng.IntN(len(c.own))]
		cur := c.version[own]
		op = "UpdateApplication"
		body = fmt.Sprintf(`{"ApplicationName":"%s","CurrentApplicationVersionId":%d,"ApplicationConfigurationUpdate":{"EnvironmentPropertyUpdates":{"PropertyGroups":[{"PropertyGroupId":"FlinkApplicationProperties","PropertyMap":{"rate":"%d","output":"/tmp/out"}}]}}}`,
			own, cur, c.rng.IntN(1000000))
		out, status, err := c.call(op, body)
		if err != nil || status != 200 {
			return true, fmt.Errorf("%s: %d %v %.200s", op, status, err, out)
		}
		c.version[own] = cur + 1
		vers.set(own, cur+1)
		return true, nil
	case r < 95:
		write = true
		own := c.own[c.rng.IntN(len(c.own))]
		op, body = "TagResource", fmt.Sprintf(`{"ResourceARN":"%s%s","Tags":[{"Key":"k%d","Value":"%d"}]}`, mixedARN, own, c.rng.IntN(5), c.rng.IntN(1000))
	default:
		write = true
		// Create a new application, then delete the previous one: the
		// number of applications stays the same.
		c.seq++
		name := fmt.Sprintf("tmp-%02d-%d", c.id, c.seq)
		out, status, err := c.call("CreateApplication", `{"ApplicationName":"`+name+`","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"arn:aws:iam::000000000000:role/flink",`+
			`"ApplicationConfiguration":{"ApplicationCodeConfiguration":{"CodeContentType":"ZIPFILE","CodeContent":{"S3ContentLocation":{"BucketARN":"arn:aws:s3:::bench","FileKey":"app.jar"}}}}}`)
		if err != nil || status != 200 {
			return true, fmt.Errorf("CreateApplication: %d %v %.200s", status, err, out)
		}
		var resp struct {
			ApplicationDetail struct{ CreateTimestamp json.Number }
		}
		d := json.NewDecoder(bytes.NewReader(out))
		d.UseNumber()
		if err := d.Decode(&resp); err != nil {
			return true, err
		}
		prev := c.created
		c.created.name, c.created.ts = name, resp.ApplicationDetail.CreateTimestamp
		if prev.name == "" {
			return true, nil
		}
		op, body = "DeleteApplication", fmt.Sprintf(`{"ApplicationName":"%s","CreateTimestamp":%s}`, prev.name, prev.ts)
	}
	out, status, err := c.call(op, body)
	if err != nil || status != 200 {
		return write, fmt.Errorf("%s: %d %v %.200s", op, status, err, out)
	}
	return write, nil
}

// runMixed sends n requests (n > 0) or runs for d, from mixedClients
// clients; every sampleEvery it calls sample (if set).
func runMixed(b *testing.B, s *mixedSrv, n int, d time.Duration, sampleEvery time.Duration, sample func(elapsed time.Duration, done int64)) *mixedResult {
	tr := &http.Transport{MaxIdleConns: mixedClients, MaxIdleConnsPerHost: mixedClients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	vers := &mixedVersions{v: map[string]int64{}}
	for i := 0; i < mixedApps; i++ {
		vers.v[fmt.Sprintf("app-%05d", i)] = 1
	}
	res := &mixedResult{}
	if s.cmd != nil {
		res.rssStart = vmRSS(s.cmd.Process.Pid)
		res.cpuStart = cpuTime(s.cmd)
	}
	// With FLINKPLANE_MIXED_RATE set, requests are sent at that total rate
	// (open loop) and each latency counts from the request's scheduled
	// time, so that a slow server cannot hide its delay by slowing the
	// clients; otherwise every client sends as fast as it is answered.
	var tickets chan time.Time
	if rate := envInt("FLINKPLANE_MIXED_RATE", 0); rate > 0 {
		tickets = make(chan time.Time, mixedClients)
		stopTickets := make(chan struct{})
		defer close(stopTickets)
		go func() {
			interval := time.Second / time.Duration(rate)
			next := time.Now()
			for {
				next = next.Add(interval)
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				select {
				case tickets <- next:
				case <-stopTickets:
					return
				}
			}
		}()
	}
	var next, done atomic.Int64
	var failed atomic.Int64
	var firstFailure atomic.Value
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := make(chan struct{})
	start := time.Now()
	deadline := start.Add(d)
	for w := 0; w < mixedClients; w++ {
		c := &mixedClient{id: w, rng: rand.New(rand.NewPCG(uint64(w), 42)), http: hc, url: s.urlFor(w), version: map[string]int64{}}
		for i := w; i < mixedApps; i += mixedClients {
			name := fmt.Sprintf("app-%05d", i)
			c.own = append(c.own, name)
			c.version[name] = 1
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var reads, writes []time.Duration
			for {
				if n > 0 {
					if int(next.Add(1)) > n {
						break
					}
				} else if time.Now().After(deadline) {
					break
				}
				t0 := time.Now()
				if tickets != nil {
					t0 = <-tickets
				}
				write, err := c.one(vers)
				lat := time.Since(t0)
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
				}
				if write {
					writes = append(writes, lat)
				} else {
					reads = append(reads, lat)
				}
				done.Add(1)
			}
			mu.Lock()
			res.reads = append(res.reads, reads...)
			res.writes = append(res.writes, writes...)
			mu.Unlock()
		}()
	}
	if sample != nil && sampleEvery > 0 {
		go func() {
			t := time.NewTicker(sampleEvery)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					sample(time.Since(start), done.Load())
				}
			}
		}()
	}
	peak := make(chan int)
	go func() {
		p := 0
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				peak <- p
				return
			case <-t.C:
				if s.cmd != nil {
					p = max(p, vmRSS(s.cmd.Process.Pid))
				}
			}
		}
	}()
	wg.Wait()
	res.elapsed = time.Since(start)
	close(stop)
	res.rssPeak = <-peak
	res.n = int(done.Load())
	if s.cmd != nil {
		res.cpu = cpuTime(s.cmd) - res.cpuStart
	}
	res.failed = failed.Load()
	if f, ok := firstFailure.Load().(string); ok {
		res.firstFailure = f
	}
	return res
}

func (r *mixedResult) report(b *testing.B, s *mixedSrv) {
	if r.failed > 0 {
		b.Fatalf("%d of %d requests failed; first: %s", r.failed, r.n, r.firstFailure)
	}
	all := append(append([]time.Duration(nil), r.reads...), r.writes...)
	b.ReportMetric(float64(r.n)/r.elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(all, 0.99), "p99-ms")
	b.ReportMetric(pct(r.reads, 0.99), "read-p99-ms")
	b.ReportMetric(pct(r.writes, 0.99), "write-p99-ms")
	b.ReportMetric(pct(r.reads, 0.5), "read-p50-ms")
	b.ReportMetric(pct(r.writes, 0.5), "write-p50-ms")
	if s.cmd != nil && r.n > 0 {
		// The server's own CPU per request: the figure the neighbours on a
		// shared machine change least.
		b.ReportMetric(float64(r.cpu.Microseconds())/float64(r.n), "server-CPU-µs/op")
	}
	if s.cmd != nil {
		b.ReportMetric(float64(vmRSS(s.cmd.Process.Pid))/1024, "server-RSS-MiB")
		b.ReportMetric(float64(r.rssPeak)/1024, "server-peak-RSS-MiB")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkMixedLoad sends b.N requests of the mix (use -benchtime Nx).
func BenchmarkMixedLoad(b *testing.B) {
	s := startMixedServer(b)
	b.ResetTimer()
	r := runMixed(b, s, b.N, 0, 0, nil)
	b.StopTimer()
	r.report(b, s)
	b.Logf("load average: %s", loadAvg())
}

// BenchmarkSoak runs the mix for FLINKPLANE_SOAK_DURATION (default 1m;
// the figure is 30m) and logs the server's RSS every
// FLINKPLANE_SOAK_SAMPLE (default 1/30 of the duration). It reports the
// RSS growth from the first sample after the warm-up (10 % of the run) to
// the end, in percent.
func BenchmarkSoak(b *testing.B) {
	d := envDuration("FLINKPLANE_SOAK_DURATION", time.Minute)
	every := envDuration("FLINKPLANE_SOAK_SAMPLE", d/30)
	s := startMixedServer(b)
	type point struct {
		at   time.Duration
		rss  int
		done int64
	}
	var mu sync.Mutex
	var curve []point
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := runMixed(b, s, 0, d, every, func(at time.Duration, done int64) {
			rss := vmRSS(s.cmd.Process.Pid)
			mu.Lock()
			curve = append(curve, point{at, rss, done})
			mu.Unlock()
			fmt.Fprintf(os.Stderr, "soak %8s  requests %9d  RSS %6.1f MiB\n", at.Round(time.Second), done, float64(rss)/1024)
		})
		b.StopTimer()
		r.report(b, s)
	}
	mu.Lock()
	defer mu.Unlock()
	var base point
	for _, p := range curve {
		if p.at >= d/10 {
			base = p
			break
		}
	}
	if base.rss > 0 && len(curve) > 0 {
		last := curve[len(curve)-1]
		lo, hi := base.rss, base.rss
		for _, p := range curve {
			if p.at >= base.at {
				lo, hi = min(lo, p.rss), max(hi, p.rss)
			}
		}
		b.ReportMetric(100*float64(last.rss-base.rss)/float64(base.rss), "RSS-growth-%")
		b.ReportMetric(100*float64(hi-lo)/float64(lo), "RSS-range-%")
	}
	b.Logf("load average: %s", loadAvg())
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return def
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
