// Package savepointtest writes small savepoints for tests: a _metadata file
// in the format of Flink 1.20 (version 4) whose operators hold operator
// (non-keyed) list state inline, and the state elements of Flink's file
// sinks (FileSink writer bucket states, committer committables, Local and
// S3 recoverables) in the encodings Flink 1.20 and 2.2 use. Package
// savepoint reads what it writes; its tests check that against savepoints
// taken by real Flink.
package savepointtest

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"

	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// buf is a big-endian writer (java.io.DataOutput).
type buf struct{ bytes.Buffer }

func (b *buf) i32(v int32)  { binary.Write(&b.Buffer, binary.BigEndian, v) }
func (b *buf) u32(v uint32) { binary.Write(&b.Buffer, binary.BigEndian, v) }
func (b *buf) i64(v int64)  { binary.Write(&b.Buffer, binary.BigEndian, v) }
func (b *buf) i16(v int16)  { binary.Write(&b.Buffer, binary.BigEndian, v) }
func (b *buf) bool(v bool) {
	if v {
		b.WriteByte(1)
	} else {
		b.WriteByte(0)
	}
}
func (b *buf) utf(s string) { b.i16(int16(len(s))); b.WriteString(s) } // ASCII only
func (b *buf) versioned(version int32, p []byte) {
	b.i32(version)
	b.i32(int32(len(p)))
	b.Write(p)
}

// le is a little-endian writer (the RecoverableWriter serializers).
type le struct{ bytes.Buffer }

func (b *le) u32(v uint32) { binary.Write(&b.Buffer, binary.LittleEndian, v) }
func (b *le) i64(v int64)  { binary.Write(&b.Buffer, binary.LittleEndian, v) }
func (b *le) str(s string) { b.u32(uint32(len(s))); b.WriteString(s) }

// LocalRecoverable returns the bytes of a LocalRecoverable (serializer version 1).
func LocalRecoverable(target, temp string, offset int64) []byte {
	var b le
	b.u32(0x1e744b57)
	b.i64(offset)
	b.u32(uint32(len(target)))
	b.u32(uint32(len(temp)))
	b.WriteString(target)
	b.WriteString(temp)
	return b.Bytes()
}

// S3Recoverable returns the bytes of an S3Recoverable (serializer version 1).
func S3Recoverable(r savepoint.S3Recoverable) []byte {
	var b le
	b.u32(0x98761432)
	b.str(r.Key)
	b.str(r.UploadID)
	b.u32(uint32(len(r.Parts)))
	for _, p := range r.Parts {
		b.u32(uint32(p.Number))
		b.str(p.ETag)
	}
	b.i64(r.BytesInParts)
	b.str(r.IncompleteKey)
	b.i64(r.IncompleteLength)
	return b.Bytes()
}

// InProgress returns an OutputStreamBasedInProgressFileRecoverable (serializer
// version 2) around a resumable's bytes.
func InProgress(targetPath string, resume []byte) []byte {
	var b buf
	b.u32(0xb3a4073d)
	b.bool(targetPath != "")
	if targetPath != "" {
		b.utf(targetPath)
	}
	b.versioned(1, resume)
	return b.Bytes()
}

// Pending returns an OutputStreamBasedPendingFileRecoverable (serializer
// version 2) around a commit recoverable's bytes.
func Pending(targetPath string, size int64, commit []byte) []byte {
	var b buf
	b.u32(0x2c853c89)
	b.bool(targetPath != "")
	if targetPath != "" {
		b.utf(targetPath)
	}
	b.i64(size)
	b.versioned(1, commit)
	return b.Bytes()
}

// BucketState returns one element of a FileSink writer's state
// ("writer_raw_states"): a FileWriterBucketState of serializer version 3,
// with an in-progress file when inProgress (InProgress bytes) is not nil.
func BucketState(bucketID, bucketPath string, created int64, inProgress []byte) []byte {
	var b buf
	b.u32(0x1e764b79)
	var id le
	id.str(bucketID)
	b.versioned(1, id.Bytes())
	b.utf(bucketPath)
	b.i64(created)
	b.bool(inProgress != nil)
	if inProgress != nil {
		b.versioned(2, inProgress)
	}
	var out buf
	out.versioned(3, b.Bytes())
	return out.Bytes()
}

// StreamingBucketState returns one element of the StreamingFileSink's state
// ("bucket-states", BucketStateSerializer version 2, as FileSink restores
// it too): a bucket with an optional in-progress file and pending files
// (Pending bytes) for one checkpoint.
func StreamingBucketState(bucketID, bucketPath string, inProgress []byte, checkpointID int64, pending ...[]byte) []byte {
	var b buf
	b.u32(0x1e764b79)
	var id le
	id.str(bucketID)
	b.versioned(1, id.Bytes())
	b.utf(bucketPath)
	b.i64(1)
	b.bool(inProgress != nil)
	if inProgress != nil {
		b.versioned(2, inProgress)
	}
	b.i32(2) // pending file serializer version
	b.i32(1) // checkpoints
	b.i64(checkpointID)
	b.i32(int32(len(pending)))
	for _, p := range pending {
		b.i32(int32(len(p)))
		b.Write(p)
	}
	var out buf
	out.versioned(2, b.Bytes())
	return out.Bytes()
}

// Committables returns one element of a sink committer's state
// ("streaming_committer_raw_states") in Flink 2.2's encoding: a
// CommittableCollector with one checkpoint of one subtask holding a
// FileSink committable per pending file (Pending bytes).
func Committables(checkpointID int64, pending ...[]byte) []byte {
	var requests buf
	requests.i32(0) // request serializer version
	requests.i32(int32(len(pending)))
	for _, p := range pending {
		var c buf
		c.u32(0x1e765c80)
		c.utf("")
		c.bool(true)
		c.versioned(2, p)
		c.bool(false)
		c.bool(false)
		var req buf
		req.versioned(2, c.Bytes())
		req.i32(0) // retries
		req.i32(0) // RECEIVED
		requests.i32(int32(req.Len()))
		requests.Write(req.Bytes())
	}
	var subtask buf
	subtask.i32(0) // subtask id
	subtask.Write(requests.Bytes())
	subtask.i32(int32(len(pending))) // numCommittables
	subtask.i32(0)                   // numFailed
	var cp buf
	cp.i64(checkpointID)
	cp.i32(1) // number of subtasks
	cp.i32(2) // subtask serializer version (Flink 2.x)
	cp.i32(1)
	cp.i32(int32(subtask.Len()))
	cp.Write(subtask.Bytes())
	var col buf
	col.u32(0xb91f252c)
	col.i32(1) // checkpoint serializer version
	col.i32(1)
	col.i32(int32(cp.Len()))
	col.Write(cp.Bytes())
	var out buf
	out.versioned(2, col.Bytes())
	return out.Bytes()
}

// CommittablesV1 returns one element of a sink committer's state as Flink
// 1.13 and 1.14 wrote it for the sink v1 FileSink, which Flink 1.15 to 2.2
// still restore (CommittableCollectorSerializer version 1, read by
// SinkV1CommittableDeserializer): the collector magic, then a versioned
// list of FileSinkCommittables of serializer version 1 (no bucket id).
func CommittablesV1(pending ...[]byte) []byte {
	var list buf
	list.u32(0xb91f252c)
	list.i32(1) // FileSinkCommittableSerializer version 1
	list.i32(int32(len(pending)))
	for _, p := range pending {
		var c buf
		c.u32(0x1e765c80)
		c.bool(true)
		c.versioned(2, p)
		c.bool(false)
		list.i32(int32(c.Len()))
		list.Write(c.Bytes())
	}
	var out buf
	out.versioned(1, list.Bytes())
	return out.Bytes()
}

// Operator is one operator of a test savepoint: its uid (its id is derived
// from it as Flink does) and, per state name, the elements of a
// byte-array list state of subtask 0.
type Operator struct {
	UID    string
	States map[string][][]byte
	// File, if set, puts the operator state stream into a file of that
	// name beside _metadata (a relative handle) instead of inline.
	File string
}

// OperatorStream returns an operator state stream holding the byte-array
// list states: the serialization proxy header (version 6, uncompressed, no
// state meta information) followed by the elements, and each state's
// element offsets.
func OperatorStream(states map[string][][]byte) ([]byte, []savepoint.OperatorStateMeta) {
	var s buf
	s.i32(6)
	s.bool(false)
	s.i16(0)
	s.i16(0)
	var metas []savepoint.OperatorStateMeta
	for _, name := range sortedKeys(states) {
		m := savepoint.OperatorStateMeta{Name: name, Mode: "SPLIT_DISTRIBUTE"}
		for _, e := range states[name] {
			m.Offsets = append(m.Offsets, int64(s.Len()))
			s.i32(int32(len(e)))
			s.Write(e)
		}
		metas = append(metas, m)
	}
	return s.Bytes(), metas
}

// Metadata returns a version 4 _metadata (Flink 1.20) and the files its
// handles refer to (name -> content).
func Metadata(checkpointID int64, ops ...Operator) ([]byte, map[string][]byte) {
	files := map[string][]byte{}
	var b buf
	b.u32(savepoint.Magic)
	b.i32(4)
	b.i64(checkpointID)
	b.i32(0) // master states
	b.i32(int32(len(ops)))
	for _, op := range ops {
		raw, _ := hex.DecodeString(savepoint.OperatorIDForUID(op.UID))
		b.Write(raw)
		b.i32(1)   // parallelism
		b.i32(128) // max parallelism
		b.WriteByte(0)
		b.i32(1) // subtasks
		b.i32(0) // subtask index
		stream, metas := OperatorStream(op.States)
		b.i32(1) // managed operator state
		b.WriteByte(4)
		b.i32(int32(len(metas)))
		for _, m := range metas {
			b.utf(m.Name)
			b.WriteByte(0)
			b.i32(int32(len(m.Offsets)))
			for _, o := range m.Offsets {
				b.i64(o)
			}
		}
		if op.File != "" {
			b.WriteByte(6) // relative file
			b.utf(op.File)
			b.i64(int64(len(stream)))
			files[op.File] = stream
		} else {
			b.WriteByte(1) // inline
			b.utf("inline")
			b.i32(int32(len(stream)))
			b.Write(stream)
		}
		b.i32(0)       // raw operator state
		b.WriteByte(0) // managed keyed
		b.WriteByte(0) // raw keyed
		b.i32(0)       // input channel state
		b.i32(0)       // result subpartition state
	}
	return b.Bytes(), files
}

// Write writes a savepoint directory: _metadata and its files.
func Write(dir string, checkpointID int64, ops ...Operator) error {
	md, files := Metadata(checkpointID, ops...)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "_metadata"), md, 0o644)
}

func sortedKeys(m map[string][][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
