package local

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime"
)

//go:embed planprobe/PlanProbe.java
var planProbeSource []byte

// probeLog4j keeps the probe JVM quiet (warnings to stderr).
const probeLog4j = `rootLogger.level = WARN
rootLogger.appenderRef.console.ref = C
appender.console.name = C
appender.console.type = Console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %-5p %c{1} - %m%n
`

// JobGraph builds the job graph of an application jar on an installed
// runtime without running the job, as Flink's jar-run handler does: the
// jar's main() runs (in a short-lived JVM on the runtime's class path,
// with the application's EnvironmentProperties delivered as on a cluster)
// with an environment that captures the pipeline instead of executing it.
// The probe program is compiled with javac against the runtime once and
// kept under <data-dir>/planprobe/. Returns ECODE with Flink's root cause
// when main() fails on the runtime.
func (d *Driver) JobGraph(ctx context.Context, id flinkplane.RuntimeID, job flinkplane.JobSpec, props []flinkplane.PropertyGroup) ([]flinkplane.JobGraphOperator, error) {
	m, err := d.manifest(id)
	if err != nil {
		return nil, err
	}
	cp, err := runtime.Classpath(d.RuntimesDir, m)
	if err != nil {
		return nil, err
	}
	probe, err := d.compileProbe(ctx, m, cp)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "flinkplane-plan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	propsPath := filepath.Join(tmp, propertiesFile)
	if err := writeApplicationProperties(propsPath, props); err != nil {
		return nil, err
	}
	jar := filepath.Join(tmp, "app.jar")
	if err := RewriteJar(job.JarPath, jar, propsPath); err != nil {
		return nil, err
	}
	logCfg := filepath.Join(tmp, "log4j.properties")
	if err := os.WriteFile(logCfg, []byte(probeLog4j), 0o644); err != nil {
		return nil, err
	}
	entry := job.EntryClass
	if entry == "" {
		entry = "-"
	}
	args := []string{"-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.io.tmpdir=" + tmp,
		"-Dlog4j.configurationFile=file:" + logCfg}
	args = append(args, d.javaFlags(id)...)
	args = append(args, "-cp", strings.Join(append(cp, probe), string(os.PathListSeparator)),
		"PlanProbe", jar, entry, strconv.Itoa(max(job.Parallelism, 1)))
	args = append(args, job.Args...)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Java, args...)
	cmd.Dir = tmp
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, flinkplane.Errorf(flinkplane.ECODE, "The job graph could not be built on %s: %s", id, probeCause(stderr.String(), err))
	}
	var ops []flinkplane.JobGraphOperator
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 4)
		if len(f) < 3 || f[0] != "OP" {
			continue
		}
		op := flinkplane.JobGraphOperator{ID: f[1]}
		if f[2] != "-" {
			op.UserID = f[2]
		}
		if len(f) == 4 {
			op.Vertex = f[3]
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return nil, flinkplane.Errorf(flinkplane.ECODE, "The job graph built on %s has no operators.", id)
	}
	return ops, nil
}

// probeCause is the deepest "Caused by:" of the probe's output, else its
// last line.
func probeCause(out string, err error) string {
	cause := ""
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if s, ok := strings.CutPrefix(l, "Caused by: "); ok {
			cause = s
		} else if cause == "" && (strings.HasPrefix(l, "Exception in thread") || strings.HasPrefix(l, "org.apache.flink.")) {
			cause = l
		}
	}
	if cause == "" {
		cause = err.Error()
	}
	return cause
}

// compileProbe compiles PlanProbe.java against a runtime (once per runtime
// and probe source) and returns the directory of its class.
func (d *Driver) compileProbe(ctx context.Context, m runtime.Manifest, cp []string) (string, error) {
	h := sha256.Sum256(append(append([]byte{}, planProbeSource...), m.FlinkVersion...))
	dir := filepath.Join(d.DataDir, "planprobe", string(m.ID)+"-"+hex.EncodeToString(h[:6]))
	if _, err := os.Stat(filepath.Join(dir, "PlanProbe.class")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	stage, err := os.MkdirTemp(filepath.Dir(dir), ".probe-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	src := filepath.Join(stage, "PlanProbe.java")
	if err := os.WriteFile(src, planProbeSource, 0o644); err != nil {
		return "", err
	}
	javac := "javac"
	if filepath.IsAbs(d.Java) {
		javac = filepath.Join(filepath.Dir(d.Java), "javac")
	}
	out, err := exec.CommandContext(ctx, javac, "-nowarn", "-cp", strings.Join(cp, string(os.PathListSeparator)), "-d", stage, src).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("compile the plan probe for %s (a JDK's javac is needed): %v: %s", m.ID, err, out)
	}
	os.Remove(src)
	if err := os.Rename(stage, dir); err != nil && !os.IsExist(err) {
		if _, serr := os.Stat(filepath.Join(dir, "PlanProbe.class")); serr != nil {
			return "", err
		}
	}
	return dir, nil
}
