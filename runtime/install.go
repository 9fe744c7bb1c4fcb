package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"github.com/flinkplane/flinkplane"

	"github.com/flinkplane/flinkplane/internal/atomicfile"
)

// ManifestFormat is the format of runtime.json this flinkplane writes. A
// runtime installed with an older format (an older catalog: format 0 had
// the DataStream core only) is outdated: ReadManifest reports it as not
// installed and Install replaces it.
const ManifestFormat = 2

// Manifest is runtime.json, the record of a complete installation.
type Manifest struct {
	ID           flinkplane.RuntimeID `json:"id"`
	Format       int                  `json:"format"`
	FlinkVersion string               `json:"flinkVersion"`
	JavaMin      int                  `json:"javaMin"`
	JavaMax      int                  `json:"javaMax,omitempty"`
	// Jars are relative to the runtime directory ("lib/x.jar"): the class
	// path.
	Jars []string `json:"jars"`
	// Plugins are relative to the runtime directory
	// ("plugins/s3-fs-presto/x.jar"), loaded by Flink's plugin manager.
	Plugins []string `json:"plugins,omitempty"`
	// Bytes is the installed size of lib/ and plugins/.
	Bytes    int64 `json:"bytes,omitempty"`
	Complete bool  `json:"complete"`
}

// Installer installs runtimes into Dir with Maven.
type Installer struct {
	// Dir is the runtimes directory.
	Dir string
	// Mvn is the Maven command; default "mvn".
	Mvn string
	// Out receives progress lines; nil discards them.
	Out io.Writer
	// Verbose forwards Maven's full output to Out.
	Verbose bool
}

// NewInstaller returns an Installer for dir with defaults set.
func NewInstaller(dir string) *Installer {
	return &Installer{Dir: dir, Mvn: "mvn", Out: io.Discard}
}

func (in *Installer) printf(format string, args ...any) {
	if in.Out != nil {
		fmt.Fprintf(in.Out, format, args...)
	}
}

// Install installs a runtime unless a complete installation exists. A partial
// installation (a directory without runtime.json) is removed and redone. The
// jars are assembled in a staging directory that is renamed into place; the
// manifest is written last (temp file + rename). Concurrent installs of the
// same runtime are serialised with a lock file.
func (in *Installer) Install(ctx context.Context, id flinkplane.RuntimeID) (Manifest, error) {
	v, err := Lookup(id)
	if err != nil {
		return Manifest{}, err
	}
	if err := os.MkdirAll(in.Dir, 0o755); err != nil {
		return Manifest{}, err
	}
	unlock, err := lockFile(filepath.Join(in.Dir, "."+string(id)+".lock"))
	if err != nil {
		return Manifest{}, err
	}
	defer unlock()

	if m, err := ReadManifest(in.Dir, id); err == nil {
		in.printf("%s: Flink %s already installed in %s (%d jars, %d plugins, %s)\n", id, m.FlinkVersion, filepath.Join(in.Dir, string(id)), len(m.Jars), len(m.Plugins), humanBytes(m.Bytes))
		return m, nil
	} else if flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND && strings.Contains(flinkplane.ErrorMessage(err), "outdated") {
		in.printf("%s: %s Replacing it.\n", id, flinkplane.ErrorMessage(err))
	}
	// Staging directories left by an interrupted install (we hold the lock).
	if old, _ := filepath.Glob(filepath.Join(in.Dir, "."+string(id)+".staging-*")); len(old) > 0 {
		for _, o := range old {
			os.RemoveAll(o)
		}
	}
	final := filepath.Join(in.Dir, string(id))
	if _, err := os.Stat(final); err == nil {
		in.printf("%s: removing partial installation %s\n", id, final)
		if err := os.RemoveAll(final); err != nil {
			return Manifest{}, err
		}
	}
	stage, err := os.MkdirTemp(in.Dir, "."+string(id)+".staging-")
	if err != nil {
		return Manifest{}, err
	}
	defer os.RemoveAll(stage)

	in.printf("%s: resolving Flink %s (%d artifacts + their closure, %d plugins) with Maven\n", id, v.FlinkVersion, len(v.Artifacts), len(v.Plugins))
	if err := in.mavenCopy(ctx, v, stage); err != nil {
		return Manifest{}, fmt.Errorf("install %s: %w", id, err)
	}
	jars, err := listJars(stage)
	if err != nil {
		return Manifest{}, err
	}
	plugins, err := listPlugins(stage)
	if err != nil {
		return Manifest{}, err
	}
	if err := checkJars(v, jars, plugins); err != nil {
		return Manifest{}, fmt.Errorf("install %s: %w", id, err)
	}
	os.Remove(filepath.Join(stage, "pom.xml"))
	size, err := dirBytes(stage)
	if err != nil {
		return Manifest{}, err
	}
	if err := os.Rename(stage, final); err != nil {
		return Manifest{}, err
	}
	m := Manifest{ID: id, Format: ManifestFormat, FlinkVersion: v.FlinkVersion, JavaMin: v.JavaMin, JavaMax: v.JavaMax,
		Jars: jars, Plugins: plugins, Bytes: size, Complete: true}
	if err := writeJSONAtomic(filepath.Join(final, "runtime.json"), m); err != nil {
		return Manifest{}, err
	}
	in.printf("%s: installed Flink %s in %s: %d jars in lib/, %d plugins, %s\n", id, v.FlinkVersion, final, len(jars), len(plugins), humanBytes(size))
	return m, nil
}

// Pom returns the POM whose runtime dependency closure is the runtime's
// classpath.
func Pom(v Version) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.flinkplane.runtime</groupId>
  <artifactId>` + strings.ToLower(string(v.ID)) + `</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
`)
	for _, a := range v.Artifacts {
		fmt.Fprintf(&b, "    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></dependency>\n", a.Group, a.Name, a.Version)
	}
	b.WriteString(`  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.6.1</version>
        <configuration>
          <!-- dependency:copy: the plugins, each into plugins/<name>/ -->
          <artifactItems>
`)
	for _, p := range v.Plugins {
		fmt.Fprintf(&b, "            <artifactItem><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version><outputDirectory>${plugins.dir}/%s</outputDirectory></artifactItem>\n",
			p.Artifact.Group, p.Artifact.Name, p.Artifact.Version, p.Dir)
	}
	b.WriteString(`          </artifactItems>
        </configuration>
      </plugin>
    </plugins>
  </build>
</project>
`)
	return b.String()
}

var downloadedRe = regexp.MustCompile(`Downloaded from [^:]+: \S+/([^/\s]+\.jar) `)

func (in *Installer) mavenCopy(ctx context.Context, v Version, stage string) error {
	pom := filepath.Join(stage, "pom.xml")
	if err := os.WriteFile(pom, []byte(Pom(v)), 0o644); err != nil {
		return err
	}
	mvn := in.Mvn
	if mvn == "" {
		mvn = "mvn"
	}
	args := []string{"-B", "-f", pom,
		"org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies",
		"-DoutputDirectory=" + filepath.Join(stage, "lib"),
		"-DincludeScope=runtime", "-DexcludeTransitive=false",
		"-Dplugins.dir=" + filepath.Join(stage, "plugins")}
	if len(v.Plugins) > 0 {
		args = append(args, "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy")
	}
	cmd := exec.CommandContext(ctx, mvn, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run maven (%s): %w", mvn, err)
	}
	var tail []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		n := 0
		for sc.Scan() {
			line := sc.Text()
			if in.Verbose {
				in.printf("  %s\n", line)
			} else if m := downloadedRe.FindStringSubmatch(line); m != nil {
				n++
				in.printf("  %s: downloaded %s (%d)\n", v.ID, m[1], n)
			}
			if strings.Contains(line, "ERROR") {
				tail = append(tail, line)
			}
		}
	}()
	err := cmd.Wait()
	pw.Close()
	<-done
	if err != nil {
		if len(tail) > 8 {
			tail = tail[:8]
		}
		return fmt.Errorf("maven dependency:copy-dependencies: %w\n%s", err, strings.Join(tail, "\n"))
	}
	return nil
}

func listJars(dir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(dir, "lib"))
	if err != nil {
		return nil, err
	}
	var jars []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".jar") {
			jars = append(jars, "lib/"+e.Name())
		}
	}
	sort.Strings(jars)
	return jars, nil
}

// listPlugins returns plugins/<name>/<jar> of a staging directory.
func listPlugins(dir string) ([]string, error) {
	ps, err := filepath.Glob(filepath.Join(dir, "plugins", "*", "*.jar"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range ps {
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
	}
	sort.Strings(out)
	return out, nil
}

// checkJars verifies that every direct artifact and plugin was copied, and
// that no Flink module is on the class path twice (two versions of one
// artifact would mean a Maven conflict the catalog did not intend).
func checkJars(v Version, jars, plugins []string) error {
	have := map[string]bool{}
	for _, j := range jars {
		have[filepath.Base(j)] = true
	}
	for _, a := range v.Artifacts {
		if !have[a.Name+"-"+a.Version+".jar"] {
			return fmt.Errorf("artifact %s missing after maven resolution", a)
		}
	}
	havePlugin := map[string]bool{}
	for _, p := range plugins {
		havePlugin[p] = true
	}
	for _, p := range v.Plugins {
		if !havePlugin["plugins/"+p.Dir+"/"+p.Artifact.Name+"-"+p.Artifact.Version+".jar"] {
			return fmt.Errorf("plugin %s missing after maven resolution", p.Artifact)
		}
	}
	return nil
}

func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n, err
}

func humanBytes(n int64) string {
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// ReadManifest reads the manifest of an installed runtime. Returns ENOTFOUND
// when the runtime is not (completely) installed.
func ReadManifest(dir string, id flinkplane.RuntimeID) (Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, string(id), "runtime.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "Runtime %s is not installed.", id)
	} else if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("read %s manifest: %w", id, err)
	}
	if !m.Complete || m.ID != id {
		return Manifest{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "Runtime %s is not completely installed.", id)
	}
	if m.Format < ManifestFormat {
		return Manifest{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "Runtime %s is outdated (installed by an older flinkplane without the full distribution).", id)
	}
	return m, nil
}

// Classpath returns the absolute jar paths of an installed runtime and checks
// that they exist.
func Classpath(dir string, m Manifest) ([]string, error) {
	cp := make([]string, 0, len(m.Jars))
	for _, j := range m.Jars {
		p := filepath.Join(dir, string(m.ID), filepath.FromSlash(j))
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("runtime %s: %w", m.ID, err)
		}
		cp = append(cp, p)
	}
	for _, j := range m.Plugins {
		if _, err := os.Stat(filepath.Join(dir, string(m.ID), filepath.FromSlash(j))); err != nil {
			return nil, fmt.Errorf("runtime %s: %w", m.ID, err)
		}
	}
	return cp, nil
}

// PluginsDir returns the plugins directory of an installed runtime
// (FLINK_PLUGINS_DIR of its JVMs).
func PluginsDir(dir string, id flinkplane.RuntimeID) string {
	return filepath.Join(dir, string(id), "plugins")
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
