package local

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

func put(t *testing.T, c *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

func metadata(version uint32) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint32(b, metadataMagic)
	binary.BigEndian.PutUint32(b[4:], version)
	return b
}

func TestS3Storage(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	st := &S3Storage{Endpoint: srv.URL, Region: s3test.Region, AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey, Bucket: "state", Client: srv.Client}
	if err := st.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureBucket(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	d := New(t.TempDir(), t.TempDir())
	d.Storage = st
	if got, want := d.SavepointDir("app1"), "s3p://state/savepoints/app1"; got != want {
		t.Fatalf("SavepointDir = %s, want %s", got, want)
	}
	if got, want := d.SavepointRoot(), "s3p://state/savepoints"; got != want {
		t.Fatalf("SavepointRoot = %s", got)
	}

	// The cluster configuration: RocksDB, incremental, S3 locations and the
	// plugins' endpoint settings.
	spec := flinkplane.ClusterSpec{ApplicationID: "app1", Runtime: flinkplane.RuntimeFlink22}
	c := d.clusterConfig(spec, clusterInfo{Slots: 1, SavepointDir: d.SavepointDir("app1")}, "/x/clusters/app1/fc-1", 1)
	for k, want := range map[string]string{
		"state.backend.type":                    "rocksdb",
		"execution.checkpointing.incremental":   "true",
		"execution.checkpointing.dir":           "s3p://state/checkpoints/app1/fc-1",
		"execution.checkpointing.savepoint-dir": "s3p://state/savepoints/app1",
		"s3.endpoint":                           srv.URL,
		"s3.path.style.access":                  "true",
		"s3.access-key":                         s3test.AccessKey,
	} {
		if c[k] != want {
			t.Errorf("%s = %q, want %q", k, c[k], want)
		}
	}

	// A savepoint in S3: version read through the client, download, dispose.
	sp := "savepoints/app1/savepoint-1234-abcdef"
	put(t, srv.Client, "state", sp+"/_metadata", metadata(6))
	put(t, srv.Client, "state", sp+"/op-state", []byte("state"))
	put(t, srv.Client, "state", "savepoints/app1/savepoint-9999-other/_metadata", metadata(4))
	loc := "s3p://state/" + sp
	if err := d.checkSavepointVersion(ctx, loc, flinkplane.RuntimeFlink120); flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG {
		t.Fatalf("2.2 savepoint for 1.20: %v", err)
	}
	if err := d.checkSavepointVersion(ctx, loc, flinkplane.RuntimeFlink22); err != nil {
		t.Fatalf("2.2 savepoint for 2.2: %v", err)
	}
	dir := t.TempDir()
	if err := st.Download(ctx, loc, dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "op-state")); err != nil || string(b) != "state" {
		t.Fatalf("downloaded op-state = %q, %v", b, err)
	}
	for _, bad := range []string{"s3p://other/" + sp, "s3p://state/checkpoints/app1/fc-1", "s3p://state/savepoints/app1/../x", "s3p://state/savepoints"} {
		if err := d.DisposeSavepoint(ctx, bad); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
			t.Errorf("dispose %s: %v", bad, err)
		}
	}
	if err := d.DisposeSavepoint(ctx, loc+"/_metadata"); err != nil {
		t.Fatal(err)
	}
	if keys := srv.Keys(t, "state", "savepoints/"); len(keys) != 1 || !strings.Contains(keys[0], "savepoint-9999-other") {
		t.Fatalf("after dispose: %v", keys)
	}
	if err := d.DisposeSavepoint(ctx, loc); err != nil { // already gone: not an error
		t.Fatal(err)
	}
	// Without S3 storage an S3 location is refused.
	if err := New(t.TempDir(), t.TempDir()).DisposeSavepoint(ctx, loc); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
		t.Fatalf("dispose without storage: %v", err)
	}
}

func TestStateConfig_Local(t *testing.T) {
	d := New("/data", t.TempDir())
	spec := flinkplane.ClusterSpec{ApplicationID: "app1", Runtime: flinkplane.RuntimeFlink120}
	c := d.clusterConfig(spec, clusterInfo{Slots: 1, SavepointDir: d.SavepointDir("app1")}, "/data/clusters/app1/fc-1", 1)
	for k, want := range map[string]string{
		"state.backend.type":                    "rocksdb",
		"execution.checkpointing.incremental":   "true",
		"state.backend.incremental":             "true",
		"execution.checkpointing.dir":           "file:///data/checkpoints/app1/fc-1",
		"execution.checkpointing.savepoint-dir": "file:///data/savepoints/app1",
	} {
		if c[k] != want {
			t.Errorf("%s = %q, want %q", k, c[k], want)
		}
	}
	if _, ok := c["s3.endpoint"]; ok {
		t.Error("s3 settings without S3 storage")
	}
	// The service operator overrides any key (e.g. back to hashmap).
	d.ExtraConfig = map[string]string{"state.backend.type": "hashmap"}
	if c := d.clusterConfig(spec, clusterInfo{Slots: 1}, "/data/clusters/app1/fc-1", 1); c["state.backend.type"] != "hashmap" {
		t.Errorf("ExtraConfig did not override: %s", c["state.backend.type"])
	}
}
