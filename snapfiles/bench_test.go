package snapfiles_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/flinkplane/flinkplane/compat/savepoint"
	"github.com/flinkplane/flinkplane/compat/savepoint/savepointtest"
	"github.com/flinkplane/flinkplane/snapfiles"
)

// benchSink writes a savepoint whose FileSink writer state refers to one
// in-progress part file of size bytes per subtask.
func benchSink(b *testing.B, size int64, subtasks int) (location string, temps []string) {
	b.Helper()
	root := b.TempDir()
	out := filepath.Join(root, "out")
	os.MkdirAll(out, 0o755)
	var writer [][]byte
	for i := range subtasks {
		target := filepath.Join(out, fmt.Sprintf("part-u-%d-0", i))
		temp := filepath.Join(out, fmt.Sprintf(".part-u-%d-0.inprogress.t", i))
		f, err := os.Create(temp)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyN(f, rand.Reader, size); err != nil {
			b.Fatal(err)
		}
		f.Close()
		temps = append(temps, temp)
		writer = append(writer, savepointtest.BucketState("", "file:"+out, 1, savepointtest.InProgress("file:"+target, savepointtest.LocalRecoverable(target, temp, size))))
	}
	sp := filepath.Join(root, "savepoint")
	if err := savepointtest.Write(sp, 1, savepointtest.Operator{UID: "sink", States: map[string][][]byte{savepoint.WriterStateName: writer}}); err != nil {
		b.Fatal(err)
	}
	return "file:" + sp, temps
}

// BenchmarkKeep measures what keeping the files of one snapshot costs: Keep
// (copy with SHA-256, fsync, rename, manifest), Verify (parse _metadata and
// the sink state, stat the files) and Restore (copy back with the checksum
// checked) for in-progress part files of several sizes, against a plain
// copy with fsync of the same bytes (Copy). Bytes/s are part-file bytes.
func BenchmarkKeep(b *testing.B) {
	f := newFiles()
	for _, size := range []int64{64 << 10, 1 << 20, 16 << 20, 128 << 20} {
		name := fmt.Sprintf("%dKiB", size>>10)
		loc, temps := benchSink(b, size, 1)
		sp := loc[len("file:"):]
		b.Run("Copy/"+name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				src, _ := os.Open(temps[0])
				dst, _ := os.Create(filepath.Join(sp, "plain-copy"))
				if _, err := io.CopyN(dst, src, size); err != nil {
					b.Fatal(err)
				}
				dst.Sync()
				dst.Close()
				src.Close()
			}
		})
		b.Run("Keep/"+name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				os.RemoveAll(filepath.Join(sp, snapfiles.Dir))
				if kf, err := f.Keep(ctx, loc); err != nil || kf.Bytes != size {
					b.Fatal(kf, err)
				}
			}
		})
		b.Run("Verify/"+name, func(b *testing.B) {
			for b.Loop() {
				if err := f.Verify(ctx, loc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Restore/"+name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				os.Remove(temps[0])
				if err := f.Restore(ctx, loc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
