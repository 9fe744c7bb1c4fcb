package mock

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"sync"

	"github.com/flinkplane/flinkplane"
)

var _ flinkplane.CodeStore = (*CodeStore)(nil)

// CodeStore is an in-memory code store: Objects maps "bucketARN/key" to
// whether it exists.
type CodeStore struct {
	mu      sync.Mutex
	Objects map[string]bool
	zips    map[string]bool
}

// NewCodeStore returns a code store holding the given "bucketARN/key"s.
func NewCodeStore(objects ...string) *CodeStore {
	c := &CodeStore{Objects: map[string]bool{}, zips: map[string]bool{}}
	for _, o := range objects {
		c.Objects[o] = true
	}
	return c
}

func (c *CodeStore) Check(ctx context.Context, loc flinkplane.S3ContentLocation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Objects[loc.BucketARN+"/"+loc.FileKey] {
		return flinkplane.Errorf(flinkplane.ECODE, "Object %s does not exist in bucket %s.", loc.FileKey, loc.BucketARN)
	}
	return nil
}

func (c *CodeStore) PutZip(ctx context.Context, data []byte) (string, string, error) {
	sum := sha512.Sum512(data)
	ref := hex.EncodeToString(sum[:])
	c.mu.Lock()
	c.zips[ref] = true
	c.mu.Unlock()
	return ref, ref, nil
}

func (c *CodeStore) Fetch(ctx context.Context, code flinkplane.CodeConfig) (string, error) {
	if code.S3 != nil {
		if err := c.Check(ctx, *code.S3); err != nil {
			return "", err
		}
		return "/code/" + code.S3.BucketARN + "/" + code.S3.FileKey, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if code.ZipRef != "" && c.zips[code.ZipRef] {
		return "/code/zip/" + code.ZipRef, nil
	}
	return "", flinkplane.Errorf(flinkplane.ECODE, "The application has no code.")
}

// CompatChecker returns fixed findings and records its calls.
type CompatChecker struct {
	mu        sync.Mutex
	JarFunc   func(jar string, target flinkplane.RuntimeID) []flinkplane.Finding
	StateFunc func(savepoint string, target flinkplane.RuntimeID) []flinkplane.Finding
	Calls     []string
}

var _ flinkplane.CompatChecker = (*CompatChecker)(nil)

func (c *CompatChecker) CheckJar(ctx context.Context, jar string, target flinkplane.RuntimeID) ([]flinkplane.Finding, error) {
	c.mu.Lock()
	c.Calls = append(c.Calls, "CheckJar("+jar+","+string(target)+")")
	c.mu.Unlock()
	if c.JarFunc == nil {
		return nil, nil
	}
	return c.JarFunc(jar, target), nil
}

func (c *CompatChecker) CheckSavepoint(ctx context.Context, sp string, target flinkplane.RuntimeID) ([]flinkplane.Finding, error) {
	c.mu.Lock()
	c.Calls = append(c.Calls, "CheckSavepoint("+sp+","+string(target)+")")
	c.mu.Unlock()
	if c.StateFunc == nil {
		return nil, nil
	}
	return c.StateFunc(sp, target), nil
}
