package savepoint_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane/compat/savepoint"
	"github.com/flinkplane/flinkplane/compat/savepoint/savepointtest"
)

// sinkFiles parses a vector and decodes its file sink state, reading
// operator state from _metadata or from the vector's files.
func sinkFiles(t *testing.T, name string) (*savepoint.Metadata, *savepoint.SinkFiles) {
	t.Helper()
	md, err := savepoint.ParseMetadata(readMetadata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	sf, err := savepoint.FindSinkFiles(md, func(h *savepoint.StreamHandle) ([]byte, error) {
		if h.Data != nil {
			return h.Data, nil
		}
		if h.Relative == "" {
			t.Fatalf("state handle %+v is neither inline nor relative", h)
		}
		return os.ReadFile(filepath.Join(vectors, name, h.Relative))
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sf.Unreadable) > 0 {
		t.Fatalf("%s: unreadable states %q", name, sf.Unreadable)
	}
	return md, sf
}

// The counter's FileSink rolls on every checkpoint: the savepoint holds no
// in-progress file, and the committer holds the file closed for it.
func TestFindSinkFiles_CounterPending(t *testing.T) {
	for _, name := range []string{"counter-1.20", "counter-2.2"} {
		t.Run(name, func(t *testing.T) {
			_, sf := sinkFiles(t, name)
			if len(sf.InProgress) != 0 {
				t.Errorf("in-progress files %+v, want none (OnCheckpointRollingPolicy)", sf.InProgress)
			}
			if len(sf.Pending) != 1 {
				t.Fatalf("pending files %+v, want 1", sf.Pending)
			}
			f := sf.Pending[0]
			p, rec := f.Pending, f.Recoverable()
			if f.State != savepoint.CommitterStateName || rec.FS != "local" || p.CheckpointID < 1 {
				t.Fatalf("pending file %+v %+v", f, p)
			}
			base := filepath.Base(rec.TargetFile)
			if !strings.HasPrefix(base, "part-") || rec.TempFile != filepath.Join(filepath.Dir(rec.TargetFile), "."+base+".inprogress."+rec.TempFile[len(rec.TempFile)-36:]) {
				t.Errorf("target %q temp %q: want part-… and .part-….inprogress.<uuid> beside it", rec.TargetFile, rec.TempFile)
			}
			if p.Size <= 0 || p.Size != rec.Offset || p.TargetPath != rec.TargetFile {
				t.Errorf("size %d offset %d target path %q (%q)", p.Size, rec.Offset, p.TargetPath, rec.TargetFile)
			}
		})
	}
}

// The ledger's FileSink keeps part files open across checkpoints: the
// writer state of its sink refers to the in-progress file.
func TestFindSinkFiles_LedgerInProgress(t *testing.T) {
	for _, name := range []string{"ledger-1.20", "ledger-2.2", "ledger-1.20-files"} {
		t.Run(name, func(t *testing.T) {
			md, sf := sinkFiles(t, name)
			if len(sf.InProgress) != 1 {
				t.Fatalf("in-progress files %+v, want 1", sf.InProgress)
			}
			f := sf.InProgress[0]
			if f.OperatorID != savepoint.OperatorIDForUID("ledger-sink") || f.State != savepoint.WriterStateName || f.Subtask != 0 {
				t.Errorf("in-progress file in operator %s state %s subtask %d, want the writer of uid ledger-sink", f.OperatorID, f.State, f.Subtask)
			}
			rec := f.Recoverable()
			if rec.FS != "local" || rec.Offset <= 0 || !strings.Contains(rec.TempFile, "/.part-") || !strings.Contains(rec.TempFile, ".inprogress.") {
				t.Fatalf("resumable %+v", rec)
			}
			if f.BucketPath == "" || !strings.HasPrefix(rec.TargetFile, strings.TrimPrefix(f.BucketPath, "file:")) {
				t.Errorf("bucket path %q, target %q", f.BucketPath, rec.TargetFile)
			}
			if got := strings.TrimPrefix(f.InProgress.TargetPath, "file:"); got != rec.TargetFile {
				t.Errorf("target path %q, want %q", f.InProgress.TargetPath, rec.TargetFile)
			}
			if strings.HasSuffix(name, "-files") {
				if len(md.Files) == 0 {
					t.Error("Metadata.Files is empty; the state is in files")
				}
				for _, h := range md.Files {
					if _, err := os.Stat(filepath.Join(vectors, name, h.Relative)); h.Relative == "" || err != nil {
						t.Errorf("file handle %+v: %v", h, err)
					}
				}
			} else if len(md.Files) != 0 {
				t.Errorf("Metadata.Files = %+v, want none (all state inline)", md.Files)
			}
		})
	}
}

func TestByteArrayElements_SourcePosition(t *testing.T) {
	md, err := savepoint.ParseMetadata(readMetadata(t, "ledger-2.2"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, op := range md.Operators {
		if op.UID != "ledger-source" {
			continue
		}
		h := op.Subtasks[0].ManagedOp
		for _, s := range h.States {
			if s.Name != "SourceReaderState" {
				continue
			}
			elems, err := savepoint.ByteArrayElements(h.Stream.Data, s)
			if err != nil || len(elems) != 1 {
				t.Fatalf("elements %q, %v", elems, err)
			}
			v, split, err := savepoint.Versioned(elems[0])
			if err != nil || v != 1 {
				t.Fatalf("split version %d: %v", v, err)
			}
			// NumberSequenceSplit: UTF split id, from, to.
			if len(split) < 2+16 {
				t.Fatalf("split %x", split)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no SourceReaderState of ledger-source")
	}
}

func TestDecodeBucketState_NotFileSink(t *testing.T) {
	// A Kafka-like writer state: versioned bytes without the bucket magic.
	el := []byte{0, 0, 0, 1, 0, 0, 0, 4, 1, 2, 3, 4}
	if _, err := savepoint.DecodeBucketState(el); !errors.Is(err, savepoint.ErrNotFileSink) {
		t.Errorf("err = %v, want ErrNotFileSink", err)
	}
	if _, err := savepoint.DecodeCommittables(el); !errors.Is(err, savepoint.ErrNotFileSink) {
		t.Errorf("err = %v, want ErrNotFileSink", err)
	}
	if _, _, err := savepoint.Versioned([]byte{0, 0, 0, 1, 0, 0, 0, 9, 1}); !errors.Is(err, savepoint.ErrMalformed) {
		t.Errorf("short versioned: %v", err)
	}
}

// Every prefix of real sink state elements is an error, never a panic.
func TestDecodeSinkState_Truncated(t *testing.T) {
	for _, name := range []string{"ledger-1.20", "ledger-2.2", "counter-1.20", "counter-2.2"} {
		for _, el := range sinkElements(t, name) {
			for n := range len(el.b) {
				b := el.b[:n]
				if el.committer {
					if _, err := savepoint.DecodeCommittables(b); err == nil {
						t.Errorf("%s: %d of %d committer bytes decoded without error", name, n, len(el.b))
					}
				} else if _, err := savepoint.DecodeBucketState(b); err == nil {
					t.Errorf("%s: %d of %d writer bytes decoded without error", name, n, len(el.b))
				}
			}
		}
	}
}

type element struct {
	b         []byte
	committer bool
}

func sinkElements(tb testing.TB, name string) []element {
	tb.Helper()
	md, err := savepoint.ParseMetadata(readMetadata(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	var out []element
	for _, op := range md.Operators {
		for _, st := range op.Subtasks {
			h := st.ManagedOp
			if h == nil || h.Stream == nil || h.Stream.Data == nil {
				continue
			}
			for _, s := range h.States {
				if s.Name != savepoint.WriterStateName && s.Name != savepoint.CommitterStateName {
					continue
				}
				elems, err := savepoint.ByteArrayElements(h.Stream.Data, s)
				if err != nil {
					tb.Fatal(err)
				}
				for _, e := range elems {
					out = append(out, element{b: e, committer: s.Name == savepoint.CommitterStateName})
				}
			}
		}
	}
	return out
}

// Committer state of the sink v1 FileSink (Flink 1.13/1.14), as Flink 1.15
// to 2.2 restore it.
func TestDecodeCommittables_SinkV1(t *testing.T) {
	local := savepointtest.LocalRecoverable("/out/part-a-1", "/out/.part-a-1.inprogress.u", 77)
	cs, err := savepoint.DecodeCommittables(savepointtest.CommittablesV1(savepointtest.Pending("file:/out/part-a-1", 77, local)))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Pending == nil || cs[0].Pending.Commit.TempFile != "/out/.part-a-1.inprogress.u" || cs[0].Pending.Size != 77 || cs[0].BucketID != "" {
		t.Fatalf("committables %+v", cs)
	}
}

// StreamingFileSink state keeps pending files per checkpoint in the writer.
func TestDecodeBucketState_StreamingFileSink(t *testing.T) {
	inp := savepointtest.InProgress("file:/out/2026-11-29--06/part-0-5", savepointtest.LocalRecoverable("/out/2026-11-29--06/part-0-5", "/out/2026-11-29--06/.part-0-5.inprogress.u", 12))
	pend := savepointtest.Pending("file:/out/2026-11-29--06/part-0-4", 40, savepointtest.LocalRecoverable("/out/2026-11-29--06/part-0-4", "/out/2026-11-29--06/.part-0-4.inprogress.v", 40))
	bs, err := savepoint.DecodeBucketState(savepointtest.StreamingBucketState("2026-11-29--06", "file:/out/2026-11-29--06", inp, 9, pend))
	if err != nil {
		t.Fatal(err)
	}
	if bs.Version != 2 || bs.BucketID != "2026-11-29--06" || bs.InProgress == nil || bs.InProgress.Resume.Offset != 12 ||
		len(bs.Pending) != 1 || bs.Pending[0].CheckpointID != 9 || bs.Pending[0].Commit.TempFile != "/out/2026-11-29--06/.part-0-4.inprogress.v" {
		t.Fatalf("bucket state %+v", bs)
	}
}
