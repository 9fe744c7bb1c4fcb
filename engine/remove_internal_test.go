package engine

import (
	"testing"

	"github.com/flinkplane/flinkplane/metrics"
	"github.com/flinkplane/flinkplane/sqlite"
)

// The server hands the engine the store wrapped by the metrics package
// (transaction timing): the store's reserve for deletions on a full disk
// and its code-reference index must still be found through the wrapper
// (they were not, and DeleteApplication on a full disk failed).
func TestStoreAs_ThroughInstrumentedStore(t *testing.T) {
	db := sqlite.New(t.TempDir())
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, cp := metrics.NewRegistry(nil)
	store := cp.InstrumentStore(db)
	if _, ok := storeAs[CodeRefCounter](store); !ok {
		t.Error("CodeRefCounter hidden by the instrumented store")
	}
	if _, ok := storeAs[ReserveUpdater](store); !ok {
		t.Error("ReserveUpdater hidden by the instrumented store")
	}
	// A store without the capability is not given one.
	if _, ok := storeAs[ReserveUpdater](cp.InstrumentStore(nil)); ok {
		t.Error("a nil store reported a reserve")
	}
}
