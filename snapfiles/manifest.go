package snapfiles

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/flinkplane/flinkplane/compat/savepoint"
	"github.com/flinkplane/flinkplane/internal/atomicfile"
)

const (
	manifestName    = "manifest.json"
	manifestVersion = 1
)

// manifest lists the copies kept with a snapshot (Dir/manifest.json). It is
// written after every copy it lists is complete, so a copy it does not list
// is never used.
type manifest struct {
	Version int        `json:"version"`
	Files   []keptFile `json:"files"`
}

// keptFile is one local part file of the snapshot's state.
type keptFile struct {
	// Kind is "in-progress" (writer state) or "pending" (closed for commit).
	Kind     string `json:"kind"`
	Operator string `json:"operator"`
	Subtask  int32  `json:"subtask"`
	// Temp is the part file's temporary path, Target its committed path,
	// Offset its length in the snapshot.
	Temp   string `json:"temp"`
	Target string `json:"target"`
	Offset int64  `json:"offset"`
	// Copy is the name of the copy in Dir; "" when there is none: the part
	// file was gone when the snapshot was taken, or it was pending and
	// committed already.
	Copy string `json:"copy,omitempty"`
	// CRC32C is the copy's CRC-32C (Castagnoli), checked before the copy
	// is put back.
	CRC32C string `json:"crc32c,omitempty"`
	// From is what the copy was taken from: "temp" (the in-progress file)
	// or "target" (the job had committed it already).
	From string `json:"from,omitempty"`
}

// find returns the entry for a part file, nil if none.
func (m *manifest) find(rec savepoint.Recoverable, pending bool) *keptFile {
	if m == nil {
		return nil
	}
	kind := "in-progress"
	if pending {
		kind = "pending"
	}
	for i := range m.Files {
		if e := &m.Files[i]; e.Kind == kind && e.Temp == rec.TempFile && e.Target == rec.TargetFile && e.Offset == rec.Offset {
			return e
		}
	}
	return nil
}

// readManifest reads the manifest of the savepoint at dir; a savepoint
// without one has an empty manifest.
func readManifest(dir string) (*manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, Dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return &manifest{Version: manifestVersion}, nil
	} else if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", manifestName, err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("%s: version %d, want %d", manifestName, m.Version, manifestVersion)
	}
	return &m, nil
}

func writeManifest(dir string, m *manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, Dir, manifestName), append(b, '\n'), 0o644)
}

// hasher computes the checksum of a copy: CRC-32C, hardware-accelerated, as
// S3 and other stores use for the integrity of stored bytes (a copy is
// checked against accidental damage, not against an adversary).
type hasher struct{ hash.Hash32 }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func newHash() hasher { return hasher{crc32.New(castagnoli)} }

func (h hasher) hex() string { return hex.EncodeToString(h.Sum(nil)) }
