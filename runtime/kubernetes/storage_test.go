package kubernetes

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/s3test"
)

// metadataMagic starts every checkpoint/savepoint _metadata file.
const metadataMagic = 0x4960672d

func metadata(version int) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, metadataMagic)
	binary.BigEndian.PutUint32(b[4:], uint32(version))
	return append(b, "rest"...)
}

// testStorage runs the same checks against both kinds of storage: a
// checkpoint directory's newest completed checkpoint, savepoint versions,
// disposal only under savepoints/, JARs written once.
func testStorage(t *testing.T, st Storage, put func(rel string, data []byte)) {
	ctx := context.Background()
	job := strings.Repeat("ab", 16)
	ckpt := st.Root() + "/checkpoints/app/fp-app-v1-20"
	put("checkpoints/app/fp-app-v1-20/"+job+"/chk-3/_metadata", metadata(4))
	put("checkpoints/app/fp-app-v1-20/"+job+"/chk-12/_metadata", metadata(4))
	put("checkpoints/app/fp-app-v1-20/"+job+"/chk-13/data", []byte("in progress: no _metadata"))
	put("checkpoints/app/fp-app-v1-20/"+job+"/shared/x", []byte("x"))
	c, err := st.LatestCheckpoint(ctx, ckpt, job)
	if err != nil || c.ID != 12 || !strings.HasSuffix(c.Path, "/"+job+"/chk-12") {
		t.Fatalf("LatestCheckpoint: %+v %v", c, err)
	}
	if _, err := st.LatestCheckpoint(ctx, ckpt, strings.Repeat("cd", 16)); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		t.Fatalf("LatestCheckpoint of another job: %v", err)
	}

	put("savepoints/app/savepoint-1/_metadata", metadata(6))
	put("savepoints/app/savepoint-1/state", []byte("s"))
	sp := st.Root() + "/savepoints/app/savepoint-1"
	if v, err := st.MetadataVersion(ctx, sp); err != nil || v != 6 {
		t.Fatalf("MetadataVersion: %d %v", v, err)
	}
	if err := st.Dispose(ctx, ckpt+"/"+job+"/chk-12"); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
		t.Fatalf("Dispose of a checkpoint: %v, want EINVALID", err)
	}
	if err := st.Dispose(ctx, sp); err != nil {
		t.Fatal(err)
	}
	if _, err := st.MetadataVersion(ctx, sp); err == nil {
		t.Fatal("savepoint still there after Dispose")
	}
	if err := st.Dispose(ctx, sp); err != nil {
		t.Fatalf("Dispose of a missing savepoint: %v", err)
	}

	jar := filepath.Join(t.TempDir(), "x.jar")
	os.WriteFile(jar, []byte("jar"), 0o644)
	u1, err := st.PutJar(ctx, "app", "sha.jar", jar)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := st.PutJar(ctx, "app", "sha.jar", jar)
	if err != nil || u1 != u2 || !strings.HasSuffix(u1, "/jars/app/sha.jar") {
		t.Fatalf("PutJar: %q %q %v", u1, u2, err)
	}
	if err := st.RemovePrefix(ctx, "checkpoints/app"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LatestCheckpoint(ctx, ckpt, job); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		t.Fatalf("checkpoints after RemovePrefix: %v", err)
	}
}

func TestVolumeStorage(t *testing.T) {
	dir := t.TempDir()
	st := &VolumeStorage{Dir: dir}
	testStorage(t, st, func(rel string, data []byte) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if u, err := st.PutJar(context.Background(), "b", "n.jar", filepath.Join(dir, "jars", "app", "sha.jar")); err != nil || u != "local://"+filepath.Join(dir, "jars", "b", "n.jar") {
		t.Fatalf("jarURI %q %v", u, err)
	}
}

func TestS3Storage(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	if _, err := srv.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("state")}); err != nil {
		t.Fatal(err)
	}
	st := &S3Storage{Endpoint: srv.URL, Region: s3test.Region, Bucket: "state", Client: srv.Client, Secret: "s3-credentials"}
	testStorage(t, st, func(rel string, data []byte) {
		if _, err := srv.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("state"), Key: aws.String(rel), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	})
	c := st.FlinkConfig()
	if c["s3.endpoint"] != srv.URL || !strings.Contains(c["kubernetes.env.secretKeyRef"], "secret:s3-credentials,key:access-key") || c["s3.access-key"] != "" {
		t.Fatalf("Flink configuration: %v", c)
	}
}
