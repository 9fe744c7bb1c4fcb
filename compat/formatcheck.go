package compat

import (
	"fmt"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// CodeNativeSavepoint: the savepoint holds keyed state in a state
// backend's native format (RocksDB SST files: incremental key-group
// handles) and is offered to another major Flink version.
const CodeNativeSavepoint = "NATIVE_SAVEPOINT"

// Keyed state handle types of _metadata that hold a state backend's own
// files rather than Flink's canonical key-group streams
// (MetadataV2V3SerializerBase: INCREMENTAL_KEY_GROUPS_HANDLE and its V2).
const (
	handleIncremental   = 5
	handleIncrementalV2 = 11
)

// nativeKeyed reports whether a keyed handle (or a handle nested in a
// changelog handle) is in a native format.
func nativeKeyed(h *savepoint.KeyedStateHandle) bool {
	if h == nil {
		return false
	}
	if h.Type == handleIncremental || h.Type == handleIncrementalV2 {
		return true
	}
	for _, n := range h.Nested {
		if nativeKeyed(n) {
			return true
		}
	}
	return false
}

// formatFindings returns a finding for a NATIVE-format savepoint offered
// to another major version than the one that took it. What it says was
// observed on real Flink (runtime/local TestSavepointFormats_RocksDB_1_20_to_2_2,
// docs/compat.md): a native RocksDB savepoint of Flink 1.20 (FRocksDB
// 6.20.3) restored on Flink 2.2 (FRocksDB 8.10.0) with every state value
// read back intact, as the canonical one did; but Flink promises native
// savepoints across minor versions only, so it is a WARNING, not an ERROR.
// flinkplane's own snapshots are always canonical; a native savepoint
// reaches the check through `flinkplane check savepoint` (or a retained
// checkpoint, which is native with incremental RocksDB checkpoints).
func formatFindings(md *savepoint.Metadata, takenMajor, targetMajor int) []flinkplane.Finding {
	if takenMajor == targetMajor {
		return nil
	}
	var ops []string
	for _, op := range md.Operators {
		for _, st := range op.Subtasks {
			if nativeKeyed(st.ManagedKeyed) || nativeKeyed(st.RawKeyed) {
				name := op.ID
				if op.UID != "" {
					name = op.UID
				}
				ops = append(ops, name)
				break
			}
		}
	}
	if len(ops) == 0 {
		return nil
	}
	return []flinkplane.Finding{{
		Severity: flinkplane.SeverityWarning, Code: CodeNativeSavepoint, Class: "operator " + ops[0],
		Symbol: fmt.Sprintf("%d operator(s) with native keyed state", len(ops)),
		Message: fmt.Sprintf("The savepoint holds RocksDB's own files of Flink %d.x (NATIVE format) for %d operator(s), e.g. %s; Flink promises native savepoints across minor versions only, not to Flink %d.x (a 1.20 native savepoint of a RocksDB job did restore on 2.2 in flinkplane's tests).",
			takenMajor, len(ops), ops[0], targetMajor),
		Hint: "Upgrade from a CANONICAL savepoint (flinkplane's snapshots are canonical).",
	}}
}
