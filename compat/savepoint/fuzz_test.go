package savepoint_test

import (
	"testing"

	"github.com/flinkplane/flinkplane/compat/savepoint"
	"github.com/flinkplane/flinkplane/compat/savepoint/savepointtest"
)

// FuzzParseMetadata: malformed _metadata returns an error, never panics.
func FuzzParseMetadata(f *testing.F) {
	for _, n := range []string{"pojo-list-1.20", "counter-2.2", "pojo-list-1.20-files", "ledger-2.2", "ledger-1.20-files"} {
		f.Add(readMetadata(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := savepoint.ParseMetadata(b)
		if err != nil {
			return
		}
		for _, op := range md.Operators {
			for _, st := range op.Subtasks {
				if h := st.ManagedKeyed; h != nil && h.Stream != nil && h.Stream.Data != nil {
					savepoint.ParseKeyedProxy(h.Stream.Data)
				}
				if h := st.ManagedOp; h != nil && h.Stream != nil && h.Stream.Data != nil {
					savepoint.ParseOperatorProxy(h.Stream.Data)
				}
			}
		}
	})
}

// FuzzParseKeyedProxy: malformed serializer snapshots (deep nesting, huge
// counts) return an error or fall back to the string scan, never panic.
func FuzzParseKeyedProxy(f *testing.F) {
	md, err := savepoint.ParseMetadata(readMetadata(f, "pojo-list-1.20"))
	if err != nil {
		f.Fatal(err)
	}
	for _, op := range md.Operators {
		for _, st := range op.Subtasks {
			if h := st.ManagedKeyed; h != nil && h.Stream != nil && h.Stream.Data != nil {
				f.Add(h.Stream.Data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := savepoint.ParseKeyedProxy(b)
		if err != nil {
			return
		}
		for _, s := range p.States {
			for _, snap := range s.Serializers {
				snap.Walk(func([]string, *savepoint.Snapshot) {})
			}
		}
	})
}

// sinkSeeds are real FileSink writer and committer state elements (Flink
// 1.20 and 2.2) and written ones with S3 recoverables.
func sinkSeeds(f *testing.F) (writer, committer [][]byte) {
	for _, n := range []string{"ledger-1.20", "ledger-2.2", "counter-1.20", "counter-2.2"} {
		for _, el := range sinkElements(f, n) {
			if el.committer {
				committer = append(committer, el.b)
			} else {
				writer = append(writer, el.b)
			}
		}
	}
	s3 := savepointtest.S3Recoverable(savepoint.S3Recoverable{Key: "k", UploadID: "u", Parts: []savepoint.S3Part{{Number: 1, ETag: "e"}}, BytesInParts: 5, IncompleteKey: "t", IncompleteLength: 2})
	writer = append(writer, savepointtest.BucketState("b", "s3://x/y", 1, savepointtest.InProgress("s3://x/y/p", s3)))
	committer = append(committer, savepointtest.Committables(3, savepointtest.Pending("s3://x/y/p", 7, s3)),
		savepointtest.CommittablesV1(savepointtest.Pending("s3://x/y/p", 7, s3)))
	writer = append(writer, savepointtest.StreamingBucketState("b", "s3://x/y", nil, 4, savepointtest.Pending("s3://x/y/p", 7, s3)))
	return writer, committer
}

// FuzzDecodeBucketState: malformed writer state returns an error, never panics.
func FuzzDecodeBucketState(f *testing.F) {
	writer, _ := sinkSeeds(f)
	for _, b := range writer {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		savepoint.DecodeBucketState(b)
	})
}

// FuzzDecodeCommittables: malformed committer state returns an error, never panics.
func FuzzDecodeCommittables(f *testing.F) {
	_, committer := sinkSeeds(f)
	for _, b := range committer {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		savepoint.DecodeCommittables(b)
	})
}

// FuzzByteArrayElements: offsets anywhere in a malformed operator state
// stream return an error, never panic.
func FuzzByteArrayElements(f *testing.F) {
	stream, metas := savepointtest.OperatorStream(map[string][][]byte{"s": {[]byte("abc"), {}, []byte("defgh")}})
	f.Add(stream, metas[0].Offsets[0], metas[0].Offsets[2])
	f.Fuzz(func(t *testing.T, b []byte, o1, o2 int64) {
		savepoint.ByteArrayElements(b, savepoint.OperatorStateMeta{Name: "s", Offsets: []int64{o1, o2}})
	})
}
