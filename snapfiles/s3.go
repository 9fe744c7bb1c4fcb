package snapfiles

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// s3Path splits an S3 URI of Flink's S3 file systems (s3://, s3a://,
// s3p://) into bucket and key.
func s3Path(uri string) (bucket, key string, ok bool) {
	for _, scheme := range []string{"s3://", "s3a://", "s3p://"} {
		if rest, found := strings.CutPrefix(uri, scheme); found {
			bucket, key, _ = strings.Cut(rest, "/")
			return bucket, key, bucket != ""
		}
	}
	return "", "", false
}

// notFound reports whether err is S3's answer for a missing object or upload.
func notFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchKey", "NoSuchUpload":
			return true
		}
	}
	return false
}

// headObject returns an object's size; found is false when it does not exist.
func (f *Files) headObject(ctx context.Context, bucket, key string) (size int64, found bool, err error) {
	out, err := f.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if notFound(err) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, err
	}
	return aws.ToInt64(out.ContentLength), true, nil
}

func (f *Files) getObject(ctx context.Context, bucket, key string, off, n int64) ([]byte, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if off > 0 || n > 0 {
		end := ""
		if n > 0 {
			end = fmt.Sprint(off + n - 1)
		}
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%s", off, end))
	}
	out, err := f.S3.GetObject(ctx, in)
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(io.LimitReader(out.Body, maxMetadataSize))
}

// uploadParts returns the parts of a multipart upload; found is false when
// the upload no longer exists (completed or aborted).
func (f *Files) uploadParts(ctx context.Context, bucket, key, uploadID string) (parts map[int32]string, found bool, err error) {
	parts = map[int32]string{}
	in := &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(uploadID)}
	for {
		out, err := f.S3.ListParts(ctx, in)
		if notFound(err) {
			return nil, false, nil
		} else if err != nil {
			return nil, false, err
		}
		for _, p := range out.Parts {
			parts[aws.ToInt32(p.PartNumber)] = strings.Trim(aws.ToString(p.ETag), `"`)
		}
		if !aws.ToBool(out.IsTruncated) || out.NextPartNumberMarker == nil {
			return parts, true, nil
		}
		in.PartNumberMarker = out.NextPartNumberMarker
	}
}

// s3Bucket returns the bucket of a part file on S3 from its target path or
// its bucket's path.
func s3Bucket(sf savepoint.SinkFile) string {
	for _, p := range []string{targetPath(sf), sf.BucketPath} {
		if b, _, ok := s3Path(p); ok {
			return b
		}
	}
	return ""
}

func targetPath(sf savepoint.SinkFile) string {
	if sf.InProgress != nil {
		return sf.InProgress.TargetPath
	}
	return sf.Pending.TargetPath
}

// checkS3InProgress checks that the multipart upload of an in-progress part
// file on S3 still exists with its recorded parts, and its incomplete
// object (the bytes after the last part) with its recorded length. Neither
// can be put back (upload ids are S3's), so a missing one is a problem.
func (f *Files) checkS3InProgress(ctx context.Context, s *snapshot, sf savepoint.SinkFile) {
	rec := sf.Recoverable().S3
	bucket := s3Bucket(sf)
	name := fmt.Sprintf("s3://%s/%s", bucket, rec.Key)
	if f.S3 == nil || bucket == "" {
		s.note("in-progress part file %s not checked: no S3 endpoint is configured", name)
		return
	}
	parts, found, err := f.uploadParts(ctx, bucket, rec.Key, rec.UploadID)
	switch {
	case err != nil:
		s.note("in-progress part file %s not checked: %v", name, err)
		return
	case !found:
		s.partProblem("the FileSink in-progress part file %s is missing: its multipart upload %s no longer exists (completed or aborted), and an upload cannot be put back", name, rec.UploadID)
		return
	}
	for _, p := range rec.Parts {
		if etag, ok := parts[p.Number]; !ok || etag != strings.Trim(p.ETag, `"`) {
			s.partProblem("the FileSink in-progress part file %s is missing part %d of its multipart upload %s", name, p.Number, rec.UploadID)
			return
		}
	}
	if rec.IncompleteKey != "" {
		size, found, err := f.headObject(ctx, bucket, rec.IncompleteKey)
		switch {
		case err != nil:
			s.note("in-progress part file %s not checked: %v", name, err)
		case !found || size < rec.IncompleteLength:
			s.partProblem("the FileSink in-progress part file %s is missing its last %d bytes (object s3://%s/%s)", name, rec.IncompleteLength, bucket, rec.IncompleteKey)
		}
	}
}

// checkS3Pending notes a pending part file on S3 whose upload is gone and
// whose object does not exist (committed and removed since: Flink skips it).
func (f *Files) checkS3Pending(ctx context.Context, s *snapshot, sf savepoint.SinkFile) {
	rec := sf.Recoverable().S3
	bucket := s3Bucket(sf)
	if f.S3 == nil || bucket == "" {
		return
	}
	if _, found, err := f.uploadParts(ctx, bucket, rec.Key, rec.UploadID); err != nil || found {
		return
	}
	if _, found, err := f.headObject(ctx, bucket, rec.Key); err == nil && !found {
		s.note("pending part file s3://%s/%s was committed and its object was deleted since; it is not delivered again", bucket, rec.Key)
	}
}
