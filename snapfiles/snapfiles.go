// Package snapfiles keeps, checks and puts back what a savepoint refers to
// outside itself (flinkplane.SnapshotFiles) for savepoints on the local
// file system.
//
// A savepoint holds a job's state, and that state may name files that are
// not part of the savepoint. Flink's FileSink (and StreamingFileSink) is
// the common case: its writer state names the part file it had in
// progress (its hidden temporary path, the final path and the number of
// valid bytes), and a job restored from the savepoint resumes that file,
// failing with FileNotFoundException when it is gone. It goes when a later
// job restored from the same savepoint finishes and commits the file (an
// upgrade followed by a rollback), or when someone removes it.
//
// Verify reads the savepoint without a JVM (package compat/savepoint):
// _metadata, every state file it references (present, readable, long
// enough; small state is inlined in _metadata), and the file sink writer
// and committer state, then checks the part files: an in-progress file
// must exist with at least its recorded length, or be recoverable from a
// copy kept with the snapshot or from its committed file (whose first
// bytes are the in-progress file's: Flink commits by renaming and never
// rewrites a committed file's beginning); a pending file's temporary file,
// when still there, must hold its recorded length. Part files on an
// S3-compatible store are checked through S3 (the multipart upload of an
// in-progress file, the objects of committed files) when an S3 client is
// configured.
//
// Keep copies each in-progress part file, up to its recorded length, from
// its temporary file (or from the committed file if the job committed it
// in the meantime), and each pending one not committed yet, into the
// folder flinkplane-files of the savepoint directory, each copy written to
// a temporary name, fsynced and renamed, then a manifest listing them (written the same way, last): a copy not in
// the manifest is never used, so a crash leaves nothing half-written that
// a restore would trust. Restore puts back, from the copies (checksums
// verified) or from the committed file, the in-progress files that are
// missing or shorter than recorded, again through a temporary name and a
// rename. The copies live in the savepoint directory and go with it when
// the snapshot is deleted.
//
// A pending part file (closed, waiting for its commit) is copied only
// while it is not committed yet (its temporary file exists), and put back
// only when its temporary file is still there but shorter than recorded: a
// pending file whose temporary file is gone was committed, and if its
// committed file is gone too a consumer took it; Flink then skips it, and
// so does Restore (putting a copy back would deliver its records twice).
package snapfiles

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/savepoint"
	"github.com/flinkplane/flinkplane/internal/atomicfile"
)

// Dir is the folder of a savepoint directory that holds the kept copies and
// their manifest.
const Dir = "flinkplane-files"

// Files implements flinkplane.SnapshotFiles for local savepoints.
type Files struct {
	// S3, if set, is the S3-compatible endpoint through which s3://
	// (s3a://, s3p://) part files and state files are checked.
	S3     *s3.Client
	Logger *slog.Logger
	// NoCopies makes Keep keep nothing; Verify and Restore still check
	// and put back part files from their committed files.
	NoCopies bool
}

var _ flinkplane.SnapshotFiles = (*Files)(nil)

// New returns a Files that logs to slog.Default.
func New() *Files { return &Files{Logger: slog.Default()} }

func (f *Files) logger() *slog.Logger {
	if f.Logger == nil {
		return slog.Default()
	}
	return f.Logger
}

// source tells where an in-progress part file's bytes can be found.
type source int

const (
	srcMissing   source = iota
	srcTemp             // its temporary file holds at least the recorded length
	srcKept             // a complete copy is kept with the snapshot
	srcCommitted        // its committed file holds at least the recorded length
)

// part is one local part file of the snapshot's state: in progress
// (writer state) or pending (closed, waiting for its commit).
type part struct {
	file    savepoint.SinkFile
	rec     savepoint.Recoverable
	pending bool
	kept    *keptFile // the manifest's entry, if any
	src     source
	have    int64 // bytes of the temporary file, -1 when absent
}

func (p *part) kind() string {
	if p.pending {
		return "pending"
	}
	return "in-progress"
}

func (p *part) describe() string {
	return fmt.Sprintf("the FileSink %s part file %s (%d bytes, to be committed as %s)", p.kind(), p.rec.TempFile, p.rec.Offset, filepath.Base(p.rec.TargetFile))
}

// parts classifies the local part files of s, and checks the others (S3),
// recording problems and notes in s.
//
// An in-progress file needs its bytes somewhere: its temporary file, a
// kept copy, or its committed file (whose first bytes they are). A pending
// file whose temporary file is gone was committed: nothing is needed (if
// its committed file is gone too, a consumer took it; Flink skips it). One
// whose temporary file is still there but shorter than recorded (a restore
// of an older checkpoint truncated it) needs its kept copy.
func (f *Files) parts(ctx context.Context, s *snapshot, man *manifest) []*part {
	if s.sink == nil {
		return nil
	}
	var out []*part
	for i, list := range [][]savepoint.SinkFile{s.sink.InProgress, s.sink.Pending} {
		pending := i == 1
		for _, sf := range list {
			rec := sf.Recoverable()
			switch rec.FS {
			case "local":
			case "s3":
				if pending {
					f.checkS3Pending(ctx, s, sf)
				} else {
					f.checkS3InProgress(ctx, s, sf)
				}
				continue
			default:
				s.note("part file of operator %s not checked: written by a file system other than the local one or S3", sf.OperatorID)
				continue
			}
			p := &part{file: sf, rec: rec, pending: pending, kept: man.find(rec, pending), have: fileSize(rec.TempFile)}
			kept := p.kept != nil && p.kept.Copy != "" && fileSize(filepath.Join(s.dir, Dir, p.kept.Copy)) == rec.Offset
			switch {
			case p.have >= rec.Offset:
				p.src = srcTemp
			case pending && p.have < 0:
				p.src = srcCommitted
				if fileSize(rec.TargetFile) < 0 {
					s.note("pending part file %s was committed and its file was moved or deleted since; it is not delivered again", rec.TargetFile)
				}
			case kept:
				p.src = srcKept
			case !pending && fileSize(rec.TargetFile) >= rec.Offset:
				p.src = srcCommitted
			case pending:
				s.partProblem("%s holds only %d bytes and no copy was kept with the snapshot (Flink fails its commit: missing data)", p.describe(), p.have)
			default:
				detail := "its temporary file is gone"
				if p.have >= 0 {
					detail = fmt.Sprintf("its temporary file holds only %d bytes", p.have)
				}
				s.partProblem("%s is missing: %s, no copy was kept with the snapshot and its committed file %s is gone or shorter", p.describe(), detail, rec.TargetFile)
			}
			out = append(out, p)
		}
	}
	return out
}

// fileSize returns the size of a regular file, -1 when it is absent or not
// a regular file.
func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() {
		return -1
	}
	return st.Size()
}

// inspect reads the savepoint at location and its manifest and classifies
// its part files. ok is false for a location that is not local.
func (f *Files) inspect(ctx context.Context, location string) (s *snapshot, man *manifest, ps []*part, ok bool, err error) {
	dir, err := localDir(location)
	if err != nil {
		f.logger().Warn("snapshot files not checked: only local savepoints are supported", "location", location)
		return nil, nil, nil, false, nil
	}
	if s, err = f.read(ctx, dir); err != nil {
		return nil, nil, nil, true, err
	}
	if man, err = readManifest(dir); err != nil {
		s.note("manifest of kept files not read: %v", err)
		man = &manifest{}
	}
	ps = f.parts(ctx, s, man)
	return s, man, ps, true, ctx.Err()
}

func (f *Files) logNotes(location string, s *snapshot) {
	for _, n := range s.notes {
		f.logger().Warn("snapshot files: "+n, "location", location)
	}
}

// refusal lists the problems as the message of an error with code.
func refusal(code string, problems []string) error {
	const max = 5
	more := ""
	if len(problems) > max {
		more = fmt.Sprintf("; and %d more", len(problems)-max)
		problems = problems[:max]
	}
	return flinkplane.Errorf(code, "The snapshot cannot be restored: %s%s.", strings.Join(problems, "; "), more)
}

// Verify implements flinkplane.SnapshotFiles.
func (f *Files) Verify(ctx context.Context, location string) error {
	s, _, _, ok, err := f.inspect(ctx, location)
	if err != nil || !ok {
		return err
	}
	f.logNotes(location, s)
	if len(s.problems) > 0 {
		return refusal(flinkplane.EINVALIDREQUEST, s.problems)
	}
	return nil
}

// Keep implements flinkplane.SnapshotFiles.
func (f *Files) Keep(ctx context.Context, location string) (flinkplane.KeptFiles, error) {
	var kf flinkplane.KeptFiles
	if f.NoCopies {
		return kf, nil
	}
	s, _, ps, ok, err := f.inspect(ctx, location)
	if err != nil || !ok {
		return kf, err
	}
	f.logNotes(location, s)
	if len(ps) == 0 {
		return kf, nil
	}
	folder := filepath.Join(s.dir, Dir)
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return kf, fmt.Errorf("create %s: %w", folder, err)
	}
	next := &manifest{Version: manifestVersion}
	for i, p := range ps {
		e := keptFile{Kind: p.kind(), Operator: p.file.OperatorID, Subtask: p.file.Subtask, Temp: p.rec.TempFile, Target: p.rec.TargetFile, Offset: p.rec.Offset}
		switch {
		case p.kept != nil && p.kept.Copy != "" && fileSize(filepath.Join(folder, p.kept.Copy)) == p.rec.Offset:
			e = *p.kept // kept by an earlier, interrupted Keep
		case p.pending && p.src != srcTemp:
			// Committed already (or its temporary file damaged): a copy
			// taken now would not be the file the snapshot refers to.
		default:
			e.Copy = fmt.Sprintf("%03d-%s", i, filepath.Base(p.rec.TargetFile))
			sources := []string{p.rec.TempFile, p.rec.TargetFile}
			if p.pending {
				sources = sources[:1]
			}
			sum, from, err := keepCopy(p.rec, sources, filepath.Join(folder, e.Copy))
			switch {
			case err == errGone:
				e.Copy = ""
				if !p.pending {
					kf.Missing = append(kf.Missing, p.rec.TempFile)
				}
			case err != nil:
				return kf, err
			default:
				e.CRC32C, e.From = sum, from
			}
		}
		if e.Copy != "" {
			kf.Files++
			kf.Bytes += e.Offset
		}
		next.Files = append(next.Files, e)
	}
	if err := writeManifest(s.dir, next); err != nil {
		return kf, err
	}
	return kf, nil
}

// Restore implements flinkplane.SnapshotFiles.
func (f *Files) Restore(ctx context.Context, location string) error {
	s, _, ps, ok, err := f.inspect(ctx, location)
	if err != nil || !ok {
		return err
	}
	f.logNotes(location, s)
	var problems []string
	for _, p := range ps {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch p.src {
		case srcTemp:
			continue
		case srcKept:
			err = putBack(filepath.Join(s.dir, Dir, p.kept.Copy), p.kept.CRC32C, p.rec)
		case srcCommitted:
			if p.pending {
				continue // committed: Flink finds it so
			}
			err = putBack(p.rec.TargetFile, "", p.rec)
		default:
			continue // a problem of s already
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s cannot be put back: %v", p.describe(), err))
			continue
		}
		from := "the copy kept with the snapshot"
		if p.src == srcCommitted {
			from = "its committed file " + p.rec.TargetFile
		}
		f.logger().Info("put back a part file the snapshot needs", "kind", p.kind(), "file", p.rec.TempFile, "bytes", p.rec.Offset, "from", from, "location", location)
	}
	// The part files that cannot be found are what the job would fail on;
	// problems with the savepoint's own files Flink reports itself (they
	// may be visible to the cluster and not to the control plane).
	problems = append(problems, s.partProblems...)
	if len(problems) > 0 {
		return refusal(flinkplane.EINVALIDCONFIG, problems)
	}
	return nil
}

// errGone: neither the temporary nor the committed file holds the bytes.
var errGone = fmt.Errorf("part file gone")

// keepCopy copies the first rec.Offset bytes of the part file from the
// first of sources that holds them to dst: temporary name, fsync, rename.
// It returns the copy's checksum and where it came from ("temp" or
// "target").
func keepCopy(rec savepoint.Recoverable, sources []string, dst string) (sum, from string, err error) {
	for _, path := range sources {
		src, err := os.Open(path)
		if err != nil {
			continue
		}
		st, err := src.Stat()
		if err != nil || !st.Mode().IsRegular() || st.Size() < rec.Offset {
			src.Close()
			continue
		}
		sum, err := copyPrefix(dst, src, rec.Offset, "")
		src.Close()
		if err != nil {
			return "", "", fmt.Errorf("keep a copy of %s: %w", path, err)
		}
		from := "temp"
		if path != rec.TempFile {
			from = "target"
		}
		return sum, from, nil
	}
	return "", "", errGone
}

// putBack writes the first rec.Offset bytes of src to the in-progress
// file's temporary path: temporary name, fsync, rename. With want set, the
// bytes must have that checksum or nothing is written.
func putBack(src, want string, rec savepoint.Recoverable) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(rec.TempFile), 0o755); err != nil {
		return err
	}
	_, err = copyPrefix(rec.TempFile, in, rec.Offset, want)
	return err
}

// copyPrefix writes n bytes of r to path atomically and returns their
// checksum (CRC-32C, hex); with want set, a different checksum fails the
// write.
func copyPrefix(path string, r io.Reader, n int64, want string) (string, error) {
	var sum string
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		h := newHash()
		written, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(r, n), make([]byte, 1<<20))
		if err != nil {
			return err
		}
		if written != n {
			return io.ErrUnexpectedEOF
		}
		sum = h.hex()
		if want != "" && sum != want {
			return fmt.Errorf("the copy's checksum %s is not the recorded %s", sum, want)
		}
		return nil
	})
	return sum, err
}
