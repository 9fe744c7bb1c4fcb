package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/migrate"
	"github.com/flinkplane/flinkplane/runtime"
)

func init() {
	commands["migrate-state"] = command{summary: "rewrite a savepoint's state that the target runtime cannot restore", run: runMigrateState}
}

const migrateUsage = `usage:
  flinkplane migrate-state --savepoint DIR --jar NEW.jar [--old-jar OLD.jar] --from FLINK-1_20 --to FLINK-2_2 --out DIR
      [--check] [--operators ID,...] [--properties FILE] [--parallelism N] [--entry-class C] [--format text|json]
      [--runtimes-dir DIR] [--cache-dir DIR] [--heap 1g] [-- PROGRAM ARGS]

Reads the keyed state of the operators whose state FLINK-2_2 cannot restore (or --operators) on the
source runtime with the savepoint's serializers and the old jar's classes (default: the new jar's),
and writes it with the new job's serializers into a new savepoint at --out; every other operator's
state is taken over unchanged, the source savepoint is not changed. --check only tells whether it can.

Exit status: 0 migrated (or, with --check, migratable), 1 refused, 2 usage or I/O error.`

func runMigrateState(ctx context.Context, args []string) error {
	return runMigrateStateTo(ctx, args, os.Stdout)
}

func runMigrateStateTo(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("migrate-state", flag.ContinueOnError)
	savepoint := stringFlag(fs, "savepoint", "", "the savepoint to migrate (directory or _metadata)")
	newJar := stringFlag(fs, "jar", "", "the new job's jar (restores the migrated savepoint)")
	oldJar := stringFlag(fs, "old-jar", "", "the jar the state was written with (default: --jar)")
	from := stringFlag(fs, "from", "", "the runtime that wrote the savepoint, e.g. FLINK-1_20")
	to := stringFlag(fs, "to", "", "the runtime that will restore it, e.g. FLINK-2_2")
	outDir := stringFlag(fs, "out", "", "directory of the migrated savepoint (must not exist)")
	check := boolFlag(fs, "check", false, "only tell whether the state can be migrated")
	operators := stringFlag(fs, "operators", "", "operator ids to migrate (default: those the target cannot restore)")
	properties := stringFlag(fs, "properties", "", "the application's EnvironmentProperties for the new job's main() (JSON)")
	parallelism := intFlag(fs, "parallelism", 0, "the new job's default parallelism")
	entry := stringFlag(fs, "entry-class", "", "the new job's entry class (default: from the manifest)")
	format := stringFlag(fs, "format", "text", "output format: text or json")
	runtimesDir := stringFlag(fs, "runtimes-dir", runtime.DefaultDir(), "directory of installed Flink runtimes")
	cacheDir := stringFlag(fs, "cache-dir", migrate.DefaultCacheDir(), "directory of the compiled migration helpers")
	heap := stringFlag(fs, "heap", migrate.DefaultHeap, "maximum heap of each migration JVM")
	var programArgs []string
	for i, a := range args {
		if a == "--" {
			args, programArgs = args[:i], args[i+1:]
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, migrateUsage)
		return usageErr("%v", err)
	}
	if *savepoint == "" || *newJar == "" || *from == "" || *to == "" || (*outDir == "" && !*check) || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, migrateUsage)
		return usageErr("--savepoint, --jar, --from, --to and --out are required")
	}
	if *format != "text" && *format != "json" {
		return usageErr("--format must be text or json")
	}
	spec := flinkplane.MigrationSpec{Savepoint: *savepoint, From: flinkplane.RuntimeID(*from), To: flinkplane.RuntimeID(*to),
		OldJar: *oldJar, NewJar: *newJar, EntryClass: *entry, Args: programArgs, Parallelism: *parallelism, Out: *outDir}
	for _, id := range strings.Split(*operators, ",") {
		if id = strings.ToLower(strings.TrimSpace(id)); id != "" {
			spec.Operators = append(spec.Operators, id)
		}
	}
	if *properties != "" {
		groups, err := readPropertyGroups(*properties)
		if err != nil {
			return usageErr("--properties: %v", err)
		}
		spec.Properties = groups
	}
	for _, id := range []flinkplane.RuntimeID{spec.From, spec.To} {
		if _, err := runtime.Lookup(id); err != nil {
			return usageErr("%s", flinkplane.ErrorMessage(err))
		}
	}
	m := &migrate.Migrator{RuntimesDir: *runtimesDir, CacheDir: *cacheDir, Heap: *heap}
	var res *flinkplane.MigrationResult
	var err error
	if *check {
		res, err = m.CheckMigration(ctx, spec)
	} else {
		res, err = m.MigrateState(ctx, spec)
	}
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("migrate-state: %s", flinkplane.ErrorMessage(err))}
	}
	if *format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printMigration(out, res, *check)
	}
	if res.Refused() {
		return &exitError{code: exitErrors, err: fmt.Errorf("migrate-state: the state cannot be migrated")}
	}
	return nil
}

func printMigration(w io.Writer, r *flinkplane.MigrationResult, check bool) {
	switch {
	case r.Refused():
		fmt.Fprintf(w, "%s: the state cannot be migrated from %s to %s\n", r.Source, r.From, r.To)
	case len(r.Operators) == 0:
		fmt.Fprintf(w, "%s: no state needs migrating to %s\n", r.Source, r.To)
	case check:
		fmt.Fprintf(w, "%s: the state of %d operator(s) can be migrated from %s to %s\n", r.Source, len(r.Operators), r.From, r.To)
	default:
		fmt.Fprintf(w, "%s -> %s: migrated the state of %d operator(s) from %s to %s in %.1f s (read %.1f s, write %.1f s)\n",
			r.Source, r.Savepoint, len(r.Operators), r.From, r.To, r.Seconds, r.ReadSeconds, r.WriteSeconds)
	}
	for _, o := range r.Operators {
		name := "operator " + o.ID
		if o.UID != "" {
			name = fmt.Sprintf("operator %s (uid %q)", o.ID, o.UID)
		}
		fmt.Fprintf(w, "  %s", name)
		if !check {
			fmt.Fprintf(w, ": %d keys, %d values, %d event and %d processing-time timers", o.Keys, o.Values, o.EventTimers, o.ProcessingTimers)
		}
		fmt.Fprintln(w)
		for _, s := range o.States {
			fmt.Fprintf(w, "    %-5s %-24s %s -> %s\n", s.Kind, s.Name, s.From, s.To)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	for _, f := range r.Findings {
		if f.Code == flinkplane.CodeStateMigration {
			continue
		}
		fmt.Fprintf(w, "\n%-7s %s  %s\n        %s\n", f.Severity, f.Code, f.Class, f.Message)
		if f.Hint != "" {
			fmt.Fprintf(w, "        hint: %s\n", f.Hint)
		}
	}
}
