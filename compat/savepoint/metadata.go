// Package savepoint reads Flink savepoints without a JVM: the _metadata file
// (format versions 3 to 6: Flink 1.11 to 2.2) and the meta information at
// the start of keyed and operator state streams (state names, state kinds and
// serializer snapshots), following Flink's MetadataV2V3SerializerBase,
// KeyedBackendSerializationProxy and TypeSerializerSnapshot encodings.
//
// Every length and count read from the input is checked against the bytes
// that remain before anything is allocated: malformed input returns an error
// wrapping ErrMalformed and never panics.
package savepoint

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// ErrMalformed is wrapped by every error about malformed savepoint data.
var ErrMalformed = errors.New("malformed savepoint data")

// Magic is the _metadata magic number (Checkpoints.HEADER_MAGIC_NUMBER).
const Magic = 0x4960672d

const masterStateMagic = 0xc96b1696

// MaxVersion is the newest _metadata version understood (Flink 2.1/2.2).
const MaxVersion = 6

// Handle type bytes (MetadataV2V3SerializerBase).
const (
	handleNull                      = 0
	handleByteStream                = 1
	handleFileStream                = 2
	handleKeyGroups                 = 3
	handlePartitionableOperator     = 4
	handleIncrementalKeyGroups      = 5
	handleRelativeStream            = 6
	handleSavepointKeyGroups        = 7
	handleChangelog                 = 8
	handleChangelogByteIncrement    = 9
	handleChangelogFileIncrement    = 10
	handleIncrementalKeyGroupsV2    = 11
	handleKeyGroupsV2               = 12
	handleChangelogFileIncrementV2  = 13
	handleChangelogV2               = 14
	handleSegmentFile               = 15
	handleEmptySegmentFile          = 16
	handleSegmentPartitionableOpera = 17
)

// Metadata is a parsed _metadata file.
type Metadata struct {
	Version      int
	CheckpointID int64
	MasterStates []string // names
	Operators    []*Operator
	// Files are the handles of every state file the _metadata refers to
	// (absolute, relative to the savepoint directory, or a segment of a
	// merged file), including those of nested handles that the other fields
	// do not keep (the shared and private files of incremental handles,
	// changelog files). Inline state (small state is inlined in _metadata)
	// is not listed.
	Files []*StreamHandle
}

// Operator is the state of one operator.
type Operator struct {
	Name string // V5+ only ("" when not set)
	UID  string // V5+ only ("" when not set)
	// ID is the operator id in hex (lower then upper part, as Flink prints it).
	ID             string
	Parallelism    int32
	MaxParallelism int32
	Coordinator    *StreamHandle
	FullyFinished  bool
	Subtasks       []*Subtask
}

// Subtask is one subtask's state handles.
type Subtask struct {
	Index        int32
	Finished     bool
	ManagedOp    *OperatorStateHandle
	RawOp        *OperatorStateHandle
	ManagedKeyed *KeyedStateHandle
	RawKeyed     *KeyedStateHandle
}

// StreamHandle points at state bytes: inline (Data), a file (Path, absolute,
// usually a URI like file:/...) or a file relative to the savepoint
// directory (Relative).
type StreamHandle struct {
	Type     int
	Name     string
	Data     []byte
	Path     string
	Relative string
	Offset   int64 // segment files
	Size     int64
}

// KeyedStateHandle is a keyed state handle. For key-group handles Offsets are
// the key groups' offsets in Stream (the serialization proxy header sits
// before the first one); for incremental handles MetaData holds the proxy.
type KeyedStateHandle struct {
	Type     int
	StartKG  int32
	NumKG    int32
	Offsets  []int64
	Stream   *StreamHandle
	MetaData *StreamHandle
	// Nested are the materialized handles of a changelog handle.
	Nested []*KeyedStateHandle
}

// OperatorStateHandle is an operator (non-keyed) state handle.
type OperatorStateHandle struct {
	States []OperatorStateMeta
	Stream *StreamHandle
}

// OperatorStateMeta is one named operator state in an OperatorStateHandle.
type OperatorStateMeta struct {
	Name    string
	Mode    string // SPLIT_DISTRIBUTE, UNION, BROADCAST
	Offsets []int64
}

var modes = []string{"SPLIT_DISTRIBUTE", "UNION", "BROADCAST"}

// reader is a bounded big-endian reader (java.io.DataInputStream).
type reader struct {
	b   []byte
	off int
	// files collects the file handles read (see Metadata.Files).
	files []*StreamHandle
}

func (r *reader) fail(format string, args ...any) error {
	return fmt.Errorf("%w: at offset %d: %s", ErrMalformed, r.off, fmt.Sprintf(format, args...))
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) need(n int) error {
	if n < 0 || n > r.remaining() {
		return r.fail("need %d bytes, %d remain", n, r.remaining())
	}
	return nil
}

func (r *reader) u8() (byte, error) {
	if err := r.need(1); err != nil {
		return 0, err
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}

func (r *reader) bool() (bool, error) {
	v, err := r.u8()
	return v != 0, err
}

func (r *reader) i16() (int16, error) {
	if err := r.need(2); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return int16(v), nil
}

func (r *reader) i32() (int32, error) {
	if err := r.need(4); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return int32(v), nil
}

func (r *reader) i64() (int64, error) {
	if err := r.need(8); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return int64(v), nil
}

func (r *reader) bytes(n int) ([]byte, error) {
	if err := r.need(n); err != nil {
		return nil, err
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v, nil
}

// count reads an int32 count of items of at least minSize bytes each and
// checks that the input can hold them.
func (r *reader) count(minSize int, what string) (int, error) {
	n, err := r.i32()
	if err != nil {
		return 0, err
	}
	if n < 0 || int64(n)*int64(minSize) > int64(r.remaining()) {
		return 0, r.fail("%s count %d exceeds input", what, n)
	}
	return int(n), nil
}

// utf reads a java.io.DataInput.readUTF string (u16 length, modified UTF-8).
func (r *reader) utf() (string, error) {
	if err := r.need(2); err != nil {
		return "", err
	}
	n := int(binary.BigEndian.Uint16(r.b[r.off:]))
	r.off += 2
	b, err := r.bytes(n)
	if err != nil {
		return "", err
	}
	return decodeModifiedUTF8(b), nil
}

func decodeModifiedUTF8(b []byte) string {
	ascii := true
	for _, c := range b {
		if c == 0 || c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	var u []uint16
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < 0x80:
			u = append(u, uint16(c))
			i++
		case c&0xE0 == 0xC0 && i+1 < len(b):
			u = append(u, uint16(c&0x1F)<<6|uint16(b[i+1]&0x3F))
			i += 2
		case c&0xF0 == 0xE0 && i+2 < len(b):
			u = append(u, uint16(c&0x0F)<<12|uint16(b[i+1]&0x3F)<<6|uint16(b[i+2]&0x3F))
			i += 3
		default:
			u = append(u, 0xFFFD)
			i++
		}
	}
	return string(utf16.Decode(u))
}

// ParseMetadata parses the bytes of a _metadata file. The Java-serialized
// checkpoint properties at the end of V4+ files are not read.
func ParseMetadata(b []byte) (*Metadata, error) {
	r := &reader{b: b}
	magic, err := r.i32()
	if err != nil {
		return nil, err
	}
	if uint32(magic) != Magic {
		return nil, fmt.Errorf("%w: not a savepoint _metadata file (magic %#x)", ErrMalformed, uint32(magic))
	}
	v, err := r.i32()
	if err != nil {
		return nil, err
	}
	m := &Metadata{Version: int(v)}
	if v < 3 || v > MaxVersion {
		return m, fmt.Errorf("%w: unsupported _metadata version %d (supported 3 to %d)", ErrUnsupportedVersion, v, MaxVersion)
	}
	if m.CheckpointID, err = r.i64(); err != nil {
		return nil, err
	}
	if m.CheckpointID < 0 {
		return nil, r.fail("invalid checkpoint id %d", m.CheckpointID)
	}
	n, err := r.count(8, "master state")
	if err != nil {
		return nil, err
	}
	for range n {
		if mg, err := r.i32(); err != nil {
			return nil, err
		} else if uint32(mg) != masterStateMagic {
			return nil, r.fail("bad master state magic")
		}
		l, err := r.count(1, "master state bytes")
		if err != nil {
			return nil, err
		}
		data, _ := r.bytes(l)
		mr := &reader{b: data}
		if _, err := mr.i32(); err != nil {
			return nil, err
		}
		name, err := mr.utf()
		if err != nil {
			return nil, err
		}
		m.MasterStates = append(m.MasterStates, name)
	}
	// An operator takes at least 16 (id) + 8 + 1 + 4 bytes.
	n, err = r.count(29, "operator")
	if err != nil {
		return nil, err
	}
	for range n {
		op, err := r.operator(m.Version)
		if err != nil {
			return nil, err
		}
		m.Operators = append(m.Operators, op)
	}
	m.Files = r.files
	return m, nil
}

// ErrUnsupportedVersion is wrapped when the _metadata version is outside 3–6.
var ErrUnsupportedVersion = errors.New("unsupported savepoint version")

func (r *reader) operator(version int) (*Operator, error) {
	op := &Operator{}
	var err error
	if version >= 5 {
		if op.Name, err = r.utf(); err != nil {
			return nil, err
		}
		if op.UID, err = r.utf(); err != nil {
			return nil, err
		}
	}
	id, err := r.bytes(16)
	if err != nil {
		return nil, err
	}
	op.ID = hex.EncodeToString(id)
	if op.Parallelism, err = r.i32(); err != nil {
		return nil, err
	}
	if op.MaxParallelism, err = r.i32(); err != nil {
		return nil, err
	}
	if op.Coordinator, err = r.streamHandle(0); err != nil {
		return nil, err
	}
	n, err := r.i32()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		op.FullyFinished = true
		return op, nil
	}
	if int64(n)*4 > int64(r.remaining()) {
		return nil, r.fail("subtask count %d exceeds input", n)
	}
	for range int(n) {
		idx, err := r.i32()
		if err != nil {
			return nil, err
		}
		st := &Subtask{Index: idx}
		if idx < 0 {
			st.Finished, st.Index = true, -idx-1
			op.Subtasks = append(op.Subtasks, st)
			continue
		}
		if err := r.subtask(st, version); err != nil {
			return nil, err
		}
		op.Subtasks = append(op.Subtasks, st)
	}
	return op, nil
}

func (r *reader) subtask(st *Subtask, version int) error {
	var err error
	for _, h := range []**OperatorStateHandle{&st.ManagedOp, &st.RawOp} {
		has, err := r.i32()
		if err != nil {
			return err
		}
		if has != 0 {
			if *h, err = r.operatorStateHandle(); err != nil {
				return err
			}
		}
	}
	if st.ManagedKeyed, err = r.keyedHandle(0); err != nil {
		return err
	}
	if st.RawKeyed, err = r.keyedHandle(0); err != nil {
		return err
	}
	// Input channel and result subpartition (unaligned checkpoint) state;
	// always empty in savepoints.
	for range 2 {
		n, err := r.count(20, "channel state handle")
		if err != nil {
			return err
		}
		for range n {
			if version >= 6 {
				// ChannelStateHandleSerializerV2 adds a leading type byte
				// and merged handles; not produced by savepoints.
				return r.fail("channel state handles in a version %d savepoint are not supported", version)
			}
			if _, err := r.bytes(12); err != nil { // subtask index + 2 ints of info
				return err
			}
			k, err := r.count(8, "channel offsets")
			if err != nil {
				return err
			}
			if _, err := r.bytes(8*k + 8); err != nil {
				return err
			}
			if _, err := r.streamHandle(0); err != nil {
				return err
			}
		}
	}
	return nil
}

const maxHandleDepth = 8

func (r *reader) streamHandle(depth int) (*StreamHandle, error) {
	if depth > maxHandleDepth {
		return nil, r.fail("state handles nested too deeply")
	}
	t, err := r.u8()
	if err != nil {
		return nil, err
	}
	h := &StreamHandle{Type: int(t)}
	switch t {
	case handleNull:
		return nil, nil
	case handleFileStream:
		if h.Size, err = r.i64(); err != nil {
			return nil, err
		}
		h.Path, err = r.utf()
	case handleByteStream:
		if h.Name, err = r.utf(); err != nil {
			return nil, err
		}
		n, err := r.count(1, "inline state bytes")
		if err != nil {
			return nil, err
		}
		h.Data, _ = r.bytes(n)
		h.Size = int64(n)
	case handleRelativeStream:
		if h.Relative, err = r.utf(); err != nil {
			return nil, err
		}
		h.Size, err = r.i64()
	case handleKeyGroups:
		// A legacy KeyGroupsStateHandle used as a stream handle.
		k, err := r.keyGroups(handleKeyGroups, depth+1)
		if err != nil {
			return nil, err
		}
		return k.Stream, nil
	case handleSegmentFile:
		if h.Offset, err = r.i64(); err != nil {
			return nil, err
		}
		if h.Size, err = r.i64(); err != nil {
			return nil, err
		}
		if _, err = r.i32(); err != nil { // scope
			return nil, err
		}
		if h.Path, err = r.utf(); err != nil {
			return nil, err
		}
		_, err = r.utf() // logical file id
	case handleEmptySegmentFile:
	default:
		return nil, r.fail("unknown stream state handle type %d", t)
	}
	if err != nil {
		return nil, err
	}
	if h.Path != "" || h.Relative != "" {
		r.files = append(r.files, h)
	}
	return h, nil
}

func (r *reader) keyGroups(t byte, depth int) (*KeyedStateHandle, error) {
	k := &KeyedStateHandle{Type: int(t)}
	var err error
	if k.StartKG, err = r.i32(); err != nil {
		return nil, err
	}
	n, err := r.count(8, "key group")
	if err != nil {
		return nil, err
	}
	k.NumKG = int32(n)
	k.Offsets = make([]int64, n)
	for i := range k.Offsets {
		k.Offsets[i], _ = r.i64()
	}
	if k.Stream, err = r.streamHandle(depth + 1); err != nil {
		return nil, err
	}
	return k, nil
}

func (r *reader) keyedHandle(depth int) (*KeyedStateHandle, error) {
	if depth > maxHandleDepth {
		return nil, r.fail("state handles nested too deeply")
	}
	t, err := r.u8()
	if err != nil {
		return nil, err
	}
	switch t {
	case handleNull:
		return nil, nil
	case handleKeyGroups, handleKeyGroupsV2, handleSavepointKeyGroups:
		k, err := r.keyGroups(t, depth)
		if err != nil {
			return nil, err
		}
		if t == handleKeyGroupsV2 {
			if _, err := r.utf(); err != nil {
				return nil, err
			}
		}
		return k, nil
	case handleIncrementalKeyGroups, handleIncrementalKeyGroupsV2:
		k := &KeyedStateHandle{Type: int(t)}
		if _, err := r.i64(); err != nil { // checkpoint id
			return nil, err
		}
		if _, err := r.utf(); err != nil { // backend id
			return nil, err
		}
		if k.StartKG, err = r.i32(); err != nil {
			return nil, err
		}
		if k.NumKG, err = r.i32(); err != nil {
			return nil, err
		}
		if t == handleIncrementalKeyGroupsV2 {
			if _, err := r.i64(); err != nil { // checkpointed size
				return nil, err
			}
		}
		if k.MetaData, err = r.streamHandle(depth + 1); err != nil {
			return nil, err
		}
		for range 2 { // shared, private
			n, err := r.count(3, "state file")
			if err != nil {
				return nil, err
			}
			for range n {
				if _, err := r.utf(); err != nil {
					return nil, err
				}
				if _, err := r.streamHandle(depth + 1); err != nil {
					return nil, err
				}
			}
		}
		if t == handleIncrementalKeyGroupsV2 {
			if _, err := r.utf(); err != nil {
				return nil, err
			}
		}
		return k, nil
	case handleChangelog, handleChangelogV2:
		k := &KeyedStateHandle{Type: int(t)}
		if k.StartKG, err = r.i32(); err != nil {
			return nil, err
		}
		if k.NumKG, err = r.i32(); err != nil {
			return nil, err
		}
		if _, err := r.i64(); err != nil {
			return nil, err
		}
		for i := range 2 { // materialized, non-materialized
			n, err := r.count(1, "changelog handle")
			if err != nil {
				return nil, err
			}
			for range n {
				h, err := r.keyedHandle(depth + 1)
				if err != nil {
					return nil, err
				}
				if i == 0 && h != nil {
					k.Nested = append(k.Nested, h)
				}
			}
		}
		if _, err := r.i64(); err != nil {
			return nil, err
		}
		if t == handleChangelogV2 {
			if _, err := r.i64(); err != nil {
				return nil, err
			}
		}
		if _, err := r.utf(); err != nil {
			return nil, err
		}
		return k, nil
	case handleChangelogByteIncrement:
		k := &KeyedStateHandle{Type: int(t)}
		if _, err := r.bytes(8 + 16); err != nil {
			return nil, err
		}
		n, err := r.count(8, "state change")
		if err != nil {
			return nil, err
		}
		for range n {
			if _, err := r.i32(); err != nil {
				return nil, err
			}
			l, err := r.count(1, "state change bytes")
			if err != nil {
				return nil, err
			}
			r.bytes(l)
		}
		_, err = r.utf()
		return k, err
	case handleChangelogFileIncrement, handleChangelogFileIncrementV2:
		k := &KeyedStateHandle{Type: int(t)}
		if _, err := r.bytes(8); err != nil {
			return nil, err
		}
		n, err := r.count(9, "changelog file")
		if err != nil {
			return nil, err
		}
		for range n {
			if _, err := r.i64(); err != nil {
				return nil, err
			}
			if _, err := r.streamHandle(depth + 1); err != nil {
				return nil, err
			}
		}
		if _, err := r.bytes(16); err != nil {
			return nil, err
		}
		if _, err := r.utf(); err != nil {
			return nil, err
		}
		if t == handleChangelogFileIncrementV2 {
			if _, err := r.utf(); err != nil {
				return nil, err
			}
		}
		return k, nil
	}
	return nil, r.fail("unknown keyed state handle type %d", t)
}

func (r *reader) operatorStateHandle() (*OperatorStateHandle, error) {
	t, err := r.u8()
	if err != nil {
		return nil, err
	}
	switch t {
	case handleNull:
		return nil, nil
	case handlePartitionableOperator, handleSegmentPartitionableOpera:
	default:
		return nil, r.fail("unknown operator state handle type %d", t)
	}
	n, err := r.count(7, "operator state")
	if err != nil {
		return nil, err
	}
	h := &OperatorStateHandle{}
	for range n {
		var s OperatorStateMeta
		if s.Name, err = r.utf(); err != nil {
			return nil, err
		}
		mode, err := r.u8()
		if err != nil {
			return nil, err
		}
		if int(mode) < len(modes) {
			s.Mode = modes[mode]
		} else {
			s.Mode = fmt.Sprintf("MODE_%d", mode)
		}
		k, err := r.count(8, "operator state offset")
		if err != nil {
			return nil, err
		}
		s.Offsets = make([]int64, k)
		for i := range s.Offsets {
			s.Offsets[i], _ = r.i64()
		}
		h.States = append(h.States, s)
	}
	if t == handleSegmentPartitionableOpera {
		if _, err := r.utf(); err != nil {
			return nil, err
		}
		if _, err := r.utf(); err != nil {
			return nil, err
		}
		if _, err := r.bool(); err != nil {
			return nil, err
		}
	}
	if h.Stream, err = r.streamHandle(0); err != nil {
		return nil, err
	}
	return h, nil
}

// OperatorIDForUID returns the operator id Flink derives from a user uid
// (StreamGraphHasherV2: murmur3_128 with seed 0 of the UTF-8 uid), in the hex
// form of Operator.ID.
func OperatorIDForUID(uid string) string {
	h1, h2 := murmur3x64_128([]byte(uid), 0)
	var b [16]byte
	// Guava's HashCode.asBytes(): h1 then h2, little-endian each.
	binary.LittleEndian.PutUint64(b[0:], h1)
	binary.LittleEndian.PutUint64(b[8:], h2)
	return hex.EncodeToString(b[:])
}

// trimScheme turns a file URI (file:/x, file:///x) into a local path.
func trimScheme(p string) string {
	if rest, ok := strings.CutPrefix(p, "file://"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(p, "file:"); ok {
		return rest
	}
	return p
}

// LocalPath returns the local path of a file handle, "" for others.
func (h *StreamHandle) LocalPath() string {
	if h == nil || h.Path == "" || (strings.Contains(h.Path, "://") && !strings.HasPrefix(h.Path, "file:")) {
		return ""
	}
	return trimScheme(h.Path)
}
