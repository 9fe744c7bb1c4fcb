package snapfiles_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/savepoint"
	"github.com/flinkplane/flinkplane/compat/savepoint/savepointtest"
	"github.com/flinkplane/flinkplane/snapfiles"
)

var ctx = context.Background()

func newFiles() *snapfiles.Files {
	return &snapfiles.Files{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// sink is a FileSink output directory with one in-progress part file and
// a savepoint whose writer state refers to its first offset bytes.
type sink struct {
	out, sp          string
	temp, target     string
	offset           int64
	content          []byte // what the job had written when the savepoint was taken
	pendingT, pendTg string
}

func newSink(t *testing.T, file string) *sink {
	t.Helper()
	root := t.TempDir()
	s := &sink{out: filepath.Join(root, "out"), sp: filepath.Join(root, "savepoints", "savepoint-abc")}
	s.target = filepath.Join(s.out, "part-u1-0-3")
	s.temp = filepath.Join(s.out, ".part-u1-0-3.inprogress.t1")
	s.content = bytes.Repeat([]byte("1,2,3,4,5\n"), 100)
	s.offset = 600
	s.pendTg = filepath.Join(s.out, "part-u1-0-2")
	s.pendingT = filepath.Join(s.out, ".part-u1-0-2.inprogress.t0")
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		t.Fatal(err)
	}
	// The job went on writing after the savepoint: the file holds more.
	if err := os.WriteFile(s.temp, s.content, 0o644); err != nil {
		t.Fatal(err)
	}
	// The pending file was committed as the savepoint completed.
	if err := os.WriteFile(s.pendTg, []byte("committed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writer := savepointtest.BucketState("", "file:"+s.out, 1, savepointtest.InProgress("file:"+s.target,
		savepointtest.LocalRecoverable(s.target, s.temp, s.offset)))
	committer := savepointtest.Committables(5, savepointtest.Pending("file:"+s.pendTg, 10, savepointtest.LocalRecoverable(s.pendTg, s.pendingT, 10)))
	if err := savepointtest.Write(s.sp, 5,
		savepointtest.Operator{UID: "sink", States: map[string][][]byte{savepoint.WriterStateName: {writer}}, File: file},
		savepointtest.Operator{UID: "committer", States: map[string][][]byte{savepoint.CommitterStateName: {committer}}}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *sink) location() string { return "file:" + s.sp }

// commit does what a later job restored from the savepoint does: it
// resumes the file (truncates it to the offset), writes more and commits
// it (renames it to its final name).
func (s *sink) commit(t *testing.T, more string) {
	t.Helper()
	if err := os.Truncate(s.temp, s.offset); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(s.temp, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(more)
	f.Close()
	if err := os.Rename(s.temp, s.target); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string, substrings ...string) {
	t.Helper()
	if got := flinkplane.ErrorCode(err); got != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	for _, s := range substrings {
		if !strings.Contains(flinkplane.ErrorMessage(err), s) {
			t.Fatalf("message %q does not contain %q", flinkplane.ErrorMessage(err), s)
		}
	}
}

func wantTemp(t *testing.T, s *sink) {
	t.Helper()
	b, err := os.ReadFile(s.temp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, s.content[:s.offset]) {
		t.Fatalf("put back %d bytes %q..., want the first %d bytes of the part file", len(b), b[:min(len(b), 20)], s.offset)
	}
	// Nothing else is left in the output directory but the files of the job.
	ents, _ := os.ReadDir(s.out)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left in the output directory", e.Name())
		}
	}
}

// The upgrade-then-rollback sequence: the snapshot is kept while its part
// file is in progress, a later job commits the file, the rollback's restore
// puts the in-progress file back.
func TestKeepVerifyRestore(t *testing.T) {
	for _, file := range []string{"", "op-state"} {
		t.Run("state file "+file, func(t *testing.T) {
			s := newSink(t, file)
			f := newFiles()
			if err := f.Verify(ctx, s.location()); err != nil {
				t.Fatalf("Verify of an intact snapshot: %v", err)
			}
			kf, err := f.Keep(ctx, s.location())
			if err != nil {
				t.Fatal(err)
			}
			if kf.Files != 1 || kf.Bytes != s.offset || len(kf.Missing) != 0 {
				t.Fatalf("Keep = %+v, want 1 file of %d bytes", kf, s.offset)
			}
			// Keep again: nothing copied twice, same result.
			if kf2, err := f.Keep(ctx, s.location()); err != nil || kf2.Files != 1 || kf2.Bytes != s.offset {
				t.Fatalf("second Keep = %+v, %v", kf2, err)
			}
			copies, _ := filepath.Glob(filepath.Join(s.sp, snapfiles.Dir, "*"))
			if len(copies) != 2 { // the copy and the manifest
				t.Fatalf("kept %q, want one copy and the manifest", copies)
			}

			s.commit(t, "9,9,9,9,9\n")
			if err := f.Verify(ctx, s.location()); err != nil {
				t.Fatalf("Verify with the part file committed by a later job: %v", err)
			}
			// Even with the committed file moved away by a consumer.
			os.Rename(s.target, s.target+".consumed")
			if err := f.Verify(ctx, s.location()); err != nil {
				t.Fatalf("Verify with only the kept copy: %v", err)
			}
			if err := f.Restore(ctx, s.location()); err != nil {
				t.Fatal(err)
			}
			wantTemp(t, s)
			// Restore again: the file is there, nothing changes.
			if err := f.Restore(ctx, s.location()); err != nil {
				t.Fatal(err)
			}
			wantTemp(t, s)
		})
	}
}

func TestVerify_Refuses(t *testing.T) {
	t.Run("PartFileGone", func(t *testing.T) {
		s := newSink(t, "")
		f := newFiles()
		s.commit(t, "more\n")
		os.Remove(s.target)
		wantCode(t, f.Verify(ctx, s.location()), flinkplane.EINVALIDREQUEST,
			"The snapshot cannot be restored", "in-progress part file "+s.temp, "600 bytes", "no copy was kept")
		wantCode(t, f.Restore(ctx, s.location()), flinkplane.EINVALIDCONFIG, s.temp)
	})
	t.Run("PartFileShorter", func(t *testing.T) {
		s := newSink(t, "")
		os.Truncate(s.temp, 10)
		wantCode(t, newFiles().Verify(ctx, s.location()), flinkplane.EINVALIDREQUEST, "holds only 10 bytes")
	})
	t.Run("StateFileGone", func(t *testing.T) {
		s := newSink(t, "op-state")
		os.Remove(filepath.Join(s.sp, "op-state"))
		wantCode(t, newFiles().Verify(ctx, s.location()), flinkplane.EINVALIDREQUEST, "state file "+filepath.Join(s.sp, "op-state")+" cannot be read")
	})
	t.Run("StateFileTruncated", func(t *testing.T) {
		s := newSink(t, "op-state")
		os.Truncate(filepath.Join(s.sp, "op-state"), 20)
		wantCode(t, newFiles().Verify(ctx, s.location()), flinkplane.EINVALIDREQUEST, "holds 20 bytes")
	})
	t.Run("MetadataGone", func(t *testing.T) {
		s := newSink(t, "")
		os.Remove(filepath.Join(s.sp, "_metadata"))
		wantCode(t, newFiles().Verify(ctx, s.location()), flinkplane.EINVALIDREQUEST, "metadata file")
	})
	t.Run("MetadataCorrupt", func(t *testing.T) {
		s := newSink(t, "")
		os.WriteFile(filepath.Join(s.sp, "_metadata"), []byte("garbage"), 0o644)
		wantCode(t, newFiles().Verify(ctx, s.location()), flinkplane.EINVALIDREQUEST, "cannot be parsed")
	})
	t.Run("PendingTruncated", func(t *testing.T) {
		s := newSink(t, "")
		os.WriteFile(s.pendingT, []byte("abc"), 0o644)
		wantCode(t, newFiles().Verify(ctx, s.location()), flinkplane.EINVALIDREQUEST, "pending part file "+s.pendingT+" (10 bytes, to be committed as part-u1-0-2) holds only 3 bytes")
	})
}

// A pending file committed and moved away since is what Flink skips: no refusal.
func TestVerify_PendingConsumed(t *testing.T) {
	s := newSink(t, "")
	os.Remove(s.pendTg)
	if err := newFiles().Verify(ctx, s.location()); err != nil {
		t.Fatal(err)
	}
}

// A pending file not yet committed when the snapshot was taken (an
// intermediate savepoint: Flink commits it with the next checkpoint) is
// kept; if a restore of an older checkpoint truncates its temporary file,
// the copy is put back. Once committed it is left alone.
func TestKeep_PendingNotCommitted(t *testing.T) {
	s := newSink(t, "")
	os.Remove(s.pendTg)
	os.WriteFile(s.pendingT, []byte("0123456789"), 0o644)
	f := newFiles()
	kf, err := f.Keep(ctx, s.location())
	if err != nil || kf.Files != 2 || kf.Bytes != s.offset+10 {
		t.Fatalf("Keep = %+v, %v; want the in-progress and the pending file", kf, err)
	}
	os.Truncate(s.pendingT, 3)
	if err := f.Verify(ctx, s.location()); err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(ctx, s.location()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(s.pendingT); string(b) != "0123456789" {
		t.Fatalf("pending file put back as %q", b)
	}
	// Committed, then taken by a consumer: nothing is delivered again.
	os.Remove(s.pendingT)
	if err := f.Restore(ctx, s.location()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.pendingT); err == nil {
		t.Fatal("a committed pending file was put back")
	}
}

// Without a kept copy, the committed file's first bytes are the in-progress file.
func TestRestore_FromCommittedFile(t *testing.T) {
	s := newSink(t, "")
	f := newFiles()
	s.commit(t, "the newer job's records\n")
	if err := f.Verify(ctx, s.location()); err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(ctx, s.location()); err != nil {
		t.Fatal(err)
	}
	wantTemp(t, s)
	if b, _ := os.ReadFile(s.target); !bytes.HasSuffix(b, []byte("the newer job's records\n")) {
		t.Error("the committed file was changed")
	}
}

// A temporary file shorter than recorded (truncated by a restore of an older
// snapshot) is replaced by the kept copy.
func TestRestore_ShorterTemp(t *testing.T) {
	s := newSink(t, "")
	f := newFiles()
	if _, err := f.Keep(ctx, s.location()); err != nil {
		t.Fatal(err)
	}
	os.Truncate(s.temp, 100)
	if err := f.Restore(ctx, s.location()); err != nil {
		t.Fatal(err)
	}
	wantTemp(t, s)
}

// Keep after the job committed the file takes the copy from the committed file.
func TestKeep_FromTarget(t *testing.T) {
	s := newSink(t, "")
	s.commit(t, "x\n")
	f := newFiles()
	kf, err := f.Keep(ctx, s.location())
	if err != nil || kf.Files != 1 {
		t.Fatalf("Keep = %+v, %v", kf, err)
	}
	m := readManifest(t, s)
	if m.Files[0].From != "target" {
		t.Errorf("copy taken from %q, want target", m.Files[0].From)
	}
	os.Remove(s.target)
	if err := f.Restore(ctx, s.location()); err != nil {
		t.Fatal(err)
	}
	wantTemp(t, s)
}

// A part file already gone at Keep is reported, not an error.
func TestKeep_Missing(t *testing.T) {
	s := newSink(t, "")
	os.Remove(s.temp)
	kf, err := newFiles().Keep(ctx, s.location())
	if err != nil || kf.Files != 0 || len(kf.Missing) != 1 || kf.Missing[0] != s.temp {
		t.Fatalf("Keep = %+v, %v", kf, err)
	}
}

type manifestJSON struct {
	Files []struct {
		Copy, CRC32C, From, Temp string
		Offset                   int64
	}
}

func readManifest(t *testing.T, s *sink) manifestJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.sp, snapfiles.Dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifestJSON
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Crash safety: a copy the manifest does not list (Keep interrupted before
// writing it) is never used; a kept copy whose bytes changed is not put back.
func TestKeep_CrashSafety(t *testing.T) {
	t.Run("CopyWithoutManifest", func(t *testing.T) {
		s := newSink(t, "")
		f := newFiles()
		if _, err := f.Keep(ctx, s.location()); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(s.sp, snapfiles.Dir, "manifest.json"))
		os.WriteFile(filepath.Join(s.sp, snapfiles.Dir, ".000-part-u1-0-3.tmp-123"), []byte("half"), 0o644)
		s.commit(t, "x\n")
		os.Remove(s.target)
		wantCode(t, f.Verify(ctx, s.location()), flinkplane.EINVALIDREQUEST, "no copy was kept")
	})
	t.Run("CorruptCopy", func(t *testing.T) {
		s := newSink(t, "")
		f := newFiles()
		if _, err := f.Keep(ctx, s.location()); err != nil {
			t.Fatal(err)
		}
		m := readManifest(t, s)
		cp := filepath.Join(s.sp, snapfiles.Dir, m.Files[0].Copy)
		b, _ := os.ReadFile(cp)
		b[0] ^= 1
		os.WriteFile(cp, b, 0o644)
		s.commit(t, "x\n")
		os.Remove(s.target)
		wantCode(t, f.Restore(ctx, s.location()), flinkplane.EINVALIDCONFIG, "checksum")
		if _, err := os.Stat(s.temp); err == nil {
			t.Error("a corrupt copy was put back")
		}
	})
}

// Locations not on the local file system are not checked (nil), so a driver
// keeping savepoints elsewhere is not blocked.
func TestNotLocal(t *testing.T) {
	f := newFiles()
	if err := f.Verify(ctx, "s3://bucket/savepoints/sp-1"); err != nil {
		t.Fatal(err)
	}
	if kf, err := f.Keep(ctx, "s3://bucket/savepoints/sp-1"); err != nil || kf.Files != 0 {
		t.Fatal(kf, err)
	}
	if err := f.Restore(ctx, "s3://bucket/savepoints/sp-1"); err != nil {
		t.Fatal(err)
	}
}

// A real savepoint of the ledger on Flink 1.20: its in-progress part file
// was in the generator's temporary directory, long gone.
func TestVerify_RealLedgerSavepoint(t *testing.T) {
	for _, name := range []string{"ledger-1.20", "ledger-2.2", "ledger-1.20-files"} {
		dir := filepath.Join(t.TempDir(), name)
		src := filepath.Join("..", "compat", "testdata", "savepoints", name)
		ents, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(dir, 0o755)
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(src, e.Name()))
			os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
		}
		err = newFiles().Verify(ctx, "file:"+dir)
		wantCode(t, err, flinkplane.EINVALIDREQUEST, "FileSink in-progress part file /tmp/", ".inprogress.")
		t.Logf("%s: %s", name, flinkplane.ErrorMessage(err))
	}
}
