package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The real-Flink tests of this package run a few at a time: most of their
// time is waiting (probation windows, checkpoints every 2 s, polls), not
// CPU. needReal makes a test parallel (t.Parallel: it runs after the
// package's sequential tests) and then holds it until one of
// FLINKPLANE_TEST_REAL_FLINK slots is free (default 2, the CI machine's
// cores; 1 runs them one at a time as before). When a slot frees, the
// waiting test expected to take longest gets it, so the long ones do not
// end up last (docs/runtimes.md lists the tests).
//
// What they share, and why that is safe: each test has its own server,
// data directory, clusters and compat cache (t.TempDir); cluster ports come
// from runtime/local's process-wide allocator (no port is handed out twice
// within five minutes); the runtimes directory is only read; fixture jars
// are built by testdata/apps/build.sh under a lock (and before the tests by
// make test); the aws CLI runs with a HOME and AWS config files of the
// test's own, and its installation (CI only, when missing) is done once.

// realFlinkSlots is the number of real-Flink tests that run at once.
func realFlinkSlots() int {
	if n, err := strconv.Atoi(os.Getenv("FLINKPLANE_TEST_REAL_FLINK")); err == nil && n > 0 {
		return n
	}
	return 2
}

// realFlinkMinutes is about how long each real-Flink test takes alone on
// the 2-core machine (go test -v, -race); tests not listed count as 1.
var realFlinkMinutes = map[string]float64{
	"TestRealFlink_MigrateState":              6.5,
	"TestRealFlink_Faults_FLINK_1_20":         5,
	"TestRealFlink_Kubernetes":                4.5,
	"TestRealFlink_Faults_FLINK_2_2":          4.5,
	"TestRealFlink_FileSinkRollback":          4,
	"TestRealFlink_Dist_RocksDBState":         3.5,
	"TestRealFlink_FLINK_1_20":                3.5,
	"TestRealFlink_Metrics":                   3,
	"TestRealFlink_Dist_CEPPattern":           2.5,
	"TestRealFlink_PojoList_Path3":            2.5,
	"TestRealFlink_Dist_SQLWindow":            2,
	"TestRealFlink_Dist_TableBridge":          2,
	"TestRealFlink_FLINK_2_2":                 2,
	"TestRealFlink_StateMapping_MatchesFlink": 2,
	"TestRealFlink_KryoGeneric_Upgrade":       1.5,
	"TestRealFlink_SQLPlanChange":             1.5,
	"TestRealFlink_PojoMap_Refused":           1,
	"TestRealFlink_S3State":                   1,

	"TestRealFlink_ReplicasKubernetes_KillDuringUpgrade": 3.5,
}

func realMinutes(name string) float64 {
	if m, ok := realFlinkMinutes[name]; ok {
		return m
	}
	return 1
}

// realScheduler hands out the slots.
type realScheduler struct {
	mu      sync.Mutex
	free    int
	start   time.Time // when the first test asked
	waiting []*realWaiter
}

type realWaiter struct {
	name  string
	ready chan struct{}
}

var realSched = &realScheduler{free: -1}

// gather is how long the first slots wait for the other parallel tests to
// ask (they are released together once the sequential tests are done), so
// that the longest start first.
const gather = 200 * time.Millisecond

// runRealFlink makes t parallel and waits for a slot, released at t's end.
func runRealFlink(t *testing.T) {
	t.Helper()
	t.Parallel()
	s := realSched
	w := &realWaiter{name: t.Name(), ready: make(chan struct{})}
	s.mu.Lock()
	if s.free < 0 {
		s.free = realFlinkSlots()
	}
	s.waiting = append(s.waiting, w)
	if s.start.IsZero() {
		s.start = time.Now()
		time.AfterFunc(gather, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.grantLocked()
		})
	} else if time.Since(s.start) >= gather {
		s.grantLocked()
	}
	s.mu.Unlock()
	waited := time.Now()
	<-w.ready
	if d := time.Since(waited); d > time.Second {
		t.Logf("waited %s for a real-Flink slot (%d at once)", d.Round(time.Second), realFlinkSlots())
	}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.free++
		s.grantLocked()
	})
}

// grantLocked gives free slots to the waiting tests, longest first (then
// in the order they asked).
func (s *realScheduler) grantLocked() {
	for s.free > 0 && len(s.waiting) > 0 {
		best := 0
		for i, w := range s.waiting {
			if realMinutes(w.name) > realMinutes(s.waiting[best].name) {
				best = i
			}
		}
		w := s.waiting[best]
		s.waiting = slices.Delete(s.waiting, best, best+1)
		s.free--
		close(w.ready)
	}
}

// raiseParallel lets every real-Flink test pass t.Parallel at once (the
// slots above bound them), unless -test.parallel was given: its default,
// GOMAXPROCS, would otherwise be the bound on a machine with fewer cores
// than slots. Called by TestMain after the flags are parsed.
func raiseParallel() {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		flag.Set("test.parallel", fmt.Sprint(max(len(realFlinkMinutes)+4, realFlinkSlots())))
	}
}

// The slots go to the longest waiting test first, then in the order of
// asking; never more than the slots at once.
func TestRealScheduler_LongestFirst(t *testing.T) {
	s := &realScheduler{free: 2}
	ask := func(name string) *realWaiter {
		w := &realWaiter{name: name, ready: make(chan struct{})}
		s.waiting = append(s.waiting, w)
		return w
	}
	granted := func(ws ...*realWaiter) (names []string) {
		for _, w := range ws {
			select {
			case <-w.ready:
				names = append(names, w.name)
			default:
			}
		}
		return names
	}
	short, other, faults, s3, rollback := ask("TestRealFlink_PojoMap_Refused"), ask("TestSomethingNew"),
		ask("TestRealFlink_Faults_FLINK_1_20"), ask("TestRealFlink_S3State"), ask("TestRealFlink_FileSinkRollback")
	all := []*realWaiter{short, other, faults, s3, rollback}
	s.grantLocked()
	if got := granted(all...); !slices.Equal(got, []string{faults.name, rollback.name}) {
		t.Fatalf("first granted %v", got)
	}
	s.grantLocked()
	if len(granted(all...)) != 2 || s.free != 0 {
		t.Fatalf("more than the slots: %v, %d free", granted(all...), s.free)
	}
	s.free++ // one ends: of the three 1-minute tests, the first to ask
	s.grantLocked()
	if got := granted(short, other, s3); !slices.Equal(got, []string{short.name}) {
		t.Fatalf("then granted %v", got)
	}
}
