package snapfiles_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/savepoint"
	"github.com/flinkplane/flinkplane/compat/savepoint/savepointtest"
)

// fakeS3 answers HeadObject and ListParts (path-style) for objects and
// multipart uploads it holds, the way an S3-compatible endpoint does.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string]int64            // "bucket/key" -> size
	uploads map[string]map[int32]string // upload id -> part number -> etag
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := strings.TrimPrefix(r.URL.Path, "/")
	w.Header().Set("Content-Type", "application/xml")
	fail := func(code string) {
		w.WriteHeader(http.StatusNotFound)
		if r.Method != http.MethodHead {
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, code)
		}
	}
	if id := r.URL.Query().Get("uploadId"); id != "" && r.Method == http.MethodGet {
		parts, ok := f.uploads[id]
		if !ok {
			fail("NoSuchUpload")
			return
		}
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListPartsResult><IsTruncated>false</IsTruncated>`)
		for n, etag := range parts {
			fmt.Fprintf(w, `<Part><PartNumber>%d</PartNumber><ETag>"%s"</ETag><Size>5242880</Size></Part>`, n, etag)
		}
		io.WriteString(w, `</ListPartsResult>`)
		return
	}
	size, ok := f.objects[key]
	if !ok {
		fail("NoSuchKey")
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(size))
	w.WriteHeader(http.StatusOK)
}

// An in-progress part file on S3 is a multipart upload with parts and an
// incomplete object: Verify checks them through S3; none can be put back.
func TestVerify_S3(t *testing.T) {
	fake := &fakeS3{objects: map[string]int64{"data/out/_tmp_1": 7}, uploads: map[string]map[int32]string{"up-1": {1: "e1", 2: "e2"}}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	rec := savepoint.S3Recoverable{Key: "out/part-u1-0-3", UploadID: "up-1", Parts: []savepoint.S3Part{{Number: 1, ETag: "e1"}, {Number: 2, ETag: "e2"}},
		BytesInParts: 10 << 20, IncompleteKey: "out/_tmp_1", IncompleteLength: 7}
	sp := filepath.Join(t.TempDir(), "savepoint-s3")
	writer := savepointtest.BucketState("", "s3://data/out", 1, savepointtest.InProgress("s3://data/out/part-u1-0-3", savepointtest.S3Recoverable(rec)))
	if err := savepointtest.Write(sp, 3, savepointtest.Operator{UID: "sink", States: map[string][][]byte{savepoint.WriterStateName: {writer}}}); err != nil {
		t.Fatal(err)
	}
	f := newFiles()
	// Without an S3 endpoint nothing can be checked: not a refusal.
	if err := f.Verify(ctx, "file:"+sp); err != nil {
		t.Fatal(err)
	}
	f.S3 = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err := f.Verify(ctx, "file:"+sp); err != nil {
		t.Fatalf("upload and incomplete object present: %v", err)
	}
	if kf, err := f.Keep(ctx, "file:"+sp); err != nil || kf.Files != 0 {
		t.Fatalf("Keep = %+v, %v; S3 uploads are not copied", kf, err)
	}

	fake.mu.Lock()
	fake.objects["data/out/_tmp_1"] = 3
	fake.mu.Unlock()
	wantCode(t, f.Verify(ctx, "file:"+sp), flinkplane.EINVALIDREQUEST, "s3://data/out/part-u1-0-3", "last 7 bytes")

	// The newer job completed the upload: the old state cannot resume it.
	fake.mu.Lock()
	delete(fake.uploads, "up-1")
	fake.objects["data/out/part-u1-0-3"] = 10<<20 + 99
	fake.mu.Unlock()
	wantCode(t, f.Verify(ctx, "file:"+sp), flinkplane.EINVALIDREQUEST, "multipart upload up-1 no longer exists")
	wantCode(t, f.Restore(ctx, "file:"+sp), flinkplane.EINVALIDCONFIG, "up-1")

	// A part the state lists is not in the upload.
	fake.mu.Lock()
	fake.uploads["up-1"] = map[int32]string{1: "e1"}
	fake.mu.Unlock()
	wantCode(t, f.Verify(ctx, "file:"+sp), flinkplane.EINVALIDREQUEST, "missing part 2")
}
