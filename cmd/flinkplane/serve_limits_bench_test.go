package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The probes of issue 9 at full size, against a real `flinkplane serve`
// (this tree's build, or FLINKPLANE_BENCH_BIN) with --auth sigv4:
//
//	go test -run '^$' -bench 'BenchmarkFlood|BenchmarkSlowBody' -benchtime 1x -timeout 30m ./cmd/flinkplane
//
// BenchmarkFlood sends FLINKPLANE_FLOOD_CLIENTS (32) requests of
// FLINKPLANE_FLOOD_SIZE bytes (69 MiB) at once, unsigned, then declared
// over the limit, then with a forged signature of a known key, and
// reports how each was answered and the server's peak RSS. BenchmarkSlowBody
// opens 200 connections that send headers and one byte of body and
// reports when the server closed them. bench/flood.sh runs both.

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func BenchmarkFlood(b *testing.B) {
	size := int64(envInt("FLINKPLANE_FLOOD_SIZE", 69<<20))
	clients := envInt("FLINKPLANE_FLOOD_CLIENTS", 32)
	for _, mode := range []struct {
		name    string
		size    int64
		headers func(int) map[string]string
	}{
		{"Unsigned", size, func(int) map[string]string { return apiHeaders("CreateApplication") }},
		{"Oversized", 71 << 20, func(int) map[string]string { return apiHeaders("CreateApplication") }},
		{"Forged", size, func(int) map[string]string { return forgedHeaders("CreateApplication") }},
	} {
		b.Run(mode.name, func(b *testing.B) {
			s := startServeBinary(b, 0, "FLINKPLANE_AUTH=sigv4", "FLINKPLANE_CREDENTIALS=AKIDGOOD:goodsecret", "FLINKPLANE_REGION=eu-west-1")
			addr := strings.TrimPrefix(s.url, "http://")
			pid := s.cmd.Process.Pid
			rss0 := vmRSS(pid)
			var answers []floodAnswer
			start := time.Now()
			for i := 0; i < b.N; i++ {
				answers = append(answers, flood(addr, clients, mode.size, mode.headers, false)...)
			}
			elapsed := time.Since(start)
			counts := map[string]int{}
			for _, a := range answers {
				if a.Err != nil {
					counts["error"]++
				} else {
					counts[fmt.Sprintf("%d %s", a.Status, a.Type)]++
				}
			}
			peak := vmHWM(pid)
			time.Sleep(time.Second)
			after := vmRSS(pid)
			b.Logf("%d × %d bytes: %v in %s; server RSS %.1f MiB before, peak %.1f MiB, %.1f MiB 1 s after",
				len(answers), mode.size, counts, elapsed.Round(time.Millisecond), float64(rss0)/1024, float64(peak)/1024, float64(after)/1024)
			b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
			b.ReportMetric(float64(after)/1024, "RSS-after-MiB")
			b.ReportMetric(float64(counts["error"]), "unanswered")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func BenchmarkSlowBody(b *testing.B) {
	const n = 200
	s := startServeBinary(b, 0, "FLINKPLANE_AUTH=sigv4", "FLINKPLANE_CREDENTIALS=AKIDGOOD:goodsecret", "FLINKPLANE_REGION=eu-west-1")
	addr := strings.TrimPrefix(s.url, "http://")
	wait := time.Duration(envInt("FLINKPLANE_SLOW_WAIT", 120)) * time.Second
	for i := 0; i < b.N; i++ {
		start := time.Now()
		var mu sync.Mutex
		var closedAt []time.Duration
		var refused, open int
		var wg sync.WaitGroup
		for j := 0; j < n; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer c.Close()
				fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Target: KinesisAnalytics_20180523.ListApplications\r\n"+
					"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 100\r\n\r\n{", addr)
				c.SetReadDeadline(start.Add(wait))
				got, err := io.ReadAll(c)
				mu.Lock()
				defer mu.Unlock()
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					open++
					return
				}
				if strings.Contains(string(got), " 503 ") {
					refused++
				}
				closedAt = append(closedAt, time.Since(start))
			}()
		}
		wg.Wait()
		var last time.Duration
		for _, d := range closedAt {
			last = max(last, d)
		}
		b.Logf("%d slow-body connections: %d closed (%d of them refused at once by the per-client cap), the last after %s; %d still open after %s",
			n, len(closedAt), refused, last.Round(10*time.Millisecond), open, wait)
		b.ReportMetric(last.Seconds(), "last-closed-s")
		b.ReportMetric(float64(open), "still-open")
		b.ReportMetric(0, "ns/op")
	}
}
