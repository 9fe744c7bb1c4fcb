// Package migrate moves the state of a savepoint that a target Flink
// runtime cannot restore into the form the new job restores: Flink 1.x
// POJO state whose collection fields Kryo wrote, which Flink 2.x serializes
// with its own List/Map serializers (compat's POJO_COLLECTION_KRYO).
//
// It runs two JVMs of a Java helper (java/StateMigrate.java) with Flink's
// State Processor API: on the source runtime, with the jar the state was
// written with, it reads each chosen operator's keyed state (value, list and
// map states, the timers of a process function) with the serializers
// recorded in the savepoint and writes every key's values in a neutral,
// self-describing encoding (docs/migrate.md); on the target runtime, with the
// new jar, it runs the new job's main() to learn the state descriptors and
// key serializer of those operators, builds the values into the new job's
// classes and writes them with those descriptors into a new savepoint that
// takes every other operator's state over unchanged
// (SavepointWriter.fromExistingSavepoint). The source savepoint is never
// changed; the result is written under another name and renamed into place,
// then checked like any savepoint.
package migrate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/internal/appjar"
)

// Defaults of a Migrator.
const (
	DefaultHeap    = "1g"
	DefaultTimeout = 30 * time.Minute
	// rocksDBAbove is the savepoint size above which the helper reads and
	// writes state through RocksDB rather than the heap.
	rocksDBAbove = 64 << 20
)

// Migrator implements flinkplane.StateMigrator on the installed runtimes.
type Migrator struct {
	// RuntimesDir holds the runtimes and their tools (default
	// $FLINKPLANE_RUNTIMES_DIR or ~/.cache/flinkplane/runtimes).
	RuntimesDir string
	// CacheDir holds the compiled helpers (default
	// ~/.cache/flinkplane/migrate).
	CacheDir string
	// Java is the java command (default: runtime.JavaCommand()).
	Java string
	// Heap is each JVM's -Xmx (default DefaultHeap).
	Heap string
	// Timeout bounds each JVM (default DefaultTimeout).
	Timeout time.Duration
	// Parallelism of the State Processor API jobs (default 1).
	Parallelism int
	// Backend is "hashmap", "rocksdb" or "" (by the savepoint's size).
	Backend string

	mu sync.Mutex // compiling a helper
}

var _ flinkplane.StateMigrator = (*Migrator)(nil)

// DefaultCacheDir is ~/.cache/flinkplane/migrate.
func DefaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "flinkplane-migrate")
	}
	return filepath.Join(d, "flinkplane", "migrate")
}

// readAnswer is the helper's answer to read.
type readAnswer struct {
	OK         bool   `json:"ok"`
	PeakRssKiB int64  `json:"peakRssKiB"`
	Refused    string `json:"refused"`
	Operator   string `json:"operator"`
	Error      *jerr  `json:"error"`
	Operators  []struct {
		ID             string `json:"id"`
		MaxParallelism int    `json:"maxParallelism"`
		KeySerializer  string `json:"keySerializer"`
		States         []struct {
			Name       string `json:"name"`
			Kind       string `json:"kind"`
			Serializer string `json:"serializer"`
		} `json:"states"`
		Timers           bool  `json:"timers"`
		Keys             int64 `json:"keys"`
		Values           int64 `json:"values"`
		EventTimers      int64 `json:"eventTimers"`
		ProcessingTimers int64 `json:"processingTimers"`
	} `json:"operators"`
}

// writeAnswer is the helper's answer to write.
type writeAnswer struct {
	OK         bool   `json:"ok"`
	PeakRssKiB int64  `json:"peakRssKiB"`
	Refused    string `json:"refused"`
	Operator   string `json:"operator"`
	Error      *jerr  `json:"error"`
	Operators  []struct {
		ID       string `json:"id"`
		UID      string `json:"uid"`
		Function string `json:"function"`
		States   []struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
			Type string `json:"type"`
		} `json:"states"`
	} `json:"operators"`
	Notes []string `json:"notes"`
}

type jerr struct {
	Class      string `json:"class"`
	Message    string `json:"message"`
	StackTrace string `json:"stackTrace"`
}

// Operators returns the operators of a savepoint whose state the target
// cannot restore and the migration can move (by the savepoint check's
// findings), and the ERROR findings it cannot repair.
func Operators(ctx context.Context, savepoint string, target flinkplane.RuntimeID) (ids []string, other []flinkplane.Finding, err error) {
	rep, err := compat.CheckSavepointFor(ctx, savepoint, target, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Severity != flinkplane.SeverityError {
			continue
		}
		if !flinkplane.Migratable(f) {
			other = append(other, f)
			continue
		}
		op, ok := compat.FindingOperator(rep, f)
		if !ok {
			other = append(other, f)
			continue
		}
		if !seen[op.ID] {
			seen[op.ID] = true
			ids = append(ids, op.ID)
		}
	}
	sort.Strings(ids)
	return ids, other, nil
}

// CheckMigration implements flinkplane.StateMigrator.
func (m *Migrator) CheckMigration(ctx context.Context, spec flinkplane.MigrationSpec) (*flinkplane.MigrationResult, error) {
	return m.migrate(ctx, spec, true)
}

// MigrateState implements flinkplane.StateMigrator.
func (m *Migrator) MigrateState(ctx context.Context, spec flinkplane.MigrationSpec) (*flinkplane.MigrationResult, error) {
	if spec.Out == "" {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "The migrated savepoint needs an output directory.")
	}
	if _, err := os.Stat(spec.Out); err == nil {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "The output directory %s exists: the migration writes a new savepoint.", spec.Out)
	}
	return m.migrate(ctx, spec, false)
}

func (m *Migrator) migrate(ctx context.Context, spec flinkplane.MigrationSpec, inspect bool) (*flinkplane.MigrationResult, error) {
	start := time.Now()
	sp, err := savepointDir(spec.Savepoint)
	if err != nil {
		return nil, err
	}
	if spec.NewJar == "" {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "The migration needs the new job's jar.")
	}
	for _, j := range []string{spec.NewJar, spec.OldJar} {
		if j == "" {
			continue
		}
		if _, err := os.Stat(j); err != nil {
			return nil, flinkplane.Errorf(flinkplane.ECODE, "Cannot read the application code %s: %v.", j, err)
		}
	}
	oldJar := spec.OldJar
	if oldJar == "" {
		oldJar = spec.NewJar
	}
	if oldJar, err = filepath.Abs(oldJar); err != nil {
		return nil, err
	}
	res := &flinkplane.MigrationResult{Source: sp, From: spec.From, To: spec.To, Operators: []flinkplane.MigratedOperator{}}
	ids := spec.Operators
	if len(ids) == 0 {
		ids, _, err = Operators(ctx, sp, spec.To)
		if err != nil {
			return nil, err
		}
	}
	if len(ids) == 0 {
		if inspect {
			res.Seconds = time.Since(start).Seconds()
			return res, nil
		}
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "The savepoint %s has no state that needs migrating to %s.", sp, spec.To)
	}
	from, err := m.helper(ctx, spec.From)
	if err != nil {
		return nil, err
	}
	to, err := m.helper(ctx, spec.To)
	if err != nil {
		return nil, err
	}

	// The work directory (the neutral encoding of the state can be as big
	// as the state) sits next to the output, on its file system.
	parent := os.TempDir()
	if spec.Out != "" {
		parent = filepath.Dir(spec.Out)
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return nil, err
		}
	}
	// (The prefix is how a resumed MIGRATE_STATE step finds what a killed
	// run left: engine/migrate.go.)
	work, err := os.MkdirTemp(parent, ".flinkplane-migrate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	data := filepath.Join(work, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	par := m.Parallelism
	if par <= 0 {
		par = 1
	}
	backend := m.Backend
	if backend == "" {
		backend = "hashmap"
		if n, _ := dirBytes(sp); n > rocksDBAbove {
			backend = "rocksdb"
		}
	}
	common := map[string]string{"savepoint": sp, "backend": backend, "parallelism": strconv.Itoa(par),
		"inspect": strconv.FormatBool(inspect)}

	// Read on the source runtime.
	rp := clone(common)
	rp["operators"] = strings.Join(ids, ",")
	rp["out"] = data
	b, rr, err := m.run(ctx, from, "read", rp, oldJar, work, inspect)
	res.ReadSeconds, res.ReadPeakRSS = rr.Seconds, rr.PeakRSS
	if err != nil {
		return nil, err
	}
	var ra readAnswer
	if err := json.Unmarshal(b, &ra); err != nil {
		return nil, fmt.Errorf("state migration read: %v", err)
	}
	if ra.PeakRssKiB > 0 {
		res.ReadPeakRSS = ra.PeakRssKiB << 10
	}
	if !ra.OK {
		if ra.Refused != "" {
			res.Findings = append(res.Findings, refusal(ra.Operator, ra.Refused))
			res.Seconds = time.Since(start).Seconds()
			return res, nil
		}
		return nil, helperError("read the state on "+string(spec.From), ra.Error, rr.Output)
	}

	// Write on the target runtime, with the new jar as its cluster gets it.
	props := filepath.Join(work, "application_properties.json")
	if err := appjar.WriteProperties(props, spec.Properties); err != nil {
		return nil, err
	}
	newJar := filepath.Join(work, "jars", strings.TrimSuffix(filepath.Base(spec.NewJar), ".jar")+".jar")
	if err := os.MkdirAll(filepath.Dir(newJar), 0o755); err != nil {
		return nil, err
	}
	if err := appjar.RewriteJar(spec.NewJar, newJar, props); err != nil {
		return nil, err
	}
	wp := clone(common)
	wp["manifest"] = filepath.Join(work, "read.json")
	wp["in"] = data
	wp["jar"] = newJar
	wp["entry"] = spec.EntryClass
	wp["args"] = strconv.Itoa(len(spec.Args))
	for i, a := range spec.Args {
		wp["arg."+strconv.Itoa(i)] = a
	}
	if spec.Parallelism > 0 {
		wp["jobParallelism"] = strconv.Itoa(spec.Parallelism)
	}
	writing := ""
	if !inspect {
		writing = spec.Out + ".writing-" + randomHex()
		wp["out"] = writing
		defer os.RemoveAll(writing)
	}
	b, wr, err := m.run(ctx, to, "write", wp, newJar, work, inspect)
	res.WriteSeconds, res.WritePeakRSS = wr.Seconds, wr.PeakRSS
	if err != nil {
		return nil, err
	}
	var wa writeAnswer
	if err := json.Unmarshal(b, &wa); err != nil {
		return nil, fmt.Errorf("state migration write: %v", err)
	}
	if wa.PeakRssKiB > 0 {
		res.WritePeakRSS = wa.PeakRssKiB << 10
	}
	if !wa.OK {
		if wa.Refused != "" {
			res.Findings = append(res.Findings, refusal(wa.Operator, wa.Refused))
			res.Seconds = time.Since(start).Seconds()
			return res, nil
		}
		return nil, helperError("write the state for "+string(spec.To), wa.Error, wr.Output)
	}
	res.Notes = wa.Notes
	written := map[string]int{}
	for i, o := range wa.Operators {
		written[o.ID] = i
	}
	for _, o := range ra.Operators {
		mo := flinkplane.MigratedOperator{ID: o.ID, Keys: o.Keys, Values: o.Values, EventTimers: o.EventTimers, ProcessingTimers: o.ProcessingTimers}
		w, ok := written[o.ID]
		if ok {
			mo.UID = wa.Operators[w].UID
		}
		for _, s := range o.States {
			ms := flinkplane.MigratedState{Name: s.Name, Kind: s.Kind, From: s.Serializer}
			if ok {
				for _, ws := range wa.Operators[w].States {
					if ws.Name == s.Name {
						ms.To = ws.Type
					}
				}
			}
			mo.States = append(mo.States, ms)
		}
		res.Operators = append(res.Operators, mo)
	}
	res.Findings = append(res.Findings, summary(res, inspect))
	if inspect {
		res.Seconds = time.Since(start).Seconds()
		return res, nil
	}

	// In place under its name, then checked like any savepoint.
	if err := os.Rename(writing, spec.Out); err != nil {
		return nil, err
	}
	syncDir(parent)
	res.Savepoint = spec.Out
	rep, err := compat.CheckSavepointFor(ctx, spec.Out, spec.To, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("check the migrated savepoint: %w", err)
	}
	res.Findings = append(res.Findings, rep.Findings...)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// summary is the INFO finding that says what is (or would be) migrated.
func summary(res *flinkplane.MigrationResult, inspect bool) flinkplane.Finding {
	var parts []string
	for _, o := range res.Operators {
		name := "operator " + o.ID
		if o.UID != "" {
			name = fmt.Sprintf("operator uid %q", o.UID)
		}
		var states []string
		for _, s := range o.States {
			states = append(states, fmt.Sprintf("%s %s (%s → %s)", strings.ToLower(s.Kind), s.Name, shortClass(s.From), s.To))
		}
		p := name + ": " + strings.Join(states, ", ")
		if !inspect {
			p += fmt.Sprintf("; %d keys, %d values", o.Keys, o.Values)
			if t := o.EventTimers + o.ProcessingTimers; t > 0 {
				p += fmt.Sprintf(", %d timers", t)
			}
		}
		parts = append(parts, p)
	}
	verb := "The state migration moved"
	if inspect {
		verb = "The state migration will move"
	}
	msg := fmt.Sprintf("%s the keyed state of %d operator(s) from %s to %s: %s.", verb, len(res.Operators), res.From, res.To, strings.Join(parts, "; "))
	if len(res.Notes) > 0 {
		msg += " " + strings.Join(res.Notes, " ")
	}
	return flinkplane.Finding{Severity: flinkplane.SeverityInfo, Code: flinkplane.CodeStateMigration, Message: msg}
}

func refusal(op, msg string) flinkplane.Finding {
	f := flinkplane.Finding{Severity: flinkplane.SeverityError, Code: flinkplane.CodeStateNotMigratable,
		Message: "The state cannot be migrated: " + msg,
		Hint:    "Change the job so that its state needs no migration (see docs/migrate.md), or roll back."}
	if op != "" {
		f.Class = "operator id " + op
	}
	return f
}

func helperError(what string, e *jerr, output string) error {
	if e == nil {
		return flinkplane.Errorf(flinkplane.EINTERNAL, "The state migration could not %s: %s", what, lastLines(output, 10))
	}
	return flinkplane.Errorf(flinkplane.EINTERNAL, "The state migration could not %s: %s", what, e.Message)
}

// savepointDir returns the directory of a savepoint (a directory or its
// _metadata file). Returns ENOTFOUND if there is none, EINVALID for a
// savepoint that is not local.
func savepointDir(p string) (string, error) {
	if strings.HasPrefix(p, "s3://") || strings.HasPrefix(p, "s3p://") || strings.HasPrefix(p, "s3a://") {
		return "", flinkplane.Errorf(flinkplane.EINVALID, "The state migration reads savepoints on the local file system; %s is in S3.", p)
	}
	p = strings.TrimPrefix(p, "file://")
	p = strings.TrimPrefix(p, "file:")
	if filepath.Base(p) == "_metadata" {
		p = filepath.Dir(p)
	}
	if _, err := os.Stat(filepath.Join(p, "_metadata")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", flinkplane.Errorf(flinkplane.ENOTFOUND, "No savepoint at %s.", p)
		}
		return "", err
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return abs, nil
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

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortStrings(s []string) { sort.Strings(s) }

func randomHex() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func shortClass(c string) string {
	if i := strings.LastIndexByte(c, '.'); i >= 0 {
		return c[i+1:]
	}
	return c
}

// Dump reads the keyed state of operators of a savepoint on runtime rt,
// with the serializers the savepoint records and the classes of jar, into
// the neutral encoding: one file <id>.jsonl per operator in dir, one line
// per key (docs/migrate.md). It is the read half of a migration, kept for
// checking state (the tests compare the state before and after an upgrade
// key by key).
func (m *Migrator) Dump(ctx context.Context, savepoint string, rt flinkplane.RuntimeID, jar string, operators []string, dir string) (map[string]string, error) {
	sp, err := savepointDir(savepoint)
	if err != nil {
		return nil, err
	}
	if jar, err = filepath.Abs(jar); err != nil {
		return nil, err
	}
	h, err := m.helper(ctx, rt)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(dir, ".dump-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	backend := m.Backend
	if backend == "" {
		backend = "hashmap"
	}
	b, r, err := m.run(ctx, h, "read", map[string]string{"savepoint": sp, "operators": strings.Join(operators, ","), "out": dir,
		"backend": backend, "parallelism": "1"}, jar, work, false)
	if err != nil {
		return nil, err
	}
	var ra readAnswer
	if err := json.Unmarshal(b, &ra); err != nil {
		return nil, err
	}
	if !ra.OK {
		if ra.Refused != "" {
			return nil, flinkplane.Errorf(flinkplane.EINVALID, "%s", ra.Refused)
		}
		return nil, helperError("read the state on "+string(rt), ra.Error, r.Output)
	}
	out := map[string]string{}
	for _, o := range ra.Operators {
		out[o.ID] = filepath.Join(dir, o.ID+".jsonl")
	}
	return out, nil
}
