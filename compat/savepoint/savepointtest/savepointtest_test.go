package savepointtest_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/flinkplane/flinkplane/compat/savepoint"
	"github.com/flinkplane/flinkplane/compat/savepoint/savepointtest"
)

// What savepointtest writes, package savepoint reads back.
func TestRoundTrip(t *testing.T) {
	s3 := savepoint.S3Recoverable{Key: "out/part-1", UploadID: "up-1", Parts: []savepoint.S3Part{{Number: 1, ETag: "e1"}, {Number: 2, ETag: "e2"}},
		BytesInParts: 10 << 20, IncompleteKey: "out/_tmp_abc", IncompleteLength: 7}
	writer := [][]byte{
		savepointtest.BucketState("", "file:/out", 42, savepointtest.InProgress("file:/out/part-a-0", savepointtest.LocalRecoverable("/out/part-a-0", "/out/.part-a-0.inprogress.u1", 123))),
		savepointtest.BucketState("", "s3://bucket/out", 43, savepointtest.InProgress("s3://bucket/out/part-b-0", savepointtest.S3Recoverable(s3))),
		savepointtest.BucketState("", "file:/out", 44, nil),
	}
	committer := [][]byte{savepointtest.Committables(7,
		savepointtest.Pending("file:/out/part-a-1", 55, savepointtest.LocalRecoverable("/out/part-a-1", "/out/.part-a-1.inprogress.u2", 55)))}
	for _, file := range []string{"", "op-state"} {
		dir := t.TempDir()
		err := savepointtest.Write(dir, 9,
			savepointtest.Operator{UID: "sink", States: map[string][][]byte{savepoint.WriterStateName: writer}, File: file},
			savepointtest.Operator{UID: "committer", States: map[string][][]byte{savepoint.CommitterStateName: committer}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "_metadata"))
		md, err := savepoint.ParseMetadata(b)
		if err != nil {
			t.Fatal(err)
		}
		if md.CheckpointID != 9 || len(md.Operators) != 2 || md.Operators[0].ID != savepoint.OperatorIDForUID("sink") {
			t.Fatalf("metadata %+v", md)
		}
		sf, err := savepoint.FindSinkFiles(md, func(h *savepoint.StreamHandle) ([]byte, error) {
			if h.Data != nil {
				return h.Data, nil
			}
			return os.ReadFile(filepath.Join(dir, h.Relative))
		})
		if err != nil || len(sf.Unreadable) > 0 {
			t.Fatalf("%v %q", err, sf.Unreadable)
		}
		if len(sf.InProgress) != 2 || len(sf.Pending) != 1 {
			t.Fatalf("in-progress %+v pending %+v", sf.InProgress, sf.Pending)
		}
		if got := sf.InProgress[0].Recoverable(); got.FS != "local" || got.TempFile != "/out/.part-a-0.inprogress.u1" || got.Offset != 123 {
			t.Errorf("local in-progress %+v", got)
		}
		if got := sf.InProgress[1].Recoverable(); got.FS != "s3" || !reflect.DeepEqual(*got.S3, s3) || got.Offset != 10<<20+7 {
			t.Errorf("S3 in-progress %+v", got.S3)
		}
		if p := sf.Pending[0]; p.Pending.CheckpointID != 7 || p.Pending.Size != 55 || p.Recoverable().TargetFile != "/out/part-a-1" {
			t.Errorf("pending %+v", p.Pending)
		}
		if (file != "") != (len(md.Files) == 1) {
			t.Errorf("Metadata.Files = %+v", md.Files)
		}
	}
}
