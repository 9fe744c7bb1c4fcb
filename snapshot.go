package flinkplane

import "time"

// Snapshot statuses (SnapshotStatus).
const (
	SnapshotCreating = "CREATING"
	SnapshotReady    = "READY"
	SnapshotDeleting = "DELETING"
	SnapshotFailed   = "FAILED"
)

// Snapshot is an application snapshot: a Flink savepoint with the version
// and runtime it was taken on.
type Snapshot struct {
	ApplicationName string    `json:"applicationName"`
	Name            string    `json:"name"`
	Status          string    `json:"status"`
	VersionID       int64     `json:"versionId"`
	Runtime         RuntimeID `json:"runtime"`
	CreateTime      time.Time `json:"createTime"`
	// Location is the savepoint's path (set when READY).
	Location string `json:"location,omitempty"`
	// OperationID is the operation that took (or is taking) the snapshot.
	OperationID string `json:"operationId,omitempty"`
	// Automatic marks snapshots the service took on stop or update.
	Automatic bool `json:"automatic,omitempty"`
}

// LatestRestorable returns the newest READY snapshot that target can
// restore (CanRestore), or nil.
func LatestRestorable(snaps []*Snapshot, target RuntimeID) *Snapshot {
	var best *Snapshot
	for _, s := range snaps {
		if s.Status != SnapshotReady || s.Location == "" || !CanRestore(s.Runtime, target) {
			continue
		}
		if best == nil || s.CreateTime.After(best.CreateTime) ||
			(s.CreateTime.Equal(best.CreateTime) && s.Name > best.Name) {
			best = s
		}
	}
	return best
}
