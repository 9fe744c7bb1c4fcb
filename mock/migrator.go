package mock

import (
	"context"
	"sync"

	"github.com/flinkplane/flinkplane"
)

// Migrator is a recording flinkplane.StateMigrator. CheckFunc and
// MigrateFunc decide the results (nil: one operator migrated); Calls
// records "CheckMigration(savepoint)" and "MigrateState(savepoint->out)".
type Migrator struct {
	mu          sync.Mutex
	CheckFunc   func(spec flinkplane.MigrationSpec) (*flinkplane.MigrationResult, error)
	MigrateFunc func(spec flinkplane.MigrationSpec) (*flinkplane.MigrationResult, error)
	Calls       []string
	Specs       []flinkplane.MigrationSpec
	// Written, if set, is told the output of every default migration.
	Written func(out string)
}

var _ flinkplane.StateMigrator = (*Migrator)(nil)

// Migrated is the result the fake gives by default: one operator's value
// state moved.
func Migrated(spec flinkplane.MigrationSpec, check bool) *flinkplane.MigrationResult {
	r := &flinkplane.MigrationResult{Source: spec.Savepoint, From: spec.From, To: spec.To,
		Operators: []flinkplane.MigratedOperator{{ID: "2dbf5aee9f8a16190d7eb1a3893a94ca", UID: "pojo-state",
			States: []flinkplane.MigratedState{{Name: "key-state", Kind: "VALUE", From: "PojoSerializer", To: "PojoType<KeyState>"}}}},
		Findings: []flinkplane.Finding{{Severity: flinkplane.SeverityInfo, Code: flinkplane.CodeStateMigration, Message: "will move"}}}
	if !check {
		r.Savepoint = spec.Out
		r.Operators[0].Keys, r.Operators[0].Values = 10, 10
		r.Findings[0].Message = "moved"
	}
	return r
}

func (m *Migrator) CheckMigration(ctx context.Context, spec flinkplane.MigrationSpec) (*flinkplane.MigrationResult, error) {
	m.mu.Lock()
	m.Calls = append(m.Calls, "CheckMigration("+spec.Savepoint+")")
	m.Specs = append(m.Specs, spec)
	f := m.CheckFunc
	m.mu.Unlock()
	if f == nil {
		return Migrated(spec, true), nil
	}
	return f(spec)
}

func (m *Migrator) MigrateState(ctx context.Context, spec flinkplane.MigrationSpec) (*flinkplane.MigrationResult, error) {
	m.mu.Lock()
	m.Calls = append(m.Calls, "MigrateState("+spec.Savepoint+"->"+spec.Out+")")
	m.Specs = append(m.Specs, spec)
	f := m.MigrateFunc
	m.mu.Unlock()
	if f == nil {
		if m.Written != nil {
			m.Written(spec.Out)
		}
		return Migrated(spec, false), nil
	}
	return f(spec)
}

// CallList returns the calls so far.
func (m *Migrator) CallList() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.Calls...)
}
