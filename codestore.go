package flinkplane

import "context"

// CodeStore holds application code: objects named by an S3ContentLocation,
// and ZipFileContent uploaded with a request.
type CodeStore interface {
	// Check returns ECODE if the object named by loc does not exist, and
	// EINVALID if its bucket or key would escape the store.
	Check(ctx context.Context, loc S3ContentLocation) error
	// PutZip stores uploaded code and returns its reference and the
	// checksum shown as CodeMD5 (128 hex characters, as the model requires).
	PutZip(ctx context.Context, data []byte) (ref, checksum string, err error)
	// Fetch returns the path of a local file with the code of c (the S3
	// object or the uploaded zip), fetching it if needed. ECODE if missing.
	Fetch(ctx context.Context, c CodeConfig) (path string, err error)
}
