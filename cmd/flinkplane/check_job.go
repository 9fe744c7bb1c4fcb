package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
)

// jobFlags are the flags of `check jar` that run the dry compile.
type jobFlags struct {
	compile, allow           *bool
	savepoint, properties    *string
	flinkConfig, entryClass  *string
	previousJar, previousRID *string
	parallelism              *int
}

func addJobFlags(fs *flag.FlagSet) *jobFlags {
	return &jobFlags{
		compile:     boolFlag(fs, "compile", false, "also build the job graph on the target runtime (a dry compile: main() runs, nothing is submitted)"),
		savepoint:   stringFlag(fs, "savepoint", "", "the savepoint the job will restore: dry compile, then check its state against the job graph"),
		allow:       boolFlag(fs, "allow-non-restored-state", false, "state no operator takes is dropped (a warning) instead of an error"),
		properties:  stringFlag(fs, "properties", "", "the application's EnvironmentProperties for main(): a JSON file, [{\"PropertyGroupId\": ..., \"PropertyMap\": {...}}] or {\"PropertyGroups\": [...]}"),
		flinkConfig: stringFlag(fs, "flink-config", "", "Flink configuration main() sees, as the cluster's: key=value[,key=value...]"),
		parallelism: intFlag(fs, "parallelism", 0, "the job's default parallelism (0: the configuration's)"),
		entryClass:  stringFlag(fs, "entry-class", "", "the job's entry class (default: the jar manifest's)"),
		previousJar: stringFlag(fs, "previous-jar", "", "the jar of the job that wrote the savepoint (names its operators by uid)"),
		previousRID: stringFlag(fs, "previous-target", "", "the runtime --previous-jar runs on, e.g. FLINK-1_20"),
	}
}

// dryCompile reports whether the flags ask for a dry compile.
func (j *jobFlags) dryCompile() bool {
	return j != nil && (*j.compile || *j.savepoint != "")
}

func (j *jobFlags) request(jar string, target flinkplane.RuntimeID, args []string) (compat.JobCheck, error) {
	spec := flinkplane.CompileSpec{JarPath: jar, EntryClass: *j.entryClass, Args: args, Parallelism: *j.parallelism}
	if *j.properties != "" {
		groups, err := readPropertyGroups(*j.properties)
		if err != nil {
			return compat.JobCheck{}, usageErr("--properties: %v", err)
		}
		spec.Properties = groups
	}
	if *j.flinkConfig != "" {
		spec.FlinkConfig = map[string]string{}
		for _, kv := range strings.Split(*j.flinkConfig, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return compat.JobCheck{}, usageErr("--flink-config: %q is not key=value", kv)
			}
			spec.FlinkConfig[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	req := compat.JobCheck{Target: target, Job: spec, Savepoint: *j.savepoint, AllowNonRestoredState: *j.allow}
	if *j.savepoint != "" {
		if _, err := os.Stat(*j.savepoint); err != nil {
			return compat.JobCheck{}, usageErr("--savepoint: %v", err)
		}
	}
	if *j.previousJar != "" {
		prev := flinkplane.RuntimeID(*j.previousRID)
		if !prev.IsFlink() {
			return compat.JobCheck{}, usageErr("--previous-jar needs --previous-target, a Flink runtime such as FLINK-1_20")
		}
		if *j.savepoint == "" {
			return compat.JobCheck{}, usageErr("--previous-jar names a savepoint's operators: give --savepoint too")
		}
		p := spec
		p.JarPath, p.EntryClass = *j.previousJar, ""
		req.Previous, req.PreviousTarget = p, prev
	}
	return req, nil
}

// readPropertyGroups reads EnvironmentProperties: the file the service
// writes for a job, or the API's EnvironmentProperties shape.
func readPropertyGroups(path string) ([]flinkplane.PropertyGroup, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var groups []flinkplane.PropertyGroup
	if err := json.Unmarshal(b, &groups); err == nil {
		return groups, nil
	}
	var wrapped struct {
		PropertyGroups []flinkplane.PropertyGroup `json:"PropertyGroups"`
	}
	if err := json.Unmarshal(b, &wrapped); err != nil {
		return nil, fmt.Errorf("%s: not a JSON list of property groups: %v", path, err)
	}
	return wrapped.PropertyGroups, nil
}

// writeJobGraph prints the job graph of a dry compile.
func writeJobGraph(w io.Writer, rep *compat.JobReport) {
	g := rep.JobGraph
	if g == nil {
		fmt.Fprintf(w, "\njob graph: none (the dry compile failed, see the findings)\n")
		return
	}
	fmt.Fprintf(w, "\njob graph of %q on Flink %s (%s, %.1f s): parallelism %d\n", g.JobName, g.FlinkVersion, g.JobType, g.Seconds, g.Parallelism)
	if c := g.Checkpointing; c.Enabled {
		fmt.Fprintf(w, "  checkpointing: every %d ms, min pause %d ms, timeout %d ms, %s\n", c.IntervalMillis, c.MinPauseMillis, c.TimeoutMillis, c.Mode)
	} else {
		fmt.Fprintf(w, "  checkpointing: disabled\n")
	}
	for _, v := range g.Vertices {
		max := "default"
		if v.MaxParallelism > 0 {
			max = fmt.Sprint(v.MaxParallelism)
		}
		fmt.Fprintf(w, "  %s (parallelism %d, max %s)\n", v.Name, v.Parallelism, max)
		for _, o := range v.Operators {
			fmt.Fprintf(w, "    %s  %s\n", o.ID, o.Label())
		}
	}
}
