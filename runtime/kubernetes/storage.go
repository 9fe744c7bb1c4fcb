package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/appjar"
	"github.com/flinkplane/flinkplane/runtime/local"
)

// Storage is where the Flink pods and flinkplane share files: application
// JARs, checkpoints, savepoints and the high-availability metadata. Both
// see it under the same names: a volume mounted at the same path in the
// flinkplane pod and in every JobManager and TaskManager pod (a
// ReadWriteMany PersistentVolumeClaim), or a bucket of an S3-compatible
// endpoint that Flink reaches through its S3 file system plugin.
//
//	<root>/jars/<application-id>/<sha256>.jar               job.jarURI
//	<root>/checkpoints/<application-id>/<deployment>/       execution.checkpointing.dir
//	<root>/savepoints/<application-id>/                     savepoints (snapshots)
//	<root>/ha/<application-id>/<deployment>/                high-availability.storageDir
type Storage interface {
	// Root is the storage's root as Flink names it: a local path
	// ("/flinkplane/state") or an URI ("s3p://bucket").
	Root() string
	// FlinkConfig is the Flink configuration the pods need to reach it.
	FlinkConfig() map[string]string
	// PutJar stores a file under jars/<application-id>/ and returns the
	// job.jarURI the JobManager fetches it from.
	PutJar(ctx context.Context, applicationID, name, path string) (string, error)
	// LatestCheckpoint returns the newest completed checkpoint of a job in
	// a checkpoint directory (<dir>/<job-id>/chk-<n>/_metadata).
	LatestCheckpoint(ctx context.Context, dir, jobID string) (flinkplane.CheckpointInfo, error)
	// MetadataVersion reads the _metadata format version of a savepoint.
	MetadataVersion(ctx context.Context, location string) (int, error)
	// Dispose removes a savepoint under savepoints/ (a missing one is not
	// an error; anything else is EINVALID).
	Dispose(ctx context.Context, location string) error
	// RemovePrefix removes everything under a relative directory
	// ("checkpoints/<id>").
	RemovePrefix(ctx context.Context, rel string) error
}

// VolumeStorage is a shared volume mounted at Dir in flinkplane and in the
// Flink pods. VolumeClaim, if set, is the PersistentVolumeClaim the driver
// mounts into the pods at Dir (otherwise the pod template of the image or
// the operator's defaults must mount it).
type VolumeStorage struct {
	Dir         string
	VolumeClaim string
}

// Root returns the mount path.
func (v *VolumeStorage) Root() string { return filepath.Clean(v.Dir) }

// FlinkConfig is empty: a local path needs no file system configuration.
func (v *VolumeStorage) FlinkConfig() map[string]string { return nil }

// PutJar copies the file into the volume (content-addressed, written once:
// temp file, fsync, rename) and returns its local:// URI.
func (v *VolumeStorage) PutJar(ctx context.Context, applicationID, name, path string) (string, error) {
	dir := filepath.Join(v.Root(), "jars", applicationID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, name)
	if _, err := os.Stat(dst); err == nil {
		return "local://" + dst, nil
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	src, err := os.Open(path)
	if err != nil {
		tmp.Close()
		return "", err
	}
	_, err = io.Copy(tmp, src)
	src.Close()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return "", fmt.Errorf("store jar: %w", err)
	}
	return "local://" + dst, nil
}

// volumePath turns "file:/x", "file:///x" or "/x" into a path.
func volumePath(location string) string {
	p := location
	if s, ok := strings.CutPrefix(p, "file://"); ok {
		p = s
	} else if s, ok := strings.CutPrefix(p, "file:"); ok {
		p = s
	}
	return filepath.Clean(p)
}

// LatestCheckpoint reads the checkpoint directory: the chk-<n> with the
// highest n that has its _metadata (written last, when it completes).
func (v *VolumeStorage) LatestCheckpoint(ctx context.Context, dir, jobID string) (flinkplane.CheckpointInfo, error) {
	jd := filepath.Join(volumePath(dir), jobID)
	ents, err := os.ReadDir(jd)
	if err != nil && !os.IsNotExist(err) {
		return flinkplane.CheckpointInfo{}, err
	}
	var best flinkplane.CheckpointInfo
	for _, e := range ents {
		n, err := strconv.ParseInt(strings.TrimPrefix(e.Name(), "chk-"), 10, 64)
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "chk-") || err != nil || n <= best.ID {
			continue
		}
		st, err := os.Stat(filepath.Join(jd, e.Name(), "_metadata"))
		if err != nil {
			continue
		}
		best = flinkplane.CheckpointInfo{ID: n, Path: "file:" + filepath.Join(jd, e.Name()), Time: st.ModTime().UTC()}
	}
	if best.ID == 0 {
		return best, flinkplane.Errorf(flinkplane.ENOTFOUND, "No retained checkpoint of job %s in %s.", jobID, jd)
	}
	return best, nil
}

// MetadataVersion reads the header of a savepoint's _metadata.
func (v *VolumeStorage) MetadataVersion(ctx context.Context, location string) (int, error) {
	return local.SavepointMetadataVersion(location)
}

// Dispose removes a savepoint directory under <root>/savepoints.
func (v *VolumeStorage) Dispose(ctx context.Context, location string) error {
	dir := volumePath(location)
	if filepath.Base(dir) == "_metadata" {
		dir = filepath.Dir(dir)
	}
	root := filepath.Join(v.Root(), "savepoints") + string(filepath.Separator)
	if !strings.HasPrefix(dir+string(filepath.Separator), root) || dir+string(filepath.Separator) == root {
		return flinkplane.Errorf(flinkplane.EINVALID, "Savepoint %q is not under %s; not disposing it.", location, root)
	}
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "_metadata")); err != nil {
		return flinkplane.Errorf(flinkplane.EINVALID, "%q is not a savepoint (no _metadata).", location)
	}
	return os.RemoveAll(dir)
}

// RemovePrefix removes a directory under the root.
func (v *VolumeStorage) RemovePrefix(ctx context.Context, rel string) error {
	if rel == "" || strings.Contains(rel, "..") {
		return fmt.Errorf("invalid directory %q", rel)
	}
	return os.RemoveAll(filepath.Join(v.Root(), filepath.FromSlash(rel)))
}

// S3Storage is a bucket of an S3-compatible endpoint. Flink reaches it
// through the flink-s3-fs-presto plugin of the image (scheme s3p://, as the
// local runtimes do); flinkplane itself lists, reads, writes and deletes
// through Client. The pods take the endpoint from the Flink configuration
// and the credentials from Secret (keys access-key and secret-key, as the
// environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or,
// without a Secret, from AccessKey and SecretKey written into the Flink
// configuration of the FlinkDeployment.
type S3Storage struct {
	Endpoint, Region, Bucket string
	AccessKey, SecretKey     string
	Secret                   string
	Client                   *s3.Client
}

const s3Scheme = "s3p://"

// Root returns "s3p://<bucket>".
func (s *S3Storage) Root() string { return s3Scheme + s.Bucket }

// FlinkConfig configures the S3 file systems of the pods.
func (s *S3Storage) FlinkConfig() map[string]string {
	c := map[string]string{
		"s3.endpoint":          s.Endpoint,
		"s3.path.style.access": "true",
	}
	if s.Secret != "" {
		// Flink's native Kubernetes integration sets these environment
		// variables in the JobManager and TaskManager containers from the
		// Secret; the S3 plugins read them (AWS default credential chain).
		c["kubernetes.env.secretKeyRef"] = "env:AWS_ACCESS_KEY_ID,secret:" + s.Secret + ",key:access-key;" +
			"env:AWS_SECRET_ACCESS_KEY,secret:" + s.Secret + ",key:secret-key"
	} else if s.AccessKey != "" {
		c["s3.access-key"] = s.AccessKey
		c["s3.secret-key"] = s.SecretKey
	}
	if strings.HasPrefix(s.Endpoint, "http://") {
		c["s3.ssl.enabled"] = "false"
	}
	if s.Region != "" {
		c["s3.region"] = s.Region
	}
	return c
}

// PutJar uploads the file (once: an existing object of the same
// content-addressed name is kept) and returns its s3p:// URI.
func (s *S3Storage) PutJar(ctx context.Context, applicationID, name, path string) (string, error) {
	key := "jars/" + applicationID + "/" + name
	if _, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)}); err == nil {
		return s3Scheme + s.Bucket + "/" + key, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := s.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: f}); err != nil {
		return "", fmt.Errorf("store jar in s3://%s/%s: %w", s.Bucket, key, err)
	}
	return s3Scheme + s.Bucket + "/" + key, nil
}

func splitS3(location string) (bucket, key string, err error) {
	_, rest, ok := strings.Cut(location, "://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an S3 URI", location)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q has no bucket", location)
	}
	return bucket, strings.Trim(key, "/"), nil
}

func (s *S3Storage) list(ctx context.Context, bucket, prefix string) ([]types.Object, error) {
	var out []types.Object
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		out = append(out, page.Contents...)
	}
	return out, nil
}

// LatestCheckpoint lists <dir>/<job-id>/ for the chk-<n>/_metadata with
// the highest n.
func (s *S3Storage) LatestCheckpoint(ctx context.Context, dir, jobID string) (flinkplane.CheckpointInfo, error) {
	bucket, key, err := splitS3(dir)
	if err != nil {
		return flinkplane.CheckpointInfo{}, err
	}
	objs, err := s.list(ctx, bucket, key+"/"+jobID)
	if err != nil {
		return flinkplane.CheckpointInfo{}, err
	}
	var best flinkplane.CheckpointInfo
	for _, o := range objs {
		k := aws.ToString(o.Key)
		rest, ok := strings.CutPrefix(k, key+"/"+jobID+"/chk-")
		if !ok {
			continue
		}
		num, file, _ := strings.Cut(rest, "/")
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || file != "_metadata" || n <= best.ID {
			continue
		}
		best = flinkplane.CheckpointInfo{ID: n, Path: s3Scheme + bucket + "/" + key + "/" + jobID + "/chk-" + num, Time: aws.ToTime(o.LastModified).UTC()}
	}
	if best.ID == 0 {
		return best, flinkplane.Errorf(flinkplane.ENOTFOUND, "No retained checkpoint of job %s in %s.", jobID, dir)
	}
	return best, nil
}

// MetadataVersion reads the first 8 bytes of a savepoint's _metadata.
func (s *S3Storage) MetadataVersion(ctx context.Context, location string) (int, error) {
	bucket, key, err := splitS3(location)
	if err != nil {
		return 0, err
	}
	if !strings.HasSuffix(key, "_metadata") {
		key += "/_metadata"
	}
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String("bytes=0-7")})
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	return local.ReadMetadataVersion(out.Body, location)
}

// Dispose deletes the objects of a savepoint under savepoints/.
func (s *S3Storage) Dispose(ctx context.Context, location string) error {
	bucket, key, err := splitS3(location)
	if err != nil {
		return flinkplane.Errorf(flinkplane.EINVALID, "Invalid savepoint location %q.", location)
	}
	key = strings.TrimSuffix(key, "/_metadata")
	if bucket != s.Bucket || !strings.HasPrefix(key, "savepoints/") || strings.Count(key, "/") < 2 || strings.Contains(key, "..") {
		return flinkplane.Errorf(flinkplane.EINVALID, "Savepoint %q is not in this service's storage (s3://%s/savepoints/); not disposing it.", location, s.Bucket)
	}
	objs, err := s.list(ctx, bucket, key)
	if err != nil {
		return err
	}
	found := false
	for _, o := range objs {
		found = found || aws.ToString(o.Key) == key+"/_metadata"
	}
	if len(objs) > 0 && !found {
		return flinkplane.Errorf(flinkplane.EINVALID, "%q is not a savepoint (no _metadata).", location)
	}
	return s.deleteObjects(ctx, bucket, objs)
}

func (s *S3Storage) deleteObjects(ctx context.Context, bucket string, objs []types.Object) error {
	for len(objs) > 0 {
		n := min(len(objs), 1000)
		var ids []types.ObjectIdentifier
		for _, o := range objs[:n] {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		if _, err := s.Client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
			return fmt.Errorf("delete objects in s3://%s: %w", bucket, err)
		}
		objs = objs[n:]
	}
	return nil
}

// RemovePrefix deletes every object under rel/.
func (s *S3Storage) RemovePrefix(ctx context.Context, rel string) error {
	if rel == "" || strings.Contains(rel, "..") {
		return fmt.Errorf("invalid prefix %q", rel)
	}
	objs, err := s.list(ctx, s.Bucket, rel)
	if err != nil {
		return err
	}
	return s.deleteObjects(ctx, s.Bucket, objs)
}

// stageJar writes the copy of the user JAR that the JobManager runs: its
// config.properties points the AWS runtime library at
// PropertiesPath, where the pod template puts the application's
// EnvironmentProperties. The copy is named by its content.
func stageJar(src, tmpDir string) (path, name string, err error) {
	f, err := os.CreateTemp(tmpDir, "flinkplane-jar-*.jar")
	if err != nil {
		return "", "", err
	}
	f.Close()
	if err := appjar.RewriteJar(src, f.Name(), PropertiesPath); err != nil {
		os.Remove(f.Name())
		return "", "", err
	}
	h := sha256.New()
	in, err := os.Open(f.Name())
	if err != nil {
		os.Remove(f.Name())
		return "", "", err
	}
	_, err = io.Copy(h, in)
	in.Close()
	if err != nil {
		os.Remove(f.Name())
		return "", "", err
	}
	return f.Name(), hex.EncodeToString(h.Sum(nil)) + ".jar", nil
}
