package compat

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/flinkplane/flinkplane/internal/zipdir"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf16"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/appjar"
	"github.com/flinkplane/flinkplane/runtime"
)

// Finding codes of the dry compile.
const (
	CodeMainFailed     = "JOB_MAIN_FAILED"
	CodeGraphFailed    = "JOB_GRAPH_FAILED"
	CodeCompileTimeout = "DRY_COMPILE_TIMEOUT"
)

// DefaultCompileTimeout bounds a dry compile: main() has this long to reach
// execute().
const DefaultCompileTimeout = 2 * time.Minute

// dryCompileSource is the Java helper, compiled per runtime with that
// runtime's javac classpath (see dryHelper).
//
//go:embed java/DryCompile.java
var dryCompileSource []byte

const dryCompileClass = "dev.flinkplane.dryrun.DryCompile"

// dryJVMFlags start the helper JVM quickly: C1 only, serial GC, no perf
// data; the heap is bounded (main() builds a graph, it processes no data).
var dryJVMFlags = []string{
	"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-Xss1m", "-Xmx512m",
	"-Xshare:auto", "-Xlog:cds=off", "-Xlog:cds+dynamic=off", "-Dlog4j2.statusLoggerLevel=OFF",
}

// dryHelper is the compiled helper of one runtime.
type dryHelper struct {
	java      string
	jar       string   // the helper's classes
	archive   string   // class data sharing archive (created by the first run)
	classpath []string // the runtime's jars
}

// javaTool returns a JDK tool next to the java command.
func javaTool(java, tool string) string {
	if dir := filepath.Dir(java); dir != "." {
		if p := filepath.Join(dir, tool); fileExists(p) {
			return p
		}
	}
	return tool
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// dryHelper returns the helper for target, compiling it with javac against
// the runtime's jars into the cache directory on first use (about 2 s).
func (c *Checker) dryHelper(ctx context.Context, target flinkplane.RuntimeID) (*dryHelper, error) {
	if !target.IsFlink() {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "%q is not a Flink runtime.", target)
	}
	_, jars, key, err := runtimeJars(c.RuntimesDir, target)
	if err != nil {
		return nil, err
	}
	java := c.Java
	if java == "" {
		java = runtime.JavaCommand()
	}
	javaPath, err := exec.LookPath(java)
	if err != nil {
		return nil, flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "No Java to run the dry compile: %v.", err)
	}
	h := sha256.New()
	h.Write(dryCompileSource)
	fmt.Fprintf(h, "\n%s\n", key)
	if st, err := os.Stat(javaPath); err == nil {
		// The class data archive belongs to one JVM build.
		fmt.Fprintf(h, "%s %d %d\n", javaPath, st.Size(), st.ModTime().UnixNano())
	}
	cache := c.CacheDir
	if cache == "" {
		cache = DefaultCacheDir()
	}
	dir := filepath.Join(cache, "dryrun", string(target)+"-"+hex.EncodeToString(h.Sum(nil))[:16])
	helper := &dryHelper{java: javaPath, jar: filepath.Join(dir, "dryrun.jar"), archive: filepath.Join(dir, "classes.jsa"), classpath: jars}

	c.hmu.Lock()
	defer c.hmu.Unlock()
	if fileExists(helper.jar) {
		return helper, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "DryCompile.java")
	if err := os.WriteFile(src, dryCompileSource, 0o644); err != nil {
		return nil, err
	}
	classes := filepath.Join(tmp, "classes")
	cmd := exec.CommandContext(ctx, javaTool(javaPath, "javac"), "--release", "11", "-nowarn", "-encoding", "UTF-8",
		"-cp", strings.Join(jars, string(os.PathListSeparator)), "-d", classes, src)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compile the dry-compile helper for %s with javac (a JDK is needed): %v: %s", target, err, bytes.TrimSpace(out))
	}
	// A jar, not a directory: class data sharing takes jars only.
	if err := zipdir.Write(classes, filepath.Join(tmp, "dryrun.jar")); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Rename(filepath.Join(tmp, "dryrun.jar"), helper.jar); err != nil {
		return nil, err
	}
	return helper, nil
}

// dryResult is the helper's output.
type dryResult struct {
	OK            bool                          `json:"ok"`
	Internal      bool                          `json:"internal"`
	Stage         string                        `json:"stage"`
	FlinkVersion  string                        `json:"flinkVersion"`
	EntryClass    string                        `json:"entryClass"`
	JobName       string                        `json:"jobName"`
	JobType       string                        `json:"jobType"`
	Parallelism   int                           `json:"parallelism"`
	Checkpointing flinkplane.CheckpointingInfo  `json:"checkpointing"`
	Requested     *flinkplane.CheckpointingInfo `json:"requestedCheckpointing"`
	JobID         string                        `json:"jobId"`
	Vertices      []flinkplane.JobVertexInfo    `json:"vertices"`
	GraphFile     string                        `json:"graphFile"`
	RestoreGraph  string                        `json:"restoreGraphFile"`
	Jars          []string                      `json:"jars"`
	Error         *struct {
		Class   string `json:"class"`
		Message string `json:"message"`
		Causes  []struct {
			Class   string `json:"class"`
			Message string `json:"message"`
		} `json:"causes"`
		StackTrace string `json:"stackTrace"`
	} `json:"error"`
}

// CompileJob implements flinkplane.JobCompiler: it runs the job's main() on
// target's classes in a JVM of its own (see java/DryCompile.java) with the
// EnvironmentProperties delivered as on the cluster. Returns ENOTFOUND if
// target is not installed, ECODE if the jar is not readable, EINVALIDCONFIG
// if there is no JDK.
func (c *Checker) CompileJob(ctx context.Context, target flinkplane.RuntimeID, job flinkplane.CompileSpec) (*flinkplane.JobGraphInfo, []flinkplane.Finding, error) {
	start := time.Now()
	if _, err := os.Stat(job.JarPath); err != nil {
		return nil, nil, flinkplane.Errorf(flinkplane.ECODE, "Cannot read the application code %s: %v.", job.JarPath, err)
	}
	helper, err := c.dryHelper(ctx, target)
	if err != nil {
		return nil, nil, err
	}
	tmp, err := os.MkdirTemp("", "flinkplane-dryrun-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)

	// The jar as the cluster receives it: config.properties names the
	// application's properties file.
	props := filepath.Join(tmp, "application_properties.json")
	if err := appjar.WriteProperties(props, job.Properties); err != nil {
		return nil, nil, err
	}
	jar := filepath.Join(tmp, "jars", filepath.Base(job.JarPath))
	if !strings.HasSuffix(jar, ".jar") {
		jar += ".jar"
	}
	if err := os.MkdirAll(filepath.Dir(jar), 0o755); err != nil {
		return nil, nil, err
	}
	if err := appjar.RewriteJar(job.JarPath, jar, props); err != nil {
		return nil, nil, err
	}
	var in strings.Builder
	prop := func(k, v string) { in.WriteString(escapeJavaProperty(k) + "=" + escapeJavaProperty(v) + "\n") }
	prop("jar", jar)
	prop("entry", job.EntryClass)
	prop("args", strconv.Itoa(len(job.Args)))
	for i, a := range job.Args {
		prop("arg."+strconv.Itoa(i), a)
	}
	if job.Parallelism > 0 {
		prop("parallelism", strconv.Itoa(job.Parallelism))
	}
	for k, v := range job.FlinkConfig {
		prop("conf."+k, v)
	}
	if job.JobID != "" {
		if !jobIDPattern.MatchString(job.JobID) {
			return nil, nil, flinkplane.Errorf(flinkplane.EINVALID, "Invalid job id %q: want 32 hex digits.", job.JobID)
		}
		prop("jobId", job.JobID)
	}
	if cp := job.Checkpointing; cp != nil {
		prop("enforce.checkpointing", strconv.FormatBool(cp.Enabled && cp.Interval > 0))
		prop("enforce.interval", strconv.FormatInt(cp.Interval.Milliseconds(), 10))
		prop("enforce.minPause", strconv.FormatInt(cp.MinPauseBetweenCheckpoints.Milliseconds(), 10))
	}
	placeholder := ""
	if job.GraphFile != "" {
		placeholder = "flinkplane-restore-" + randomHex(16)
		prop("graph", job.GraphFile)
		prop("restorePlaceholder", placeholder)
		prop("allowNonRestoredState", strconv.FormatBool(job.AllowNonRestoredState))
	}
	inFile, outFile := filepath.Join(tmp, "in.properties"), filepath.Join(tmp, "out.json")
	if err := os.WriteFile(inFile, []byte(in.String()), 0o600); err != nil {
		return nil, nil, err
	}
	work := filepath.Join(tmp, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, nil, err
	}

	args := append([]string{}, dryJVMFlags...)
	args = append(args, runtime.JavaOpens(target)...)
	// Class data sharing: the first run of a runtime's helper archives the
	// JDK and Flink classes it loaded; later runs map them (about 40% less
	// CPU). A broken or foreign archive is ignored by -Xshare:auto.
	archiveTmp := ""
	if fileExists(helper.archive) {
		args = append(args, "-XX:SharedArchiveFile="+helper.archive)
	} else {
		archiveTmp = fmt.Sprintf("%s.%d.tmp", helper.archive, os.Getpid())
		args = append(args, "-XX:ArchiveClassesAtExit="+archiveTmp)
	}
	args = append(args, "-Djava.io.tmpdir="+work,
		"-cp", strings.Join(append([]string{helper.jar}, helper.classpath...), string(os.PathListSeparator)),
		dryCompileClass, inFile, outFile)

	timeout := c.CompileTimeout
	if timeout <= 0 {
		timeout = DefaultCompileTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, helper.java, args...)
	cmd.Dir = work
	// Its own process group: threads and processes user code started end
	// with it.
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var output limitedBuffer
	output.max = 64 << 10
	cmd.Stdout, cmd.Stderr = &output, &output
	runErr := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // anything left in the group
	}
	if archiveTmp != "" {
		if runErr == nil && fileExists(archiveTmp) {
			os.Rename(archiveTmp, helper.archive)
		} else {
			os.Remove(archiveTmp)
		}
	}
	elapsed := time.Since(start).Seconds()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	b, readErr := os.ReadFile(outFile)
	if readErr != nil {
		switch {
		case rctx.Err() != nil:
			return nil, []flinkplane.Finding{{
				Severity: flinkplane.SeverityError, Code: CodeCompileTimeout, Symbol: "main()",
				Class: entryClass(job.JarPath, job.EntryClass), Method: "main(String[])",
				Message: fmt.Sprintf("The job's main() did not build its job graph on %s within %s (it must reach execute() without waiting on external systems).", target, timeout),
				Hint:    "Do not block in main(): connect to external systems in the operators' open(), not while building the pipeline.",
			}}, nil
		case runErr != nil:
			var ee *exec.ExitError
			if errors.As(runErr, &ee) && ee.ExitCode() > 0 && ee.ExitCode() != 2 {
				// The JVM ended before writing its result: System.exit in
				// main(), which would end the JobManager the same way. (A
				// JVM killed by a signal, -1, is not the job's doing: an
				// error below, not a finding.)
				return nil, []flinkplane.Finding{{
					Severity: flinkplane.SeverityError, Code: CodeMainFailed, Symbol: "System.exit",
					Class: entryClass(job.JarPath, job.EntryClass), Method: "main(String[])",
					Message: fmt.Sprintf("The job's main() ended the JVM (exit status %d) before building its job graph on %s; a System.exit in main() would end the JobManager.%s", ee.ExitCode(), target, outputNote(output.tail(400))),
					Hint:    "Do not call System.exit in main().",
				}}, nil
			}
			return nil, nil, fmt.Errorf("dry compile on %s: %v: %s", target, runErr, output.tail(2000))
		}
		return nil, nil, fmt.Errorf("dry compile on %s: no result: %v", target, readErr)
	}
	var res dryResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, nil, fmt.Errorf("dry compile on %s: bad result: %v", target, err)
	}
	if res.Internal {
		msg := ""
		if res.Error != nil {
			msg = res.Error.Class + ": " + res.Error.Message
		}
		return nil, nil, fmt.Errorf("dry compile on %s failed: %s", target, msg)
	}
	if !res.OK {
		entry := res.EntryClass
		if entry == "" {
			entry = entryClass(job.JarPath, job.EntryClass)
		}
		return nil, []flinkplane.Finding{mainFinding(target, res, entry)}, nil
	}
	g := &flinkplane.JobGraphInfo{
		Runtime: target, FlinkVersion: res.FlinkVersion, EntryClass: res.EntryClass, JobName: res.JobName,
		JobType: res.JobType, Parallelism: res.Parallelism, Checkpointing: res.Checkpointing,
		RequestedCheckpointing: res.Requested, JobID: res.JobID,
		Vertices: res.Vertices, Seconds: elapsed,
	}
	if job.GraphFile != "" {
		if res.GraphFile == "" || res.RestoreGraph == "" {
			return nil, nil, fmt.Errorf("dry compile on %s wrote no job graph", target)
		}
		g.Compiled = &flinkplane.CompiledJob{Runtime: target, JobID: res.JobID, GraphFile: res.GraphFile,
			RestoreGraphFile: res.RestoreGraph, RestorePlaceholder: placeholder, Jars: res.Jars,
			AllowNonRestoredState: job.AllowNonRestoredState}
	}
	return g, nil, nil
}

var jobIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// mainFinding turns a failed dry compile into a finding with Flink's
// message: the exception chain from main() down to its root cause, without
// the wrappers PackagedProgram adds around it.
func mainFinding(target flinkplane.RuntimeID, res dryResult, entry string) flinkplane.Finding {
	f := flinkplane.Finding{Severity: flinkplane.SeverityError, Code: CodeMainFailed, Class: entry, Method: "main(String[])"}
	if res.Stage == "graph" {
		f.Code, f.Method = CodeGraphFailed, ""
	}
	var chain []string
	root := ""
	if e := res.Error; e != nil {
		for i, c := range e.Causes {
			if c.Message == "The program caused an error:" {
				continue // PackagedProgramUtils' wrapper (classpath, output)
			}
			if i+1 < len(e.Causes) && strings.HasSuffix(c.Message, ": "+e.Causes[i+1].Message) {
				continue // "The main method caused an error: " + the cause's message
			}
			s := c.Class
			if c.Message != "" {
				s += ": " + c.Message
			}
			chain = append(chain, s)
		}
		if n := len(e.Causes); n > 0 {
			root = e.Causes[n-1].Class
			if m := e.Causes[n-1].Message; m != "" {
				root += ": " + m
			}
		}
	}
	what := strings.Join(chain, "; caused by ")
	switch res.Stage {
	case "graph":
		f.Message = fmt.Sprintf("Flink cannot build the job graph on %s: %s", target, what)
	case "load":
		f.Message = fmt.Sprintf("Flink cannot load the job's entry point on %s: %s", target, what)
	default:
		f.Message = fmt.Sprintf("The job's main() fails on %s: %s", target, what)
	}
	f.Symbol = root
	if i := strings.IndexByte(root, ':'); i > 0 {
		f.Symbol = root[:i]
		// A missing class: the JAR check's hints know its replacement.
		if strings.HasSuffix(f.Symbol, "NoClassDefFoundError") || strings.HasSuffix(f.Symbol, "ClassNotFoundException") {
			missing := strings.ReplaceAll(strings.TrimSpace(root[i+1:]), ".", "/")
			f.Hint = hintFor(missing, "", "")
		}
	}
	const maxMessage = 2000
	if len(f.Message) > maxMessage {
		f.Message = f.Message[:maxMessage-3] + "..."
	}
	return f
}

// entryClass returns the class a jar's main() is in: the given one, else
// the manifest's program-class or Main-Class.
func entryClass(jarPath, given string) string {
	if given != "" {
		return given
	}
	r, err := openJar(jarPath)
	if err != nil {
		return ""
	}
	defer r.Close()
	for _, k := range []string{"program-class", "Program-Class", "Main-Class"} {
		if v := strings.TrimSpace(r.Manifest[k]); v != "" {
			return v
		}
	}
	return ""
}

// escapeJavaProperty escapes a key or value for java.util.Properties.load
// (ISO 8859-1 with \uXXXX escapes).
func escapeJavaProperty(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '=' || r == ':' || r == '#' || r == '!' || r == ' ':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func outputNote(s string) string {
	if s == "" {
		return ""
	}
	return " Output: " + s
}

// limitedBuffer keeps the last max bytes written to it.
type limitedBuffer struct {
	buf []byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	if len(l.buf) > l.max {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-l.max:]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) tail(n int) string {
	b := bytes.TrimSpace(l.buf)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

var _ io.Writer = (*limitedBuffer)(nil)
