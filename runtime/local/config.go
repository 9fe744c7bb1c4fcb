package local

import (
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime"
)

// Memory layout (see docs/runtimes.md). JobManager: heap JobManagerHeap,
// off-heap 64m, metaspace 160m, overhead 96m. TaskManager: framework heap
// 64m, task heap TaskManagerTaskHeap per slot, framework off-heap 64m,
// network 64m, managed 32m per slot, metaspace 192m, overhead 96m. All
// components are set explicitly so no BashJavaUtils run is needed and the
// JVM flags follow from them.
const (
	jmOffHeap     = 64
	jmMetaspace   = 160
	jmOverhead    = 96
	tmFwHeap      = 64
	tmFwOffHeap   = 64
	tmNetwork     = 64
	tmManagedSlot = 32
	tmMetaspace   = 192
	tmOverhead    = 96
	// initialHeapMB is -Xms: the heap starts small and grows to -Xmx on
	// demand, so idle clusters stay small (flink-dist sets -Xms = -Xmx).
	initialHeapMB = 64
)

func mb(s string) int {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := 1
	switch {
	case strings.HasSuffix(s, "g"):
		mult, s = 1024, strings.TrimSuffix(s, "g")
	case strings.HasSuffix(s, "m"):
		s = strings.TrimSuffix(s, "m")
	}
	n, _ := strconv.Atoi(s)
	return n * mult
}

func (d *Driver) jmHeapMB() int { return max(mb(d.JobManagerHeap), 128) }
func (d *Driver) tmTaskHeapMB(slots int) int {
	return max(mb(d.TaskManagerTaskHeap), 64) * slots
}

// clusterConfig returns the Flink configuration of one cluster.
func (d *Driver) clusterConfig(spec flinkplane.ClusterSpec, info clusterInfo, dir string, parallelism int) map[string]string {
	// dir is <data-dir>/clusters/<ApplicationID>/<cluster-id>.
	tmp := filepath.Join(dir, "tmp")
	slots := info.Slots
	c := map[string]string{
		"jobmanager.rpc.address":                 "127.0.0.1",
		"jobmanager.rpc.port":                    strconv.Itoa(info.RPCPort),
		"jobmanager.bind-host":                   "127.0.0.1",
		"taskmanager.bind-host":                  "127.0.0.1",
		"taskmanager.host":                       "127.0.0.1",
		"rest.address":                           "127.0.0.1",
		"rest.bind-address":                      "127.0.0.1",
		"rest.port":                              strconv.Itoa(info.RESTPort),
		"blob.server.port":                       strconv.Itoa(info.BlobPort),
		"taskmanager.rpc.port":                   "0",
		"taskmanager.data.port":                  "0",
		"metrics.internal.query-service.port":    "0",
		"taskmanager.numberOfTaskSlots":          strconv.Itoa(slots),
		"parallelism.default":                    strconv.Itoa(parallelism),
		"high-availability.type":                 "NONE",
		"jobmanager.execution.failover-strategy": "region",
		"io.tmp.dirs":                            tmp,
		"web.tmpdir":                             tmp,
		"web.upload.dir":                         tmp,
		"web.submit.enable":                      "true",
		"web.cancel.enable":                      "true",
		"cluster.io-pool.size":                   "4",
		// TaskManagers start alongside the JobManager; Flink retries an
		// unresolvable ResourceManager after this delay (default 10 s).
		"cluster.registration.error-delay": "500",
		// Job metrics over REST are cached this long (Flink: 10 s).
		"metrics.fetcher.update-interval": "2000",
		// A job's details over REST (its status, every task's state) come
		// from an execution graph cache kept this long, which is also the
		// web UI's refresh interval (Flink: 3 s): a new job was seen with
		// all its tasks running 3 s after they ran, and every probation
		// started that much later.
		"web.refresh-interval": "500ms",
		// The REST endpoint's timeout for what it asks of the cluster's
		// processes (Flink: 10 min). The metric fetcher starts a fetch
		// only when the previous one has ended, and asks every
		// TaskManager's metric query service with this timeout: a
		// TaskManager killed while it answered left every job metric
		// (numRestarts too) frozen for 10 minutes. 10 s is Flink's own
		// RPC timeout (pekko.ask.timeout); flinkplane's REST client gives
		// up after 60 s anyway; savepoints and other asynchronous
		// operations are not bound by it, jar runs submit with
		// client.timeout.
		"web.timeout": "10000",
		// Completed checkpoints outlive a cancelled or failed job, so that
		// a recovery (or a stop whose savepoint failed) has a restore point.
		"execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
		// Two completed checkpoints are kept (Flink: one), so that the
		// newest one can be read while the job runs on (the compatibility
		// check of an update reads it) without the next one subsuming and
		// deleting it under the reader. 2.x key, then 1.x's.
		"execution.checkpointing.num-retained": "2",
		"state.checkpoints.num-retained":       "2",
		// The JobManager notices a dead TaskManager after two failed
		// heartbeat RPCs (heartbeat.rpc-failure-threshold): 4 s instead of
		// 20 s. The timeout for a hung one stays Flink's 50 s.
		"heartbeat.interval": "2000",

		"jobmanager.memory.heap.size":                fmt.Sprintf("%dm", d.jmHeapMB()),
		"jobmanager.memory.off-heap.size":            fmt.Sprintf("%dm", jmOffHeap),
		"jobmanager.memory.jvm-metaspace.size":       fmt.Sprintf("%dm", jmMetaspace),
		"jobmanager.memory.jvm-overhead.min":         fmt.Sprintf("%dm", jmOverhead),
		"jobmanager.memory.jvm-overhead.max":         fmt.Sprintf("%dm", jmOverhead),
		"taskmanager.cpu.cores":                      strconv.Itoa(slots),
		"taskmanager.memory.framework.heap.size":     fmt.Sprintf("%dm", tmFwHeap),
		"taskmanager.memory.task.heap.size":          fmt.Sprintf("%dm", d.tmTaskHeapMB(slots)),
		"taskmanager.memory.framework.off-heap.size": fmt.Sprintf("%dm", tmFwOffHeap),
		"taskmanager.memory.task.off-heap.size":      "0m",
		"taskmanager.memory.network.min":             fmt.Sprintf("%dm", tmNetwork),
		"taskmanager.memory.network.max":             fmt.Sprintf("%dm", tmNetwork),
		"taskmanager.memory.managed.size":            fmt.Sprintf("%dm", tmManagedSlot*slots),
		"taskmanager.memory.jvm-metaspace.size":      fmt.Sprintf("%dm", tmMetaspace),
		"taskmanager.memory.jvm-overhead.min":        fmt.Sprintf("%dm", tmOverhead),
		"taskmanager.memory.jvm-overhead.max":        fmt.Sprintf("%dm", tmOverhead),
	}
	if cp := spec.Checkpoint; cp.Enabled && cp.Interval > 0 {
		c["execution.checkpointing.interval"] = fmt.Sprintf("%dms", cp.Interval.Milliseconds())
		c["execution.checkpointing.min-pause"] = fmt.Sprintf("%dms", cp.MinPauseBetweenCheckpoints.Milliseconds())
		c["execution.checkpointing.mode"] = "EXACTLY_ONCE"
	}
	for k, v := range d.stateConfig(spec, info, dir) {
		c[k] = v
	}
	for k, v := range d.ExtraConfig {
		c[k] = v
	}
	return c
}

// writeConfig writes conf/config.yaml (flat keys, valid YAML; Flink 1.19+)
// or conf/flink-conf.yaml (1.18).
func writeConfig(dir string, id flinkplane.RuntimeID, c map[string]string) error {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	major, minor, _ := id.Version()
	legacy := major == 1 && minor < 19
	var b strings.Builder
	b.WriteString("# Written by flinkplane for one cluster; see docs/runtimes.md.\n")
	for _, k := range keys {
		v := c[k]
		if !legacy && needsQuote(v) {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(&b, "%s: %s\n", k, v)
	}
	name := "config.yaml"
	if legacy {
		name = "flink-conf.yaml"
	}
	// 0600: it holds the password of the cluster's TLS key stores (tls.go).
	return os.WriteFile(filepath.Join(dir, "conf", name), []byte(b.String()), 0o600)
}

func needsQuote(v string) bool {
	if v == "" {
		return true
	}
	return strings.ContainsAny(v, ":#{}[],&*!|>'\"%@` ") || strings.HasPrefix(v, "-")
}

func (d *Driver) javaFlags(id flinkplane.RuntimeID) []string {
	return runtime.JavaOpens(id)
}

func (d *Driver) jmJVMArgs() []string {
	h := d.jmHeapMB()
	return []string{
		fmt.Sprintf("-Xmx%dm", h), fmt.Sprintf("-Xms%dm", min(h, initialHeapMB)),
		fmt.Sprintf("-XX:MaxMetaspaceSize=%dm", jmMetaspace),
		fmt.Sprintf("-XX:MaxDirectMemorySize=%dm", jmOffHeap),
	}
}

func (d *Driver) tmJVMArgs(slots int) []string {
	heap := tmFwHeap + d.tmTaskHeapMB(slots)
	return []string{
		fmt.Sprintf("-Xmx%dm", heap), fmt.Sprintf("-Xms%dm", min(heap, initialHeapMB)),
		fmt.Sprintf("-XX:MaxMetaspaceSize=%dm", tmMetaspace),
		fmt.Sprintf("-XX:MaxDirectMemorySize=%dm", tmFwOffHeap+tmNetwork),
	}
}

// freePorts picks n distinct free TCP ports on 127.0.0.1 below the
// kernel's ephemeral range (ip_local_port_range), so that no process binding
// port 0 (other clusters' TaskManagers, outgoing connections) can take one
// between the check and the JobManager's bind. Each candidate is checked by
// listening on it. Falls back to ephemeral ports (listen on :0). Start
// retries once with fresh ports if a JVM still loses a race.
func freePorts(n int) ([]int, error) {
	lo, hi := 20000, ephemeralLow()
	if hi-lo < 1000 {
		lo, hi = 0, 0
	}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	recentMu.Lock()
	defer recentMu.Unlock()
	for p, at := range recent {
		if time.Since(at) > 5*time.Minute {
			delete(recent, p)
		}
	}
	for tries := 0; len(ports) < n && tries < 200 && hi > lo; tries++ {
		p := lo + mrand.IntN(hi-lo)
		if _, taken := recent[p]; taken {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, p)
		recent[p] = time.Now()
	}
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// recent holds ports handed out in the last minutes, so that concurrent
// Starts in this process never pick the same port before their JVMs bind.
var (
	recentMu sync.Mutex
	recent   = map[int]time.Time{}
)

// ephemeralLow returns the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}

// log4jProperties is the log configuration of every JVM: a size-rolled file
// ${sys:log.file} (kept under the cluster's log/ directory).
const log4jProperties = `# Written by flinkplane.
monitorInterval=30
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
logger.pekko.name = org.apache.pekko
logger.pekko.level = INFO
logger.akka.name = akka
logger.akka.level = INFO
logger.kafka.name= org.apache.kafka
logger.kafka.level = INFO
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = WARN
logger.zookeeper.name = org.apache.zookeeper
logger.zookeeper.level = WARN
logger.shaded_zookeeper.name = org.apache.flink.shaded.zookeeper3
logger.shaded_zookeeper.level = WARN
appender.main.name = MainAppender
appender.main.type = RollingFile
appender.main.append = true
appender.main.fileName = ${sys:log.file}
appender.main.filePattern = ${sys:log.file}.%i
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
appender.main.policies.type = Policies
appender.main.policies.size.type = SizeBasedTriggeringPolicy
appender.main.policies.size.size = 20MB
appender.main.strategy.type = DefaultRolloverStrategy
appender.main.strategy.max = 5
logger.netty.name = org.jboss.netty.channel.DefaultChannelPipeline
logger.netty.level = OFF
`
