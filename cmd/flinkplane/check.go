package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/runtime"
)

func init() {
	commands["check"] = command{summary: "check a JAR or a savepoint against a target runtime", run: runCheck}
}

// exitError carries a process exit status to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// Exit statuses of `flinkplane check`.
const (
	exitClean  = 0 // no error findings (warnings allowed)
	exitErrors = 1 // error findings
	exitUsage  = 2 // usage or I/O error
)

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

const checkUsage = `usage:
  flinkplane check jar APP.jar --target FLINK-2_2 [--format text|json] [--runtimes-dir DIR] [--cache-dir DIR]
      [--compile] [--savepoint DIR [--allow-non-restored-state] [--previous-jar OLD.jar --previous-target FLINK-1_20]]
      [--properties FILE] [--flink-config k=v,...] [--parallelism N] [--entry-class C] [-- PROGRAM ARGS]
  flinkplane check savepoint PATH --target FLINK-2_2 [--format text|json]
  flinkplane check operation --endpoint-url URL --application-name NAME --operation-id ID [--format text|json]

Exit status: 0 no errors (warnings allowed), 1 errors found, 2 usage or I/O error.`

func runCheck(ctx context.Context, args []string) error {
	return runCheckTo(ctx, args, os.Stdout)
}

func runCheckTo(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "operation" {
		return runCheckOperation(ctx, args[1:], out)
	}
	if len(args) == 0 || (args[0] != "jar" && args[0] != "savepoint") {
		fmt.Fprintln(os.Stderr, checkUsage)
		return usageErr("expected `jar`, `savepoint` or `operation`")
	}
	kind := args[0]
	fs := flag.NewFlagSet("check "+kind, flag.ContinueOnError)
	target := fs.String("target", "", "target runtime, e.g. FLINK-2_2")
	format := fs.String("format", "text", "output format: text or json")
	runtimesDir := stringFlag(fs, "runtimes-dir", runtime.DefaultDir(), "directory of installed Flink runtimes")
	cacheDir := stringFlag(fs, "cache-dir", compat.DefaultCacheDir(), "directory of cached symbol indexes")
	var job *jobFlags
	if kind == "jar" {
		job = addJobFlags(fs)
	}
	// Accept flags before and after the positional path; program arguments
	// of the dry compile follow "--".
	rest := args[1:]
	var programArgs []string
	for i, a := range rest {
		if a == "--" {
			rest, programArgs = rest[:i], rest[i+1:]
			break
		}
	}
	var paths []string
	for {
		if err := fs.Parse(rest); err != nil {
			return usageErr("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(paths) != 1 {
		return usageErr("expected one %s path, got %d", kind, len(paths))
	}
	id := flinkplane.RuntimeID(*target)
	if !id.IsFlink() {
		return usageErr("--target must be a Flink runtime such as FLINK-2_2, got %q", *target)
	}
	if *format != "text" && *format != "json" {
		return usageErr("--format must be text or json")
	}
	if _, err := os.Stat(paths[0]); err != nil {
		return usageErr("%v", err)
	}

	var findings []flinkplane.Finding
	var report any
	var summary compat.Summary
	var header string
	switch kind {
	case "jar":
		// A one-shot process: collect garbage rarely (on the 149 MB
		// benchmark jar about 20% less CPU for some 15% more memory), and
		// more often near the limit.
		debug.SetGCPercent(1000)
		debug.SetMemoryLimit(2 << 30)
		c := &compat.Checker{RuntimesDir: *runtimesDir, CacheDir: *cacheDir}
		if job.dryCompile() {
			req, err := job.request(paths[0], id, programArgs)
			if err != nil {
				return err
			}
			rep, err := c.CheckJob(ctx, req)
			if err != nil {
				return checkErr(err)
			}
			findings, summary, report = rep.Findings, rep.Summary, rep
			header = fmt.Sprintf("%s against %s: %d classes (%.1f MB), %d nested jars; dry compile on %s", paths[0], id, summary.Classes, float64(summary.ClassBytes)/1e6, summary.NestedJars, id)
			if rep.Savepoint != "" {
				header += "; savepoint " + rep.Savepoint
			}
			if *format == "text" {
				defer writeJobGraph(out, rep)
			}
			break
		}
		rep, err := c.CheckJarReport(ctx, paths[0], id)
		if err != nil {
			return checkErr(err)
		}
		findings, summary, report = rep.Findings, rep.Summary, rep
		header = fmt.Sprintf("%s against %s: %d classes (%.1f MB), %d nested jars", paths[0], id, summary.Classes, float64(summary.ClassBytes)/1e6, summary.NestedJars)
	case "savepoint":
		c := &compat.Checker{RuntimesDir: *runtimesDir, CacheDir: *cacheDir}
		rep, err := c.CheckSavepointReport(ctx, paths[0], id)
		if err != nil {
			return checkErr(err)
		}
		findings, summary, report = rep.Findings, rep.Summary, rep
		header = fmt.Sprintf("%s against %s: metadata version %d, %d operators, %d states", rep.Path, id, rep.MetadataVersion, summary.Operators, summary.States)
		if *format == "text" {
			defer writeOperators(out, rep)
		}
	}
	if *format == "json" {
		if err := writeReportJSON(out, report); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	} else {
		writeFindings(out, header, findings, summary)
	}
	if summary.Errors > 0 {
		return &exitError{code: exitErrors, err: fmt.Errorf("%d error(s) found", summary.Errors)}
	}
	return nil
}

func checkErr(err error) error {
	var fe *flinkplane.Error
	if errors.As(err, &fe) {
		return &exitError{code: exitUsage, err: errors.New(fe.Message)}
	}
	return &exitError{code: exitUsage, err: err}
}

func writeFindings(w io.Writer, header string, fs []flinkplane.Finding, s compat.Summary) {
	fmt.Fprintln(w, header)
	for _, f := range fs {
		where := f.Class
		if f.Method != "" {
			where += "." + f.Method
		}
		fmt.Fprintf(w, "\n%-7s %s", f.Severity, f.Code)
		if where != "" {
			fmt.Fprintf(w, "  %s", where)
		}
		fmt.Fprintf(w, "\n        %s\n", f.Message)
		if f.Hint != "" {
			fmt.Fprintf(w, "        hint: %s\n", f.Hint)
		}
	}
	fmt.Fprintf(w, "\n%d error(s), %d warning(s), %d info(s)\n", s.Errors, s.Warnings, s.Infos)
}

func writeOperators(w io.Writer, rep *compat.SavepointReport) {
	fmt.Fprintln(w, "\noperators:")
	for _, op := range rep.Operators {
		id := op.UID
		if id == "" {
			id = "hash " + op.ID
		}
		name := ""
		if op.Name != "" {
			name = " " + op.Name
		}
		fmt.Fprintf(w, "  %s%s (parallelism %d, max %d)\n", id, name, op.Parallelism, op.MaxParallelism)
		for _, st := range op.States {
			fmt.Fprintf(w, "    %-8s %-24s %s\n", st.Kind, st.Name, strings.Join(st.Serializers, ", "))
		}
	}
}
