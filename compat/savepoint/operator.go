package savepoint

import (
	"errors"
	"fmt"
)

// ErrCompressed is returned for operator state written with snapshot
// compression (execution.checkpointing.snapshot-compression): its elements
// are Snappy frames, which this package does not decode.
var ErrCompressed = errors.New("compressed operator state is not supported")

// OperatorStreamCompressed reports whether an operator state stream (the
// stream of an OperatorStateHandle, header included) was written with
// snapshot compression: the flag after the proxy version.
func OperatorStreamCompressed(stream []byte) (bool, error) {
	r := &reader{b: stream}
	v, err := r.i32()
	if err != nil {
		return false, err
	}
	if v != proxyVersion {
		return false, r.fail("operator state proxy version %d, expected %d", v, proxyVersion)
	}
	return r.bool()
}

// ByteArrayElements returns the elements of one operator list state (SPLIT_DISTRIBUTE or
// UNION) whose element serializer is BytePrimitiveArraySerializer, as most connectors
// keep their state (a sink writer's "writer_raw_states", a committer's
// "streaming_committer_raw_states", a source's "SourceReaderState", the
// StreamingFileSink's "bucket-states"): each element is an int32 length and the bytes.
// stream is the state handle's whole stream: st.Offsets are absolute positions in it,
// following DefaultOperatorStateBackendSnapshotStrategy and PartitionableListState.write.
// A compressed stream returns ErrCompressed.
func ByteArrayElements(stream []byte, st OperatorStateMeta) ([][]byte, error) {
	compressed, err := OperatorStreamCompressed(stream)
	if err != nil {
		return nil, err
	}
	if compressed {
		return nil, fmt.Errorf("state %q: %w", st.Name, ErrCompressed)
	}
	out := make([][]byte, 0, len(st.Offsets))
	for i, off := range st.Offsets {
		if off < 0 || off > int64(len(stream)) {
			return nil, fmt.Errorf("%w: state %q element %d at offset %d outside the %d-byte stream", ErrMalformed, st.Name, i, off, len(stream))
		}
		r := &reader{b: stream, off: int(off)}
		n, err := r.i32()
		if err != nil {
			return nil, err
		}
		b, err := r.bytes(int(n))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Versioned splits bytes written by SimpleVersionedSerialization.writeVersionAndSerialize
// into the serializer version and the payload (the form SimpleVersionedListState stores
// each element in).
func Versioned(b []byte) (version int32, payload []byte, err error) {
	r := &reader{b: b}
	if version, err = r.i32(); err != nil {
		return 0, nil, err
	}
	n, err := r.i32()
	if err != nil {
		return 0, nil, err
	}
	if int(n) != r.remaining() {
		return 0, nil, r.fail("versioned payload length %d, %d bytes follow", n, r.remaining())
	}
	return version, r.b[r.off:], nil
}
