// Package codestore resolves application code: an S3ContentLocation
// (bucket ARN, key, optional object version) and ZipFileContent uploaded
// with a request.
//
// By default objects live in a local directory tree (Dir/<bucket>/<key>: a
// bucket is a folder), so `aws s3 cp` is replaced by copying a file there.
// When S3 is set, objects are read from that S3-compatible endpoint with
// the AWS SDK's S3 client and cached under Dir/.cache. Uploaded zips are
// kept under Dir/.zip by content hash, pinned from their upload until the
// request that uploaded them is answered (Release), and removed with the
// last application that uses them (RemoveZip). Bucket names and keys that
// would escape the store (`..`, absolute paths, backslashes) are rejected,
// and so is a file reached through a symbolic link that leads out of the
// store: every local path is resolved and must stay under Dir.
package codestore

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/flinkplane/flinkplane"

	"github.com/flinkplane/flinkplane/internal/atomicfile"
)

// Store is a flinkplane.CodeStore.
type Store struct {
	// Dir is the root of the local tree (and of the caches).
	Dir string
	// S3, if set, is the S3-compatible endpoint objects are read from.
	S3 *s3.Client

	mu   sync.Mutex
	pins map[string]int // uploads not yet released, by reference
}

var _ flinkplane.CodeStore = (*Store)(nil)

// New returns a store rooted at dir.
func New(dir string) *Store { return &Store{Dir: dir} }

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.\-_]{1,254}$`)

// split returns the bucket name and the cleaned key of a location.
func split(loc flinkplane.S3ContentLocation) (bucket, key string, err error) {
	bucket, ok := strings.CutPrefix(loc.BucketARN, "arn:aws:s3:::")
	if !ok {
		bucket, ok = strings.CutPrefix(loc.BucketARN, "arn:aws-cn:s3:::")
	}
	if !ok || !bucketRE.MatchString(bucket) || strings.Contains(bucket, "..") {
		return "", "", flinkplane.Errorf(flinkplane.EINVALID, "BucketARN %q is not an S3 bucket ARN (arn:aws:s3:::bucket-name).", loc.BucketARN)
	}
	key = loc.FileKey
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") || strings.ContainsRune(key, 0) {
		return "", "", flinkplane.Errorf(flinkplane.EINVALID, "FileKey %q is not a valid object key.", key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == ".." || part == "." {
			return "", "", flinkplane.Errorf(flinkplane.EINVALID, "FileKey %q must not contain . or .. path segments.", key)
		}
	}
	if path.Clean(key) != key {
		return "", "", flinkplane.Errorf(flinkplane.EINVALID, "FileKey %q is not a clean object key.", key)
	}
	return bucket, key, nil
}

func missing(loc flinkplane.S3ContentLocation) error {
	v := ""
	if loc.ObjectVersion != "" {
		v = " (version " + loc.ObjectVersion + ")"
	}
	return flinkplane.Errorf(flinkplane.ECODE, "Unable to access the application code: object %s%s does not exist in bucket %s.", loc.FileKey, v, loc.BucketARN)
}

// localPath is the file of a location in the local tree. An object
// version, if given, is the file <key>.versions/<version>.
func (s *Store) localPath(bucket, key, version string) string {
	p := filepath.Join(s.Dir, bucket, filepath.FromSlash(key))
	if version != "" {
		p = filepath.Join(s.Dir, bucket, filepath.FromSlash(key)+".versions", filepath.Base(version))
	}
	return p
}

// Check returns ECODE if the object does not exist.
func (s *Store) Check(ctx context.Context, loc flinkplane.S3ContentLocation) error {
	bucket, key, err := split(loc)
	if err != nil {
		return err
	}
	if s.S3 != nil {
		in := &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
		if loc.ObjectVersion != "" {
			in.VersionId = aws.String(loc.ObjectVersion)
		}
		if _, err := s.S3.HeadObject(ctx, in); err != nil {
			var nf *types.NotFound
			var nk *types.NoSuchKey
			if errors.As(err, &nf) || errors.As(err, &nk) || strings.Contains(err.Error(), "StatusCode: 404") {
				return missing(loc)
			}
			return flinkplane.Errorf(flinkplane.ECODE, "Unable to access the application code s3://%s/%s: %v", bucket, key, err)
		}
		return nil
	}
	_, err = s.resolve(s.localPath(bucket, key, loc.ObjectVersion), loc)
	return err
}

// resolve returns the real path of a file of the local tree (no symbolic
// link left in it), which must be a regular file under Dir: ECODE if it is
// missing, EINVALID if it is reached through a link out of the store.
func (s *Store) resolve(p string, loc flinkplane.S3ContentLocation) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", missing(loc)
	}
	root, err := filepath.EvalSymlinks(s.Dir)
	if err != nil {
		return "", missing(loc)
	}
	if rel, err := filepath.Rel(root, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", flinkplane.Errorf(flinkplane.EINVALID, "The application code %s in bucket %s is a symbolic link that leads out of the code store; it is not used.", loc.FileKey, loc.BucketARN)
	}
	fi, err := os.Stat(real)
	if err != nil || !fi.Mode().IsRegular() {
		return "", missing(loc)
	}
	return real, nil
}

// PutZip stores uploaded code by its SHA-256 and returns the reference and
// the checksum shown as CodeMD5: the model fixes its length at 128
// characters, so it is the hex SHA-512 of the code. The upload is pinned
// until Release: RemoveZip leaves it alone meanwhile.
func (s *Store) PutZip(ctx context.Context, data []byte) (string, string, error) {
	sum := sha256.Sum256(data)
	ref := hex.EncodeToString(sum[:])
	m := sha512.Sum512(data)
	s.mu.Lock()
	if s.pins == nil {
		s.pins = map[string]int{}
	}
	s.pins[ref]++
	s.mu.Unlock()
	p := s.zipPath(ref)
	if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
		return ref, hex.EncodeToString(m[:]), nil
	}
	if err := writeFile(p, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		s.Release(ref)
		return "", "", err
	}
	return ref, hex.EncodeToString(m[:]), nil
}

func (s *Store) zipPath(ref string) string {
	return filepath.Join(s.Dir, ".zip", filepath.Base(ref)+".zip")
}

// Release unpins an upload (see PutZip).
func (s *Store) Release(ref string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pins[ref]--; s.pins[ref] <= 0 {
		delete(s.pins, ref)
	}
}

// RemoveZip removes an uploaded zip unless it is pinned (an upload of the
// same content is in flight) or used() reports a version still uses it.
func (s *Store) RemoveZip(ctx context.Context, ref string, used func() (bool, error)) error {
	if ref == "" || ref != filepath.Base(ref) || strings.HasPrefix(ref, ".") {
		return flinkplane.Errorf(flinkplane.EINVALID, "Invalid code reference %q.", ref)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pins[ref] > 0 {
		return nil
	}
	if u, err := used(); err != nil || u {
		return err
	}
	if err := os.Remove(s.zipPath(ref)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove uploaded code: %w", err)
	}
	return nil
}

// Fetch returns a local file holding the code.
func (s *Store) Fetch(ctx context.Context, c flinkplane.CodeConfig) (string, error) {
	if c.ZipRef != "" {
		p, err := s.resolve(s.zipPath(c.ZipRef), flinkplane.S3ContentLocation{FileKey: c.ZipRef})
		if flinkplane.ErrorCode(err) == flinkplane.ECODE {
			return "", flinkplane.Errorf(flinkplane.ECODE, "The uploaded application code %s is missing from the code store.", c.ZipRef)
		}
		return p, err
	}
	if c.S3 == nil {
		return "", flinkplane.Errorf(flinkplane.ECODE, "The application has no code: set ApplicationCodeConfiguration with an S3ContentLocation or ZipFileContent.")
	}
	loc := *c.S3
	bucket, key, err := split(loc)
	if err != nil {
		return "", err
	}
	if s.S3 == nil {
		return s.resolve(s.localPath(bucket, key, loc.ObjectVersion), loc)
	}
	// The object's ETag (or version) names the cached copy: look first.
	head := &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if loc.ObjectVersion != "" {
		head.VersionId = aws.String(loc.ObjectVersion)
	}
	if h, err := s.S3.HeadObject(ctx, head); err == nil {
		tag := strings.Trim(aws.ToString(h.ETag), `"`)
		if loc.ObjectVersion != "" {
			tag = loc.ObjectVersion
		}
		p := filepath.Join(s.Dir, ".cache", bucket, filepath.FromSlash(key)+"@"+filepath.Base(tag))
		if _, err := os.Stat(p); err == nil && tag != "" {
			return p, nil
		}
	}
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if loc.ObjectVersion != "" {
		in.VersionId = aws.String(loc.ObjectVersion)
	}
	out, err := s.S3.GetObject(ctx, in)
	if err != nil {
		var nk *types.NoSuchKey
		if errors.As(err, &nk) || strings.Contains(err.Error(), "StatusCode: 404") {
			return "", missing(loc)
		}
		return "", flinkplane.Errorf(flinkplane.ECODE, "Unable to read the application code s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	tag := strings.Trim(aws.ToString(out.ETag), `"`)
	if loc.ObjectVersion != "" {
		tag = loc.ObjectVersion
	}
	p := filepath.Join(s.Dir, ".cache", bucket, filepath.FromSlash(key)+"@"+filepath.Base(tag))
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if err := writeFile(p, func(w io.Writer) error { _, err := io.Copy(w, out.Body); return err }); err != nil {
		return "", err
	}
	return p, nil
}

// writeFile writes a file durably: temp file, fsync, rename, fsync dir.
func writeFile(p string, fill func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("create code directory: %w", err)
	}
	if err := atomicfile.Write(p, 0o600, fill); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return flinkplane.Errorf(flinkplane.ELIMIT, "The server's disk is full: the application code was not stored. Free space on the data directory's file system (deleting applications and snapshots frees space) and retry.")
		}
		return fmt.Errorf("write code: %w", err)
	}
	return nil
}
