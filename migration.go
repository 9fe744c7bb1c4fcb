package flinkplane

import (
	"context"
	"fmt"
	"strings"
)

// Finding codes of the state migration.
const (
	// CodeStateMigration (INFO) says which state an update migrates.
	CodeStateMigration = "STATE_MIGRATION"
	// CodeStateNotMigratable (ERROR) says why state the target cannot
	// restore cannot be migrated either.
	CodeStateNotMigratable = "STATE_NOT_MIGRATABLE"
)

// MigrationSpec describes a state migration: the savepoint, the runtime
// and jar that wrote it, and the runtime and jar that will restore it.
type MigrationSpec struct {
	Savepoint string
	From, To  RuntimeID
	// OldJar holds the classes the state was written with (empty: NewJar);
	// NewJar is the job that will restore the state (its main() runs to
	// tell the state descriptors and key serializer of its operators).
	OldJar, NewJar string
	EntryClass     string
	Args           []string
	Parallelism    int
	// Properties are the application's EnvironmentProperties, delivered to
	// the new job's main() as on the cluster.
	Properties []PropertyGroup
	// Operators are the ids (32 hex digits) of the operators whose state is
	// migrated; empty: those whose state the target cannot restore.
	Operators []string
	// Out is the directory of the migrated savepoint (MigrateState): it
	// must not exist; it is written under another name and renamed.
	Out string
}

// MigrationResult says what a state migration moved (or, from a check,
// would move) and what it could not.
type MigrationResult struct {
	Source    string             `json:"source"`
	Savepoint string             `json:"savepoint,omitempty"`
	From      RuntimeID          `json:"from"`
	To        RuntimeID          `json:"to"`
	Operators []MigratedOperator `json:"operators"`
	// Notes are what a person should know: fields the new classes added
	// (left at their defaults) or dropped.
	Notes []string `json:"notes,omitempty"`
	// Findings: STATE_NOT_MIGRATABLE errors of a refused migration, the
	// findings of the migrated savepoint's check.
	Findings []Finding `json:"findings,omitempty"`
	Seconds  float64   `json:"seconds"`
	// ReadSeconds and WriteSeconds are the walls of the two JVMs;
	// ReadPeakRSS and WritePeakRSS their peak resident memory in bytes.
	ReadSeconds  float64 `json:"readSeconds,omitempty"`
	WriteSeconds float64 `json:"writeSeconds,omitempty"`
	ReadPeakRSS  int64   `json:"readPeakRss,omitempty"`
	WritePeakRSS int64   `json:"writePeakRss,omitempty"`
}

// Migratable reports whether a finding of the compatibility check names
// state the state migration can move into the form the target restores:
// a POJO whose collection field Flink 1.x wrote with Kryo.
func Migratable(f Finding) bool {
	return f.Severity == SeverityError && f.Code == "POJO_COLLECTION_KRYO"
}

// Refused reports whether the migration was refused (an ERROR finding).
func (r *MigrationResult) Refused() bool {
	for _, f := range r.Findings {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// MigratedOperator is the keyed state of one operator, migrated.
type MigratedOperator struct {
	ID     string          `json:"id"`
	UID    string          `json:"uid,omitempty"`
	States []MigratedState `json:"states"`
	// Keys, Values and timers moved (zero for a check).
	Keys             int64 `json:"keys"`
	Values           int64 `json:"values"`
	EventTimers      int64 `json:"eventTimers,omitempty"`
	ProcessingTimers int64 `json:"processingTimers,omitempty"`
}

// String describes the operator's migration for a person.
func (o MigratedOperator) String() string {
	var b strings.Builder
	b.WriteString("operator ")
	if o.UID != "" {
		fmt.Fprintf(&b, "uid %q (id %s)", o.UID, o.ID)
	} else {
		b.WriteString("id " + o.ID)
	}
	fmt.Fprintf(&b, ": %d keys, %d values, %d timers", o.Keys, o.Values, o.EventTimers+o.ProcessingTimers)
	for _, s := range o.States {
		fmt.Fprintf(&b, "; %s state %q: %s -> %s", strings.ToLower(s.Kind), s.Name, s.From, s.To)
	}
	return b.String()
}

// MigratedState is one keyed state: its serializer in the savepoint and
// the type the new job declares for it.
type MigratedState struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // VALUE, LIST, MAP
	From string `json:"from"`
	To   string `json:"to"`
}

// StateMigration is the record of an update's state migration, kept with
// its operation. Source and Savepoint are recorded before anything is
// written; Snapshot and Result once the migrated savepoint is complete.
type StateMigration struct {
	// Source is the snapshot's savepoint the migration reads (never
	// changed: a rollback restores it).
	Source string `json:"source,omitempty"`
	// Savepoint is the migrated savepoint the new job restores.
	Savepoint string `json:"savepoint,omitempty"`
	// Snapshot names the automatic snapshot of the migrated savepoint.
	Snapshot string           `json:"snapshot,omitempty"`
	Result   *MigrationResult `json:"result,omitempty"`
}

// StateMigrator moves state a target runtime cannot restore into the form
// the new job restores: read on the source runtime with the serializers
// recorded in the savepoint, written on the target with the serializers
// the new job declares.
type StateMigrator interface {
	// CheckMigration tells, without moving data, whether the state of the
	// operators MigrationSpec names (or that the target cannot restore) can
	// be migrated: a result with STATE_NOT_MIGRATABLE findings if not.
	// Returns ENOTFOUND if a runtime or its State Processor API is not
	// installed, EINVALID if the savepoint is not one.
	CheckMigration(ctx context.Context, spec MigrationSpec) (*MigrationResult, error)
	// MigrateState writes the migrated savepoint to spec.Out, leaving the
	// source savepoint untouched. A refused migration is a result with
	// STATE_NOT_MIGRATABLE findings and nothing written.
	MigrateState(ctx context.Context, spec MigrationSpec) (*MigrationResult, error)
}
