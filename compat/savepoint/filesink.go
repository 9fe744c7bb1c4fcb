package savepoint

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Operator state names under which Flink keeps the state of its file sinks.
const (
	// WriterStateName is the sink v2 writer's state (SinkWriterOperator,
	// StatefulSinkWriterStateHandler): one FileWriterBucketState per bucket.
	WriterStateName = "writer_raw_states"
	// BucketStateName is the StreamingFileSink's state (StreamingFileSinkHelper),
	// which FileSink restores too (its compatible writer state name).
	BucketStateName = "bucket-states"
	// CommitterStateName is the sink v2 committer's state (CommitterOperator,
	// and the writer operator of sinks migrated from sink v1): the
	// committables not yet committed, per checkpoint.
	CommitterStateName = "streaming_committer_raw_states"
)

// Magic numbers of the serializers (big-endian ints unless noted).
const (
	bucketStateMagic      = 0x1e764b79 // FileWriterBucketStateSerializer, BucketStateSerializer
	inProgressMagic       = 0xb3a4073d // OutputStreamBasedInProgressFileRecoverableSerializer
	pendingMagic          = 0x2c853c89 // OutputStreamBasedPendingFileRecoverableSerializer
	committableMagic      = 0x1e765c80 // FileSinkCommittableSerializer
	collectorMagic        = 0xb91f252c // CommittableCollectorSerializer, SinkV1CommittableDeserializer
	localRecoverableMagic = 0x1e744b57 // LocalRecoverableSerializer (little-endian)
	s3RecoverableMagic    = 0x98761432 // S3RecoverableSerializer (little-endian)
)

// ErrNotFileSink is returned for an element of a sink's state that was not
// written by Flink's FileSink or StreamingFileSink (another sink keeps its
// state under the same name).
var ErrNotFileSink = errors.New("not file sink state")

// Recoverable is a RecoverableWriter's handle on a part file: where its
// bytes are and how many of them are valid. FS tells which writer wrote it.
type Recoverable struct {
	// FS is "local" (LocalRecoverableWriter), "s3" (the S3 file systems'
	// S3RecoverableWriter) or "" for another writer (HDFS, GCS, Azure),
	// whose bytes are kept undecoded in Raw.
	FS string
	// Local: TempFile is the hidden file being written
	// (".<name>.inprogress.<uuid>"), TargetFile the name it gets when
	// committed, Offset the number of valid bytes (a resumed writer
	// truncates TempFile to it; a commit requires it).
	TargetFile string
	TempFile   string
	Offset     int64
	// S3 is set for FS == "s3".
	S3 *S3Recoverable
	// Version is the serializer version; Raw the bytes of an unknown writer.
	Version int32
	Raw     []byte
}

// S3Recoverable is an S3 multipart upload in progress (S3RecoverableSerializer).
type S3Recoverable struct {
	// Key is the object the upload completes into; UploadID the multipart
	// upload; Parts the parts uploaded so far.
	Key          string
	UploadID     string
	Parts        []S3Part
	BytesInParts int64
	// IncompleteKey is the object holding the bytes written after the last
	// part (too few for a part), IncompleteLength their number; "" and 0
	// when there are none.
	IncompleteKey    string
	IncompleteLength int64
}

// S3Part is one uploaded part of an S3Recoverable.
type S3Part struct {
	Number int32
	ETag   string
}

// InProgressFile is a part file a sink writer had open at the snapshot: a
// restored writer resumes it (OutputStreamBasedInProgressFileRecoverable).
type InProgressFile struct {
	// TargetPath is the part file's final path as a URI (serializer
	// version 2; "" in version 1 states).
	TargetPath string
	Resume     Recoverable
}

// PendingFile is a closed part file waiting for its commit
// (OutputStreamBasedPendingFileRecoverable).
type PendingFile struct {
	TargetPath string
	// Size is the file's size (serializer version 2), -1 when not recorded.
	Size   int64
	Commit Recoverable
	// CheckpointID is the checkpoint the file is committed with
	// (StreamingFileSink's per-checkpoint pending files, committables).
	CheckpointID int64
}

// BucketState is one bucket of a file sink writer (FileWriterBucketState,
// versions 1 and 2 written by StreamingFileSink, 3 by FileSink).
type BucketState struct {
	Version      int32
	BucketID     string // the bucket id as text (hex when not a string)
	BucketPath   string
	CreationTime int64 // creation time of the in-progress file, epoch ms
	InProgress   *InProgressFile
	// Pending are the StreamingFileSink's pending files (versions 1 and
	// 2); FileSink hands them to its committer instead.
	Pending []PendingFile
}

// Committable is a FileSink committable kept by the committer
// (FileSinkCommittable): a pending file to commit, or a file to clean up.
type Committable struct {
	BucketID            string
	CheckpointID        int64
	Pending             *PendingFile
	InProgressToCleanup *InProgressFile
	CompactedToCleanup  string
}

// DecodeBucketState decodes one element of a file sink writer's state
// ("writer_raw_states" or "bucket-states"): the bytes SimpleVersionedListState
// stores (serializer version, length, FileWriterBucketStateSerializer bytes).
// It returns ErrNotFileSink when the element is another sink's.
func DecodeBucketState(element []byte) (*BucketState, error) {
	version, b, err := Versioned(element)
	if err != nil {
		return nil, err
	}
	if len(b) < 4 || binary.BigEndian.Uint32(b) != bucketStateMagic {
		return nil, ErrNotFileSink
	}
	if version < 1 || version > 3 {
		return nil, fmt.Errorf("%w: file sink bucket state version %d", ErrMalformed, version)
	}
	r := &reader{b: b, off: 4}
	s := &BucketState{Version: version}
	if s.BucketID, err = r.versionedString(); err != nil {
		return nil, err
	}
	if s.BucketPath, err = r.utf(); err != nil {
		return nil, err
	}
	if s.CreationTime, err = r.i64(); err != nil {
		return nil, err
	}
	has, err := r.bool()
	if err != nil {
		return nil, err
	}
	if has {
		if version == 1 {
			// Version 1: the writer's resumable itself.
			rec, err := r.versionedRecoverable()
			if err != nil {
				return nil, err
			}
			s.InProgress = &InProgressFile{Resume: rec}
		} else if s.InProgress, err = r.versionedInProgress(); err != nil {
			return nil, err
		}
	}
	if version == 3 {
		return s, r.end("bucket state")
	}
	pendingVersion, err := r.i32()
	if err != nil {
		return nil, err
	}
	checkpoints, err := r.count(12, "checkpoint")
	if err != nil {
		return nil, err
	}
	for range checkpoints {
		cp, err := r.i64()
		if err != nil {
			return nil, err
		}
		n, err := r.count(4, "pending file")
		if err != nil {
			return nil, err
		}
		for range n {
			l, err := r.count(1, "pending file bytes")
			if err != nil {
				return nil, err
			}
			data, _ := r.bytes(l)
			var p *PendingFile
			if version == 1 {
				rec, err := decodeRecoverable(pendingVersion, data)
				if err != nil {
					return nil, err
				}
				p = &PendingFile{Size: -1, Commit: rec}
			} else if p, err = decodePending(pendingVersion, data); err != nil {
				return nil, err
			}
			p.CheckpointID = cp
			s.Pending = append(s.Pending, *p)
		}
	}
	return s, r.end("bucket state")
}

// DecodeCommittables decodes one element of a sink committer's state
// ("streaming_committer_raw_states"): a CommittableCollector (version 2,
// Flink 1.15+; 1.20 and 2.2 differ in the per-subtask record) or a
// sink v1 committable list (version 1). It returns the FileSink
// committables in it, and ErrNotFileSink when the committables are
// another sink's.
func DecodeCommittables(element []byte) ([]Committable, error) {
	version, b, err := Versioned(element)
	if err != nil {
		return nil, err
	}
	r := &reader{b: b}
	magic, err := r.i32()
	if err != nil {
		return nil, err
	}
	if uint32(magic) != collectorMagic {
		return nil, ErrNotFileSink
	}
	var out []Committable
	switch version {
	case 1:
		// SinkV1CommittableDeserializer: magic, then a versioned list.
		cv, err := r.i32()
		if err != nil {
			return nil, err
		}
		n, err := r.count(4, "committable")
		if err != nil {
			return nil, err
		}
		for range n {
			l, err := r.count(1, "committable bytes")
			if err != nil {
				return nil, err
			}
			data, _ := r.bytes(l)
			c, err := decodeCommittable(cv, data)
			if err != nil {
				return nil, err
			}
			out = append(out, *c)
		}
	case 2:
		err := r.versionedList("checkpoint", func(cv int32, cb []byte) error {
			cr := &reader{b: cb}
			cp, err := cr.i64()
			if err != nil {
				return err
			}
			if cv >= 1 {
				if _, err := cr.i32(); err != nil { // number of subtasks
					return err
				}
			}
			if err := cr.versionedList("subtask", func(sv int32, sb []byte) error {
				sr := &reader{b: sb}
				if sv >= 1 {
					if _, err := sr.i32(); err != nil { // subtask id
						return err
					}
				}
				if err := sr.versionedList("commit request", func(_ int32, qb []byte) error {
					qr := &reader{b: qb}
					cv, data, err := qr.versioned()
					if err != nil {
						return err
					}
					c, err := decodeCommittable(cv, data)
					if err != nil {
						return err
					}
					if _, err := qr.bytes(8); err != nil { // retries, request state
						return err
					}
					c.CheckpointID = cp
					if c.Pending != nil {
						c.Pending.CheckpointID = cp
					}
					out = append(out, *c)
					return qr.end("commit request")
				}); err != nil {
					return err
				}
				// numCommittables, numDrained (versions 0 and 1: Flink
				// 1.x), numFailed.
				tail := 8
				if sv <= 1 {
					tail = 12
				}
				if _, err := sr.bytes(tail); err != nil {
					return err
				}
				return sr.end("subtask committables")
			}); err != nil {
				return err
			}
			return cr.end("checkpoint committables")
		})
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: committable collector version %d", ErrMalformed, version)
	}
	return out, r.end("committables")
}

func decodeCommittable(version int32, b []byte) (*Committable, error) {
	r := &reader{b: b}
	magic, err := r.i32()
	if err != nil {
		return nil, err
	}
	if uint32(magic) != committableMagic {
		return nil, ErrNotFileSink
	}
	if version < 1 || version > 2 {
		return nil, fmt.Errorf("%w: file sink committable version %d", ErrMalformed, version)
	}
	c := &Committable{}
	if version == 2 {
		if c.BucketID, err = r.utf(); err != nil {
			return nil, err
		}
	}
	if has, err := r.bool(); err != nil {
		return nil, err
	} else if has {
		pv, data, err := r.versioned()
		if err != nil {
			return nil, err
		}
		if c.Pending, err = decodePending(pv, data); err != nil {
			return nil, err
		}
	}
	if has, err := r.bool(); err != nil {
		return nil, err
	} else if has {
		if c.InProgressToCleanup, err = r.versionedInProgress(); err != nil {
			return nil, err
		}
	}
	if version == 2 {
		if has, err := r.bool(); err != nil {
			return nil, err
		} else if has {
			if c.CompactedToCleanup, err = r.utf(); err != nil {
				return nil, err
			}
		}
	}
	return c, r.end("committable")
}

// decodePending decodes OutputStreamBasedPendingFileRecoverableSerializer bytes.
func decodePending(version int32, b []byte) (*PendingFile, error) {
	r := &reader{b: b}
	magic, err := r.i32()
	if err != nil {
		return nil, err
	}
	if uint32(magic) != pendingMagic {
		return nil, fmt.Errorf("%w: pending file magic %#x", ErrMalformed, uint32(magic))
	}
	p := &PendingFile{Size: -1}
	switch version {
	case 1:
	case 2:
		if has, err := r.bool(); err != nil {
			return nil, err
		} else if has {
			if p.TargetPath, err = r.utf(); err != nil {
				return nil, err
			}
		}
		if p.Size, err = r.i64(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: pending file version %d", ErrMalformed, version)
	}
	if p.Commit, err = r.versionedRecoverable(); err != nil {
		return nil, err
	}
	return p, r.end("pending file")
}

// versionedInProgress reads SimpleVersionedSerialization of an
// OutputStreamBasedInProgressFileRecoverable.
func (r *reader) versionedInProgress() (*InProgressFile, error) {
	version, b, err := r.versioned()
	if err != nil {
		return nil, err
	}
	ir := &reader{b: b}
	magic, err := ir.i32()
	if err != nil {
		return nil, err
	}
	if uint32(magic) != inProgressMagic {
		return nil, fmt.Errorf("%w: in-progress file magic %#x", ErrMalformed, uint32(magic))
	}
	f := &InProgressFile{}
	switch version {
	case 1:
	case 2:
		if has, err := ir.bool(); err != nil {
			return nil, err
		} else if has {
			if f.TargetPath, err = ir.utf(); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("%w: in-progress file version %d", ErrMalformed, version)
	}
	if f.Resume, err = ir.versionedRecoverable(); err != nil {
		return nil, err
	}
	return f, ir.end("in-progress file")
}

func (r *reader) versionedRecoverable() (Recoverable, error) {
	version, b, err := r.versioned()
	if err != nil {
		return Recoverable{}, err
	}
	return decodeRecoverable(version, b)
}

// decodeRecoverable decodes a RecoverableWriter's resumable or commit
// recoverable, recognised by its magic number: LocalRecoverable or
// S3Recoverable. Others are returned undecoded (FS "").
func decodeRecoverable(version int32, b []byte) (Recoverable, error) {
	rec := Recoverable{Version: version}
	if len(b) < 4 {
		return rec, fmt.Errorf("%w: recoverable of %d bytes", ErrMalformed, len(b))
	}
	le := &leReader{b: b}
	switch magic, _ := le.u32(); magic {
	case localRecoverableMagic:
		if version != 1 {
			return rec, fmt.Errorf("%w: local recoverable version %d", ErrMalformed, version)
		}
		rec.FS = "local"
		var err error
		if rec.Offset, err = le.i64(); err != nil {
			return rec, err
		}
		tl, err := le.u32()
		if err != nil {
			return rec, err
		}
		pl, err := le.u32()
		if err != nil {
			return rec, err
		}
		if rec.TargetFile, err = le.str(tl); err != nil {
			return rec, err
		}
		if rec.TempFile, err = le.str(pl); err != nil {
			return rec, err
		}
		if rec.Offset < 0 {
			return rec, fmt.Errorf("%w: local recoverable offset %d", ErrMalformed, rec.Offset)
		}
		return rec, le.end()
	case s3RecoverableMagic:
		if version != 1 {
			return rec, fmt.Errorf("%w: S3 recoverable version %d", ErrMalformed, version)
		}
		rec.FS = "s3"
		s := &S3Recoverable{}
		var err error
		var n uint32
		if n, err = le.u32(); err == nil {
			s.Key, err = le.str(n)
		}
		if err == nil {
			if n, err = le.u32(); err == nil {
				s.UploadID, err = le.str(n)
			}
		}
		if err != nil {
			return rec, err
		}
		parts, err := le.u32()
		if err != nil {
			return rec, err
		}
		if int64(parts)*8 > int64(len(b)-le.off) {
			return rec, fmt.Errorf("%w: S3 part count %d exceeds input", ErrMalformed, parts)
		}
		for range parts {
			num, err := le.u32()
			if err != nil {
				return rec, err
			}
			n, err := le.u32()
			if err != nil {
				return rec, err
			}
			etag, err := le.str(n)
			if err != nil {
				return rec, err
			}
			s.Parts = append(s.Parts, S3Part{Number: int32(num), ETag: etag})
		}
		if s.BytesInParts, err = le.i64(); err != nil {
			return rec, err
		}
		if n, err = le.u32(); err != nil {
			return rec, err
		}
		if s.IncompleteKey, err = le.str(n); err != nil {
			return rec, err
		}
		if s.IncompleteLength, err = le.i64(); err != nil {
			return rec, err
		}
		rec.S3 = s
		rec.Offset = s.BytesInParts + s.IncompleteLength
		return rec, le.end()
	}
	rec.Raw = b
	return rec, nil
}

// versioned reads an int32 version, an int32 length and that many bytes
// (SimpleVersionedSerialization.writeVersionAndSerialize to a stream).
func (r *reader) versioned() (int32, []byte, error) {
	v, err := r.i32()
	if err != nil {
		return 0, nil, err
	}
	n, err := r.count(1, "versioned bytes")
	if err != nil {
		return 0, nil, err
	}
	b, _ := r.bytes(n)
	return v, b, nil
}

// versionedList reads SimpleVersionedSerialization.writeVersionAndSerializeList:
// a version, a count and length-prefixed elements.
func (r *reader) versionedList(what string, fn func(version int32, b []byte) error) error {
	v, err := r.i32()
	if err != nil {
		return err
	}
	n, err := r.count(4, what)
	if err != nil {
		return err
	}
	for range n {
		l, err := r.count(1, what+" bytes")
		if err != nil {
			return err
		}
		b, _ := r.bytes(l)
		if err := fn(v, b); err != nil {
			return err
		}
	}
	return nil
}

// versionedString reads a bucket id: SimpleVersionedSerialization of the
// bucket id serializer, SimpleVersionedStringSerializer for Flink's own
// bucket assigners (a little-endian length and UTF-8). Other ids are
// returned in hex.
func (r *reader) versionedString() (string, error) {
	v, b, err := r.versioned()
	if err != nil {
		return "", err
	}
	if v == 1 && len(b) >= 4 && int(binary.LittleEndian.Uint32(b)) == len(b)-4 && utf8.Valid(b[4:]) {
		return string(b[4:]), nil
	}
	return hex.EncodeToString(b), nil
}

func (r *reader) end(what string) error {
	if r.remaining() != 0 {
		return r.fail("%d bytes after the %s", r.remaining(), what)
	}
	return nil
}

// leReader reads the little-endian encodings of the RecoverableWriter
// serializers (java.nio.ByteBuffer in LITTLE_ENDIAN order).
type leReader struct {
	b   []byte
	off int
}

func (r *leReader) need(n uint64) error {
	if n > uint64(len(r.b)-r.off) {
		return fmt.Errorf("%w: recoverable: need %d bytes at offset %d, %d remain", ErrMalformed, n, r.off, len(r.b)-r.off)
	}
	return nil
}

func (r *leReader) u32() (uint32, error) {
	if err := r.need(4); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}

func (r *leReader) i64() (int64, error) {
	if err := r.need(8); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return int64(v), nil
}

func (r *leReader) str(n uint32) (string, error) {
	if err := r.need(uint64(n)); err != nil {
		return "", err
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s, nil
}

func (r *leReader) end() error {
	if r.off != len(r.b) {
		return fmt.Errorf("%w: %d bytes after the recoverable", ErrMalformed, len(r.b)-r.off)
	}
	return nil
}
