package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/flinkplane/flinkplane"
)

// S3Storage puts every application's checkpoints and savepoints into a
// bucket of an S3-compatible endpoint instead of the data directory, as
// the managed service keeps them in the application's (service-owned) S3
// storage. Flink reaches it through the flink-s3-fs-presto plugin of the
// runtime (scheme s3p://, the file system Flink recommends for
// checkpoints); flinkplane itself lists, reads and deletes through Client.
//
//	s3p://<Bucket>/checkpoints/<ApplicationID>/<cluster-id>/   execution.checkpointing.dir
//	s3p://<Bucket>/savepoints/<ApplicationID>/                 savepoints (snapshots)
type S3Storage struct {
	// Endpoint is the endpoint URL (http://host:port), with Region and the
	// static credentials; path-style addressing is always used.
	Endpoint, Region, AccessKey, SecretKey string
	Bucket                                 string
	// Client talks to the same endpoint (listing, reading, disposal).
	Client *s3.Client
}

// Scheme is the Flink file system scheme of S3Storage locations.
const s3Scheme = "s3p://"

func (s *S3Storage) checkpointDir(app, cluster string) string {
	return s3Scheme + s.Bucket + "/checkpoints/" + app + "/" + cluster
}

func (s *S3Storage) savepointDir(app string) string {
	return s3Scheme + s.Bucket + "/savepoints/" + app
}

// flinkConfig is the configuration of the S3 file system plugins: both
// flink-s3-fs-presto and flink-s3-fs-hadoop read the s3.* keys.
func (s *S3Storage) flinkConfig() map[string]string {
	c := map[string]string{
		"s3.endpoint":          s.Endpoint,
		"s3.path.style.access": "true",
		"s3.access-key":        s.AccessKey,
		"s3.secret-key":        s.SecretKey,
	}
	if strings.HasPrefix(s.Endpoint, "http://") {
		c["s3.ssl.enabled"] = "false"                // presto
		c["fs.s3a.connection.ssl.enabled"] = "false" // hadoop
	}
	if s.Region != "" {
		c["s3.region"] = s.Region
		c["fs.s3a.endpoint.region"] = s.Region
	}
	return c
}

// IsS3 reports whether a location is an S3 URI Flink writes (s3p, s3, s3a).
func IsS3(location string) bool { return isS3(location) }

func isS3(location string) bool {
	for _, p := range []string{"s3p://", "s3://", "s3a://"} {
		if strings.HasPrefix(location, p) {
			return true
		}
	}
	return false
}

// splitS3 returns the bucket and key of an S3 URI.
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

// keys lists the object keys under prefix/.
func (s *S3Storage) keys(ctx context.Context, bucket, prefix string) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, aws.ToString(o.Key))
		}
	}
	return out, nil
}

// dispose removes a savepoint of this storage. EINVALID for a location
// outside the bucket's savepoints/ or without _metadata; a missing
// savepoint is not an error.
func (s *S3Storage) dispose(ctx context.Context, location string) error {
	bucket, key, err := splitS3(location)
	if err != nil {
		return flinkplane.Errorf(flinkplane.EINVALID, "Invalid savepoint location %q.", location)
	}
	key = strings.TrimSuffix(key, "/_metadata")
	if bucket != s.Bucket || !strings.HasPrefix(key, "savepoints/") || strings.Count(key, "/") < 2 || strings.Contains(key, "..") {
		return flinkplane.Errorf(flinkplane.EINVALID, "Savepoint %q is not in this service's storage (s3://%s/savepoints/); not disposing it.", location, s.Bucket)
	}
	keys, err := s.keys(ctx, bucket, key)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	found := false
	for _, k := range keys {
		found = found || k == key+"/_metadata"
	}
	if !found {
		return flinkplane.Errorf(flinkplane.EINVALID, "%q is not a savepoint (no _metadata).", location)
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		var ids []types.ObjectIdentifier
		for _, k := range keys[:n] {
			ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
		}
		if _, err := s.Client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
			return fmt.Errorf("dispose %s: %w", location, err)
		}
		keys = keys[n:]
	}
	return nil
}

// metadataVersion reads the _metadata version of a savepoint in S3.
func (s *S3Storage) metadataVersion(ctx context.Context, location string) (int, error) {
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
	return ReadMetadataVersion(out.Body, location)
}

// Download copies a savepoint directory from S3 into dir (dir/_metadata and
// its state files, with their relative paths), for tools that read
// savepoints locally (the compatibility check). Canonical savepoints refer
// to their files relative to _metadata, so the copy is self-contained.
func (s *S3Storage) Download(ctx context.Context, location, dir string) error {
	bucket, key, err := splitS3(location)
	if err != nil {
		return err
	}
	key = strings.TrimSuffix(key, "/_metadata")
	keys, err := s.keys(ctx, bucket, key)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("savepoint %s: no objects", location)
	}
	for _, k := range keys {
		rel := strings.TrimPrefix(k, key+"/")
		if rel == "" || strings.Contains(rel, "..") {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			return fmt.Errorf("get s3://%s/%s: %w", bucket, k, err)
		}
		f, err := os.Create(dst)
		if err == nil {
			_, err = io.Copy(f, out.Body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		out.Body.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// removePrefix deletes every object under s3p://bucket/prefix (checkpoints
// of a removed application).
func (s *S3Storage) removePrefix(ctx context.Context, prefix string) error {
	keys, err := s.keys(ctx, s.Bucket, prefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, k := range keys {
		if _, err := s.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(k)}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// EnsureBucket creates the bucket if it does not exist.
func (s *S3Storage) EnsureBucket(ctx context.Context) error {
	if _, err := s.Client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.Bucket)}); err == nil {
		return nil
	}
	_, err := s.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", s.Bucket, err)
	}
	return nil
}
