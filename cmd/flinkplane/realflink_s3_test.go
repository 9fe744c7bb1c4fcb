package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	"github.com/flinkplane/flinkplane/internal/s3test"
	"github.com/flinkplane/flinkplane/runtime/local"
)

// TestRealFlink_S3State runs the RocksDB fixture with an S3-compatible
// endpoint configured (an in-memory S3 server on loopback): the code comes
// from S3, incremental checkpoints and savepoints go to the state bucket
// through Flink's S3 plugin, the pre-flight reads the snapshot from S3, the
// Path 1 upgrade to FLINK-2_2 restores from it, and DeleteApplicationSnapshot
// removes its objects.
func TestRealFlink_S3State(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.RocksDBState120, fixtures.RocksDBState22)
	srv := s3test.Start(t)
	ctx := context.Background()
	if _, err := srv.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(realBucket)}); err != nil {
		t.Fatal(err)
	}
	for name, p := range jars {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(realBucket), Key: aws.String(name + ".jar"), Body: bytes.NewReader(b)}); err != nil {
			t.Fatal(err)
		}
	}
	const bucket = "flinkplane-state"
	r := startRealPoll(t, nil, 200*time.Millisecond, func(m *Main) {
		m.Config.S3Endpoint, m.Config.S3Region = srv.URL, s3test.Region
		m.Config.S3AccessKey, m.Config.S3SecretKey, m.Config.S3StateBucket = s3test.AccessKey, s3test.SecretKey, bucket
		d, err := newClusterDriver(m.Config) // what serve wires: the local driver with S3 storage
		if err != nil {
			t.Fatal(err)
		}
		m.Driver = d
		m.Compat = &serveChecker{Checker: m.Compat.(*compat.Checker), storage: d.(*local.Driver).Storage}
	})
	f := distFixtures["RocksDBState"]
	const app = "rocksdb-s3"
	out := filepath.Join(r.dataDir, "output", app)
	r.create(app, types.RuntimeEnvironmentFlink120, f.jar120, out, func(in *kav2.CreateApplicationInput) {
		in.ApplicationConfiguration.EnvironmentProperties = &types.EnvironmentProperties{PropertyGroups: []types.PropertyGroup{{
			PropertyGroupId: aws.String(fixtures.PropertyGroup),
			PropertyMap:     map[string]string{"output.path": out, "rate.per.second": "200", "keys": "500", "payload.bytes": "512"}}}}
	})
	r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
	n := waitProgress(t, f, out, 0)
	s1 := r.snapshot(app, "s1", types.RuntimeEnvironmentFlink120)
	appID := strings.TrimPrefix(s1.Location, "s3p://"+bucket+"/savepoints/")
	appID, _, _ = strings.Cut(appID, "/")
	if !strings.HasPrefix(s1.Location, "s3p://"+bucket+"/savepoints/") || appID == "" {
		t.Fatalf("snapshot location %s, want s3p://%s/savepoints/<app>/...", s1.Location, bucket)
	}
	spKey := strings.TrimPrefix(s1.Location, "s3p://"+bucket+"/")
	if keys := srv.Keys(t, bucket, spKey+"/"); !contains(keys, spKey+"/_metadata") {
		t.Fatalf("savepoint objects %v: no _metadata", keys)
	}
	// Incremental RocksDB checkpoints: shared SST files in the bucket.
	var shared []string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && len(shared) == 0; time.Sleep(time.Second) {
		for _, k := range srv.Keys(t, bucket, "checkpoints/"+appID+"/") {
			if strings.Contains(k, "/shared/") {
				shared = append(shared, k)
			}
		}
	}
	if len(shared) == 0 {
		t.Fatalf("no incremental checkpoint files in s3://%s/checkpoints/%s/", bucket, appID)
	}
	waitProgress(t, f, out, n)

	// Path 1 to FLINK-2_2: the pre-flight reads the S3 snapshot, the 2.2 job
	// restores from the stop snapshot in S3.
	d := r.describe(app)
	upd, err := r.c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(app),
		CurrentApplicationVersionId: d.ApplicationVersionId, RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
			CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(f.jar22 + ".jar")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	fc, job := r.waitRunning(app, aws.ToString(upd.OperationId))
	if p := restoredFrom(t, fc, job.ID); !strings.HasPrefix(p, "s3p://"+bucket+"/savepoints/"+appID+"/") {
		t.Fatalf("2.2 job restored from %q, want a savepoint in S3", p)
	}
	waitProgress(t, f, out, checkExact(t, f, out))
	r.stop(app)
	t.Logf("rocksdb-state with S3 state: %d records, exact; %d incremental checkpoint files seen", checkExact(t, f, out), len(shared))

	// DeleteApplicationSnapshot removes the savepoint's objects.
	if _, err := r.c.DeleteApplicationSnapshot(sctx, &kav2.DeleteApplicationSnapshotInput{ApplicationName: aws.String(app),
		SnapshotName: aws.String("s1"), SnapshotCreationTimestamp: aws.Time(s1.CreateTime)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if keys := srv.Keys(t, bucket, spKey+"/"); len(keys) == 0 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("snapshot s1 deleted but its objects remain: %v", keys)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
