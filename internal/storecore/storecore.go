// Package storecore holds what the SQL stores (sqlite/, postgres/) share
// that does not depend on the SQL dialect: the errors a store returns for
// its records, the JSON encoding of records, and the turning of result rows
// into domain values (metric statistics per period, metric listings, log
// groups, streams and events). Each store keeps only its SQL.
package storecore

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/flinkplane/flinkplane"
)

// Rows is a result set: *sql.Rows and pgx.Rows both are one.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Encode returns the JSON text of a record.
func Encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode record: %w", err)
	}
	return string(b), nil
}

// Decode parses the JSON text of a record.
func Decode[T any](data []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	return v, nil
}

// SortedKeys returns the keys of m in order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// AppNotFound is the ENOTFOUND of a missing application.
func AppNotFound(name string) error {
	return flinkplane.Errorf(flinkplane.ENOTFOUND, "Application %s not found.", name)
}

// AppExists is the EINUSE of creating an application that exists.
func AppExists(name string) error {
	return flinkplane.Errorf(flinkplane.EINUSE, "Application %s already exists.", name)
}

// VersionNotFound is the ENOTFOUND of a missing application version.
func VersionNotFound(app string, id int64) error {
	return flinkplane.Errorf(flinkplane.ENOTFOUND, "Application version %d of application %s not found.", id, app)
}

// VersionExists is the ECONFLICT of creating a version that exists.
func VersionExists(app string, id int64) error {
	return flinkplane.Errorf(flinkplane.ECONFLICT, "Application version %d of %s already exists.", id, app)
}

// SnapshotNotFound is the ENOTFOUND of a missing snapshot.
func SnapshotNotFound(app, name string) error {
	return flinkplane.Errorf(flinkplane.ENOTFOUND, "Snapshot %s of application %s not found.", name, app)
}

// SnapshotExists is the EINUSE of creating a snapshot that exists.
func SnapshotExists(app, name string) error {
	return flinkplane.Errorf(flinkplane.EINUSE, "Snapshot %s already exists for application %s.", name, app)
}

// OperationNotFound is the ENOTFOUND of a missing operation.
func OperationNotFound(app, id string) error {
	return flinkplane.Errorf(flinkplane.ENOTFOUND, "Operation %s of application %s not found.", id, app)
}

// NoHealth is the ENOTFOUND of an application without a health sample.
func NoHealth(app string) error {
	return flinkplane.Errorf(flinkplane.ENOTFOUND, "No health of application %s is recorded.", app)
}
