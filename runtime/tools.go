package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flinkplane/flinkplane"
)

// A Tool is a library flinkplane runs next to a runtime in JVMs of its own
// (never in a cluster): it is installed beside the runtime, not into its
// lib/, so the class path of every cluster stays the distribution's.
//
// Installed layout (a sibling of the runtimes, so that installing a tool
// never touches an installed runtime's directory):
//
//	<runtimes-dir>/tools/<RuntimeID>/<tool>/tool.json   ToolManifest; written last
//	<runtimes-dir>/tools/<RuntimeID>/<tool>/*.jar
type Tool struct {
	Name     string
	Artifact Artifact
}

// ToolStateProcessor is Flink's State Processor API, which the state
// migration runs on the source and the target runtime (package migrate).
// The distribution ships it in opt/ (runtime/dist.go).
const ToolStateProcessor = "state-processor-api"

// stateProcessorVersions pins flink-state-processor-api per runtime. Its
// Flink dependencies are all "provided" (the runtime's lib/ has them), so
// the tool is that one jar. The patch releases of the runtimes' cores are
// not served by the Maven repository used here for this module (1.20.3 to
// 1.20.5 and 2.2.1 were tried once): the newest served release of the same
// minor version is taken, as for the other modules in docs/runtimes.md.
// (1.20.0 predates FLINK-37109's key iteration; the migration's helper
// brings its own, see migrate/java/keys.)
var stateProcessorVersions = map[flinkplane.RuntimeID]string{
	flinkplane.RuntimeFlink118: "1.18.1",
	flinkplane.RuntimeFlink119: "1.19.1",
	flinkplane.RuntimeFlink120: "1.20.0",
	flinkplane.RuntimeFlink22:  "2.2.0",
	flinkplane.RuntimeFlink23:  "2.3.0",
}

// Tools returns the tools of a runtime.
func Tools(id flinkplane.RuntimeID) []Tool {
	v, ok := stateProcessorVersions[id]
	if !ok {
		return nil
	}
	return []Tool{{Name: ToolStateProcessor, Artifact: Artifact{"org.apache.flink", "flink-state-processor-api", v}}}
}

// ToolManifest is tool.json, the record of a complete tool installation.
type ToolManifest struct {
	Runtime  flinkplane.RuntimeID `json:"runtime"`
	Tool     string               `json:"tool"`
	Artifact string               `json:"artifact"`
	// Jars are relative to the tool's directory.
	Jars     []string `json:"jars"`
	Complete bool     `json:"complete"`
}

// ToolDir is where a runtime's tool is installed.
func ToolDir(dir string, id flinkplane.RuntimeID, tool string) string {
	return filepath.Join(dir, "tools", string(id), tool)
}

// ToolClasspath returns the absolute jar paths of an installed tool.
// Returns ENOTFOUND when it is not (completely) installed, with the
// command that installs it.
func ToolClasspath(dir string, id flinkplane.RuntimeID, tool string) ([]string, error) {
	td := ToolDir(dir, id, tool)
	b, err := os.ReadFile(filepath.Join(td, "tool.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "The %s of runtime %s is not installed. Run: flinkplane runtime install %s", tool, id, id)
	} else if err != nil {
		return nil, err
	}
	var m ToolManifest
	if err := json.Unmarshal(b, &m); err != nil || !m.Complete || len(m.Jars) == 0 {
		return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "The %s of runtime %s is not completely installed. Run: flinkplane runtime install %s", tool, id, id)
	}
	cp := make([]string, 0, len(m.Jars))
	for _, j := range m.Jars {
		p := filepath.Join(td, filepath.FromSlash(j))
		if _, err := os.Stat(p); err != nil {
			return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "The %s of runtime %s is damaged (%v). Run: flinkplane runtime install %s", tool, id, err, id)
		}
		cp = append(cp, p)
	}
	return cp, nil
}

// InstallTools installs the tools of a runtime that are not installed yet
// (idempotent): each is copied by Maven into a staging directory that is
// renamed into place, its manifest written last.
func (in *Installer) InstallTools(ctx context.Context, id flinkplane.RuntimeID) error {
	for _, t := range Tools(id) {
		if _, err := ToolClasspath(in.Dir, id, t.Name); err == nil {
			in.printf("%s: %s %s already installed\n", id, t.Name, t.Artifact.Version)
			continue
		}
		if err := in.installTool(ctx, id, t); err != nil {
			return fmt.Errorf("install %s of %s: %w", t.Name, id, err)
		}
	}
	return nil
}

func (in *Installer) installTool(ctx context.Context, id flinkplane.RuntimeID, t Tool) error {
	final := ToolDir(in.Dir, id, t.Name)
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(filepath.Join(parent, "."+t.Name+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := ToolClasspath(in.Dir, id, t.Name); err == nil {
		return nil // installed meanwhile
	}
	if old, _ := filepath.Glob(filepath.Join(parent, "."+t.Name+".staging-*")); len(old) > 0 {
		for _, o := range old {
			os.RemoveAll(o)
		}
	}
	stage, err := os.MkdirTemp(parent, "."+t.Name+".staging-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	in.printf("%s: installing %s (%s) with Maven\n", id, t.Name, t.Artifact)
	mvn := in.Mvn
	if mvn == "" {
		mvn = "mvn"
	}
	cmd := exec.CommandContext(ctx, mvn, "-B", "-q",
		"org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
		"-Dartifact="+t.Artifact.String(), "-DoutputDirectory="+stage)
	cmd.Dir = stage
	if out, err := cmd.CombinedOutput(); err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) > 8 {
			lines = lines[len(lines)-8:]
		}
		return fmt.Errorf("maven dependency:copy %s: %w\n%s", t.Artifact, err, strings.Join(lines, "\n"))
	}
	jars, _ := filepath.Glob(filepath.Join(stage, "*.jar"))
	if len(jars) == 0 {
		return fmt.Errorf("%s missing after maven resolution", t.Artifact)
	}
	rel := make([]string, 0, len(jars))
	for _, j := range jars {
		rel = append(rel, filepath.Base(j))
	}
	sort.Strings(rel)
	if _, err := os.Stat(final); err == nil {
		if err := os.RemoveAll(final); err != nil {
			return err
		}
	}
	if err := os.Rename(stage, final); err != nil {
		return err
	}
	m := ToolManifest{Runtime: id, Tool: t.Name, Artifact: t.Artifact.String(), Jars: rel, Complete: true}
	if err := writeJSONAtomic(filepath.Join(final, "tool.json"), m); err != nil {
		return err
	}
	in.printf("%s: installed %s %s in %s\n", id, t.Name, t.Artifact.Version, final)
	return nil
}
