package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/engine"
)

// storeDB is what serve needs of its store: *sqlite.DB or *postgres.DB.
type storeDB interface {
	flinkplane.Store
	flinkplane.MetricStore
	flinkplane.LogStore
	flinkplane.LeaseStore
}

// replicaFlags declares the store and replica flags of serve.
func replicaFlags(fs *flag.FlagSet) (store, replica, leaseTTL *string) {
	store = stringFlag(fs, "store", "sqlite", "where the control plane's state lives: sqlite (a file in the data directory) or a postgres:// URL of a database that several replicas share")
	replica = stringFlag(fs, "replica-id", "", "name of this server among the replicas of a shared store (default: host name, process id and a random suffix)")
	leaseTTL = stringFlag(fs, "lease-ttl", engine.DefaultLeaseTTL.String(), "how long an application's lease lasts unless its replica renews it: a dead replica's operations resume on another within about 1.25 times this")
	return store, replica, leaseTTL
}

// isPostgres reports whether --store names a PostgreSQL database.
func isPostgres(store string) bool {
	return strings.HasPrefix(store, "postgres://") || strings.HasPrefix(store, "postgresql://")
}

func checkStore(store string) error {
	if store == "" || store == "sqlite" || isPostgres(store) {
		return nil
	}
	return fmt.Errorf("--store must be sqlite or a postgres:// URL, not %q", store)
}

// configureLeases gives the engine the store's leases: in memory for
// SQLite (one server), on the database for PostgreSQL, where replicas take
// over each other's applications (docs/replicas.md).
func (m *Main) configureLeases(e *engine.Engine) {
	e.Leases = m.DB
	e.ReplicaID = m.Config.ReplicaID
	e.LeaseTTL = m.Config.LeaseTTL
	if m.mon.shipper != nil {
		m.mon.shipper.Drives = e.Drives
	}
}
