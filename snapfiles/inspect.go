package snapfiles

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// maxMetadataSize bounds the _metadata read (inline state included).
const maxMetadataSize = 1 << 30

// snapshot is what a savepoint refers to, as read from its _metadata.
type snapshot struct {
	dir  string // local savepoint directory
	md   *savepoint.Metadata
	sink *savepoint.SinkFiles
	// problems are what makes the savepoint unrestorable (Verify's
	// refusal); partProblems those about the files outside it.
	problems     []string
	partProblems []string
	// notes are what could not be checked or will not be restored, logged.
	notes []string
}

func (s *snapshot) problem(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

func (s *snapshot) partProblem(format string, args ...any) {
	s.problem(format, args...)
	s.partProblems = append(s.partProblems, s.problems[len(s.problems)-1])
}

func (s *snapshot) note(format string, args ...any) {
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

// errNotLocal is returned for a savepoint location that is not on the local
// file system.
var errNotLocal = errors.New("savepoint is not on the local file system")

// localDir returns the savepoint directory of a location: "file:/x",
// "file:///x" or "/x", the directory or its _metadata file.
func localDir(location string) (string, error) {
	p := location
	if rest, ok := strings.CutPrefix(p, "file://"); ok {
		p = rest
	} else if rest, ok := strings.CutPrefix(p, "file:"); ok {
		p = rest
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%w: %s", errNotLocal, location)
	}
	p = filepath.Clean(p)
	if filepath.Base(p) == "_metadata" {
		p = filepath.Dir(p)
	}
	return p, nil
}

// read parses the savepoint at dir: its _metadata, the state files it
// references (checked), and the file sink state in it (decoded). Problems
// with the savepoint's own files are recorded in s.problems; an error is
// returned only when ctx ends.
func (f *Files) read(ctx context.Context, dir string) (*snapshot, error) {
	s := &snapshot{dir: dir}
	meta := filepath.Join(dir, "_metadata")
	b, err := readFile(meta, 0, maxMetadataSize)
	if err != nil {
		s.problem("its metadata file %s cannot be read (%v)", meta, unwrapPath(err))
		return s, nil
	}
	if s.md, err = savepoint.ParseMetadata(b); err != nil {
		s.problem("its metadata file %s cannot be parsed (%v)", meta, err)
		return s, nil
	}
	for _, h := range s.md.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f.checkStateFile(ctx, s, h)
	}
	sink, err := savepoint.FindSinkFiles(s.md, func(h *savepoint.StreamHandle) ([]byte, error) {
		return f.stream(ctx, s, h)
	})
	if err != nil {
		// A state file that cannot be read was already reported as a problem.
		s.note("file sink state not read: %v", err)
		return s, nil
	}
	s.sink = sink
	for _, u := range sink.Unreadable {
		s.note("file sink state not checked: %s", u)
	}
	return s, ctx.Err()
}

// statePath returns the local path of a state file handle, "" when it is
// not on the local file system.
func statePath(dir string, h *savepoint.StreamHandle) string {
	if h.Relative != "" {
		return filepath.Join(dir, filepath.FromSlash(h.Relative))
	}
	return h.LocalPath()
}

// checkStateFile records a problem unless the state file of h is present,
// readable and holds the bytes the handle refers to.
func (f *Files) checkStateFile(ctx context.Context, s *snapshot, h *savepoint.StreamHandle) {
	need := h.Offset + h.Size
	if p := statePath(s.dir, h); p != "" {
		fh, err := os.Open(p)
		if err != nil {
			s.problem("its state file %s cannot be read (%v)", p, unwrapPath(err))
			return
		}
		defer fh.Close()
		st, err := fh.Stat()
		if err != nil || !st.Mode().IsRegular() {
			s.problem("its state file %s is not a regular file", p)
			return
		}
		if st.Size() < need {
			s.problem("its state file %s holds %d bytes, the state needs %d", p, st.Size(), need)
		}
		return
	}
	if bucket, key, ok := s3Path(h.Path); ok {
		if f.S3 == nil {
			s.note("state file %s not checked: no S3 endpoint is configured", h.Path)
			return
		}
		size, found, err := f.headObject(ctx, bucket, key)
		switch {
		case err != nil:
			s.note("state file %s not checked: %v", h.Path, err)
		case !found:
			s.problem("its state file %s is missing", h.Path)
		case size < need:
			s.problem("its state file %s holds %d bytes, the state needs %d", h.Path, size, need)
		}
		return
	}
	s.note("state file %s not checked: file system not supported", h.Path)
}

// stream returns the bytes of an operator state stream.
func (f *Files) stream(ctx context.Context, s *snapshot, h *savepoint.StreamHandle) ([]byte, error) {
	if h.Data != nil {
		return h.Data, nil
	}
	if p := statePath(s.dir, h); p != "" {
		return readFile(p, h.Offset, h.Size)
	}
	if bucket, key, ok := s3Path(h.Path); ok && f.S3 != nil {
		return f.getObject(ctx, bucket, key, h.Offset, h.Size)
	}
	return nil, fmt.Errorf("state at %s cannot be read", h.Path)
}

// readFile reads n bytes of p from off (n <= 0: up to limit maxMetadataSize).
func readFile(p string, off, n int64) ([]byte, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if n <= 0 {
		n = maxMetadataSize
	}
	if off > 0 {
		if _, err := fh.Seek(off, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(io.LimitReader(fh, n))
}

// unwrapPath drops the path from *fs.PathError (the message names it already).
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
