package local

import (
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"

	"github.com/flinkplane/flinkplane"
)

// metadataMagic starts every checkpoint/savepoint _metadata file.
const metadataMagic = 0x4960672d

// MaxMetadataVersion returns the newest savepoint _metadata version a
// runtime can read: 1.x reads up to V4, 2.0 up to V5, 2.1+ up to V6.
func MaxMetadataVersion(id flinkplane.RuntimeID) int {
	major, minor, _ := id.Version()
	switch {
	case major < 2:
		return 4
	case major == 2 && minor == 0:
		return 5
	}
	return 6
}

// SavepointMetadataVersion reads the version of a savepoint's _metadata
// (location: the savepoint directory or its _metadata file, local path or
// file: URI).
func SavepointMetadataVersion(location string) (int, error) {
	p := localPath(location)
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		p = filepath.Join(p, "_metadata")
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return ReadMetadataVersion(f, location)
}

// ReadMetadataVersion reads the version from the first 8 bytes of a
// checkpoint's or savepoint's _metadata (location names it in the error).
func ReadMetadataVersion(r io.Reader, location string) (int, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, err
	}
	if binary.BigEndian.Uint32(hdr[:4]) != metadataMagic {
		return 0, flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "%s is not a Flink savepoint (bad magic number).", location)
	}
	return int(binary.BigEndian.Uint32(hdr[4:])), nil
}

// CheckSavepointVersion refuses (EINVALIDCONFIG) a savepoint written by a
// newer Flink than the target runtime can read. A savepoint that cannot be
// read locally is left to Flink.
func CheckSavepointVersion(location string, target flinkplane.RuntimeID) error {
	v, err := SavepointMetadataVersion(location)
	if err != nil {
		if e, ok := err.(*flinkplane.Error); ok {
			return e
		}
		return nil
	}
	if max := MaxMetadataVersion(target); v > max {
		return flinkplane.Errorf(flinkplane.EINVALIDCONFIG,
			"Snapshot %s has savepoint format version %d, written by a newer Flink than %s can read (up to version %d); a 2.x snapshot cannot be restored on 1.x.",
			location, v, target, max)
	}
	return nil
}

// checkSavepointVersion is CheckSavepointVersion for local and S3
// locations (an S3 savepoint's header is read through Storage).
func (d *Driver) checkSavepointVersion(ctx context.Context, location string, target flinkplane.RuntimeID) error {
	if !isS3(location) || d.Storage == nil {
		return CheckSavepointVersion(location, target)
	}
	v, err := d.Storage.metadataVersion(ctx, location)
	if err != nil {
		if e, ok := err.(*flinkplane.Error); ok {
			return e
		}
		return nil // unreadable here: left to Flink
	}
	if max := MaxMetadataVersion(target); v > max {
		return flinkplane.Errorf(flinkplane.EINVALIDCONFIG,
			"Snapshot %s has savepoint format version %d, written by a newer Flink than %s can read (up to version %d); a 2.x snapshot cannot be restored on 1.x.",
			location, v, target, max)
	}
	return nil
}
