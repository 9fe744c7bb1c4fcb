package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"github.com/flinkplane/flinkplane/internal/zipdir"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime"
)

// helperSource is the Java helper (java/StateMigrate.java), compiled per
// runtime against the runtime's jars and its State Processor API.
//
//go:embed java/StateMigrate.java
var helperSource []byte

const helperClass = "dev.flinkplane.migrate.StateMigrate"

// keyIteratorSource is the State Processor API's key iterator as FLINK-37109
// fixed it (java/keys/MultiStateKeyIterator.java): compiled into the helper
// of a 1.x runtime, ahead of the State Processor API on the class path, it
// replaces the iterator of releases that delete every key they read (1.20.0,
// the source side's; see the file). It compiles only against a runtime whose
// state backends have the fix's other half (1.20.5 has); without it the
// helper runs with the State Processor API's own.
//
//go:embed java/keys/MultiStateKeyIterator.java
var keyIteratorSource []byte

// helper is the compiled helper of one runtime and the class path it runs
// with (besides the user jar).
type helper struct {
	runtime   flinkplane.RuntimeID
	java      string
	classpath []string // helper jar, runtime lib/, State Processor API
}

// helper returns the helper of a runtime, compiling it with javac into the
// cache directory at first use (about 3 s).
func (m *Migrator) helper(ctx context.Context, id flinkplane.RuntimeID) (*helper, error) {
	if !id.IsFlink() {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "%q is not a Flink runtime.", id)
	}
	dir := m.RuntimesDir
	if dir == "" {
		dir = runtime.DirFromEnv()
	}
	man, err := runtime.ReadManifest(dir, id)
	if err != nil {
		return nil, err
	}
	jars, err := runtime.Classpath(dir, man)
	if err != nil {
		return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "Runtime %s is damaged: %v. Run: flinkplane runtime install %s", id, err, id)
	}
	spa, err := runtime.ToolClasspath(dir, id, runtime.ToolStateProcessor)
	if err != nil {
		return nil, err
	}
	java := m.Java
	if java == "" {
		java = runtime.JavaCommand()
	}
	javaPath, err := exec.LookPath(java)
	if err != nil {
		return nil, flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "No Java to run the state migration: %v.", err)
	}
	cp := append(append([]string{}, jars...), spa...)
	h := sha256.New()
	h.Write(helperSource)
	h.Write(keyIteratorSource)
	for _, j := range cp {
		st, err := os.Stat(j)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(h, "%s %d %d\n", j, st.Size(), st.ModTime().UnixNano())
	}
	cache := m.CacheDir
	if cache == "" {
		cache = DefaultCacheDir()
	}
	out := filepath.Join(cache, string(id)+"-"+hex.EncodeToString(h.Sum(nil))[:16])
	jar := filepath.Join(out, "migrate.jar")
	hp := &helper{runtime: id, java: javaPath, classpath: append([]string{jar}, cp...)}

	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := os.Stat(jar); err == nil {
		return hp, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(cache, ".build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "StateMigrate.java")
	if err := os.WriteFile(src, helperSource, 0o644); err != nil {
		return nil, err
	}
	classes := filepath.Join(tmp, "classes")
	cmd := exec.CommandContext(ctx, javaTool(javaPath, "javac"), "--release", "11", "-nowarn", "-encoding", "UTF-8",
		"-cp", strings.Join(cp, string(os.PathListSeparator)), "-d", classes, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compile the state migration helper for %s with javac (a JDK is needed): %v: %s", id, err, bytes.TrimSpace(b))
	}
	if major, _, _ := id.Version(); major == 1 {
		if err := compileKeyIterator(ctx, javaPath, cp, tmp, classes); err != nil {
			return nil, err
		}
	}
	if err := zipdir.Write(classes, filepath.Join(tmp, "migrate.jar")); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	if err := os.Rename(filepath.Join(tmp, "migrate.jar"), jar); err != nil {
		return nil, err
	}
	return hp, nil
}

// jvmRun is one run of the helper.
type jvmRun struct {
	Seconds float64
	PeakRSS int64 // bytes (getrusage: at least the parent's size at fork; the helper reports its own)
	Output  string
}

// run runs the helper in mode with the given properties and user jar and
// returns its JSON answer. The JVM has its own process group (killed with
// everything it started), dies with flinkplane (procAttr) and has its own
// temporary directory.
func (m *Migrator) run(ctx context.Context, h *helper, mode string, props map[string]string, userJar, work string, inspect bool) ([]byte, jvmRun, error) {
	var in strings.Builder
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for _, k := range keys {
		in.WriteString(escapeProperty(k) + "=" + escapeProperty(props[k]) + "\n")
	}
	inFile := filepath.Join(work, mode+".properties")
	outFile := filepath.Join(work, mode+".json")
	if err := os.WriteFile(inFile, []byte(in.String()), 0o600); err != nil {
		return nil, jvmRun{}, err
	}
	tmpDir := filepath.Join(work, "tmp-"+mode)
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return nil, jvmRun{}, err
	}
	heap := m.Heap
	if heap == "" {
		heap = DefaultHeap
	}
	args := []string{"-XX:+UseSerialGC", "-XX:-UsePerfData", "-Xmx" + heap, "-Dlog4j2.statusLoggerLevel=OFF"}
	if inspect {
		args = append(args, "-XX:TieredStopAtLevel=1") // a short run: start fast
	}
	// flink-dist's Java flags, as the cluster JVMs and the dry compile
	// run with: the reflection Kryo and the POJO serializers do behaves as
	// on the cluster.
	args = append(args, runtime.JavaOpens(h.runtime)...)
	cp := append(append([]string{}, h.classpath...), userJar)
	args = append(args, "-Djava.io.tmpdir="+tmpDir, "-cp", strings.Join(cp, string(os.PathListSeparator)), helperClass, mode, inFile, outFile)

	timeout := m.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(rctx, h.java, args...)
	cmd.Dir = tmpDir
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var output tailBuffer
	output.max = 32 << 10
	cmd.Stdout, cmd.Stderr = &output, &output
	runErr := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // anything left in the group
	}
	r := jvmRun{Seconds: time.Since(start).Seconds(), Output: string(output.buf)}
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.PeakRSS = ru.Maxrss * 1024 // kilobytes on Linux
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, r, err
	}
	if rctx.Err() != nil {
		return nil, r, flinkplane.Errorf(flinkplane.EINTERNAL, "The state migration's %s on %s did not finish within %s.", mode, h.runtime, timeout)
	}
	b, err := os.ReadFile(outFile)
	if err != nil {
		return nil, r, fmt.Errorf("state migration %s on %s: %v; output: %s", mode, h.runtime, runErr, lastLines(r.Output, 20))
	}
	return b, r, nil
}

// compileKeyIterator compiles keyIteratorSource into classes when the
// runtime's class path has what it needs (KeyedStateBackend.getKeys of a
// list of states); when it has not, the helper goes without it.
func compileKeyIterator(ctx context.Context, javaPath string, cp []string, tmp, classes string) error {
	src := filepath.Join(tmp, "keys", "MultiStateKeyIterator.java")
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(src, keyIteratorSource, 0o644); err != nil {
		return err
	}
	out := filepath.Join(tmp, "keys-classes")
	cmd := exec.CommandContext(ctx, javaTool(javaPath, "javac"), "--release", "11", "-nowarn", "-encoding", "UTF-8",
		"-cp", strings.Join(cp, string(os.PathListSeparator)), "-d", out, src)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil // an older runtime: the State Processor API's own iterator
	}
	rel := filepath.Join("org", "apache", "flink", "state", "api", "input")
	if err := os.MkdirAll(filepath.Join(classes, rel), 0o755); err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(out, rel, "MultiStateKeyIterator*.class"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(classes, rel, filepath.Base(f)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// javaTool returns a JDK tool next to the java command.
func javaTool(java, tool string) string {
	if p := filepath.Join(filepath.Dir(java), tool); fileExists(p) {
		return p
	}
	return tool
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// escapeProperty escapes a java.util.Properties key or value.
func escapeProperty(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\' || r == '=' || r == ':' || r == '#' || r == '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == ' ' && i == 0:
			b.WriteString("\\ ")
		case r == '\n':
			b.WriteString("\\n")
		case r == '\r':
			b.WriteString("\\r")
		case r == '\t':
			b.WriteString("\\t")
		case r > 0x7e || r < 0x20:
			if r > 0xffff {
				for _, u := range utf16Pair(r) {
					fmt.Fprintf(&b, "\\u%04x", u)
				}
			} else {
				fmt.Fprintf(&b, "\\u%04x", r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func utf16Pair(r rune) [2]rune {
	r -= 0x10000
	return [2]rune{0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff}
}
