package savepoint

import (
	"errors"
	"fmt"
)

// SinkFile is one part file that a file sink's state refers to.
type SinkFile struct {
	OperatorID  string
	OperatorUID string // Flink 2.x savepoints only
	Subtask     int32
	State       string // WriterStateName, BucketStateName or CommitterStateName
	BucketPath  string // writer states only
	// Exactly one of InProgress and Pending is set.
	InProgress *InProgressFile
	Pending    *PendingFile
}

// Recoverable returns the file's resumable (in-progress) or commit
// recoverable (pending).
func (f *SinkFile) Recoverable() Recoverable {
	if f.InProgress != nil {
		return f.InProgress.Resume
	}
	return f.Pending.Commit
}

// SinkFiles are the part files the file sinks of a savepoint refer to
// outside the savepoint: FileSink and StreamingFileSink writer state
// (in-progress files, and the StreamingFileSink's pending files) and
// committer state (pending files of FileSink).
type SinkFiles struct {
	InProgress []SinkFile
	Pending    []SinkFile
	// Unreadable names the states that could not be read (compressed
	// operator state, malformed elements), with the reason.
	Unreadable []string
}

// FindSinkFiles walks the managed operator state of every subtask of md and
// decodes the file sink states in it. read returns the bytes of an
// operator state stream (inline, or from its file); it is called only for
// handles that hold one of the sink state names. Elements of other sinks
// kept under the same names are skipped. An error is returned only when
// read fails; states that cannot be decoded are listed in Unreadable.
func FindSinkFiles(md *Metadata, read func(h *StreamHandle) ([]byte, error)) (*SinkFiles, error) {
	out := &SinkFiles{}
	for _, op := range md.Operators {
		for _, st := range op.Subtasks {
			h := st.ManagedOp
			if h == nil || h.Stream == nil {
				continue
			}
			var states []OperatorStateMeta
			for _, s := range h.States {
				switch s.Name {
				case WriterStateName, BucketStateName, CommitterStateName:
					if len(s.Offsets) > 0 {
						states = append(states, s)
					}
				}
			}
			if len(states) == 0 {
				continue
			}
			stream, err := read(h.Stream)
			if err != nil {
				return nil, fmt.Errorf("operator %s subtask %d: %w", op.ID, st.Index, err)
			}
			for _, s := range states {
				where := fmt.Sprintf("operator %s subtask %d state %s", operatorName(op), st.Index, s.Name)
				elems, err := ByteArrayElements(stream, s)
				if err != nil {
					out.Unreadable = append(out.Unreadable, fmt.Sprintf("%s: %v", where, err))
					continue
				}
				base := SinkFile{OperatorID: op.ID, OperatorUID: op.UID, Subtask: st.Index, State: s.Name}
				for i, e := range elems {
					if err := out.add(base, e); err != nil && !errors.Is(err, ErrNotFileSink) {
						out.Unreadable = append(out.Unreadable, fmt.Sprintf("%s element %d: %v", where, i, err))
					}
				}
			}
		}
	}
	return out, nil
}

func (out *SinkFiles) add(base SinkFile, element []byte) error {
	if base.State == CommitterStateName {
		cs, err := DecodeCommittables(element)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if c.Pending != nil {
				f := base
				f.Pending = c.Pending
				out.Pending = append(out.Pending, f)
			}
		}
		return nil
	}
	bs, err := DecodeBucketState(element)
	if err != nil {
		return err
	}
	base.BucketPath = bs.BucketPath
	if bs.InProgress != nil {
		f := base
		f.InProgress = bs.InProgress
		out.InProgress = append(out.InProgress, f)
	}
	for i := range bs.Pending {
		f := base
		f.Pending = &bs.Pending[i]
		out.Pending = append(out.Pending, f)
	}
	return nil
}

func operatorName(op *Operator) string {
	if op.UID != "" {
		return fmt.Sprintf("%s (uid %s)", op.ID, op.UID)
	}
	return op.ID
}
