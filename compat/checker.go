// Package compat finds, before anything is stopped, whether an application
// JAR and a savepoint will work on a target Flink runtime.
//
// The JAR check reads the JAR's class files in Go and resolves every
// reference into org/apache/flink/** against a symbol index built from the
// target runtime's installed jars (see Index). The savepoint check parses the
// savepoint's _metadata and the keyed/operator state meta information in its
// state files (package compat/savepoint) and flags state the target cannot
// restore. Both return []flinkplane.Finding.
package compat

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/jar"
)

// Checker implements flinkplane.CompatChecker against runtimes installed
// under RuntimesDir (<RuntimesDir>/<RuntimeID>/runtime.json + lib/*.jar).
// Symbol indexes are cached in CacheDir (DefaultCacheDir when empty) and
// in memory for the Checker's lifetime.
type Checker struct {
	RuntimesDir string
	CacheDir    string
	// Java is the java command of the dry compile (empty: $JAVA_HOME/bin/java
	// or java from PATH; javac is taken from the same directory).
	Java string
	// CompileTimeout bounds a dry compile (DefaultCompileTimeout when 0).
	CompileTimeout time.Duration

	mu      sync.Mutex
	indexes map[flinkplane.RuntimeID]*Index
	hmu     sync.Mutex // dry-compile helpers
}

var (
	_ flinkplane.CompatChecker = (*Checker)(nil)
	_ flinkplane.JobCompiler   = (*Checker)(nil)
)

// DefaultCacheDir is $XDG_CACHE_HOME/flinkplane/compat or
// ~/.cache/flinkplane/compat.
func DefaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "flinkplane-compat")
	}
	return filepath.Join(d, "flinkplane", "compat")
}

// Index returns the symbol index of target, building it if the runtime
// changed since it was cached. Returns ENOTFOUND if target is not installed
// and EINVALID if it is not a Flink runtime.
func (c *Checker) Index(ctx context.Context, target flinkplane.RuntimeID) (*Index, error) {
	if !target.IsFlink() {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "%q is not a Flink runtime.", target)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _, key, err := runtimeJars(c.RuntimesDir, target)
	if err != nil {
		return nil, err
	}
	if ix := c.indexes[target]; ix != nil && ix.Key == key {
		return ix, nil
	}
	dir := c.CacheDir
	if dir == "" {
		dir = DefaultCacheDir()
	}
	ix, err := LoadIndex(ctx, c.RuntimesDir, dir, target)
	if err != nil {
		return nil, err
	}
	if c.indexes == nil {
		c.indexes = map[flinkplane.RuntimeID]*Index{}
	}
	c.indexes[target] = ix
	return ix, nil
}

// CheckJarReport checks the JAR at jarPath against target. Returns ECODE if
// the file is not a readable JAR, ENOTFOUND if target is not installed.
func (c *Checker) CheckJarReport(ctx context.Context, jarPath string, target flinkplane.RuntimeID) (*JarReport, error) {
	start := time.Now()
	// The jar's directory is read while the index loads.
	type opened struct {
		r   *jar.Reader
		err error
	}
	jc := make(chan opened, 1)
	go func() {
		r, err := openJar(jarPath)
		jc <- opened{r, err}
	}()
	ix, err := c.Index(ctx, target)
	o := <-jc
	if err != nil {
		if o.r != nil {
			o.r.Close()
		}
		return nil, err
	}
	if o.err != nil {
		return nil, o.err
	}
	return scanReader(ctx, start, jarPath, o.r, ix)
}

// CheckJar implements flinkplane.CompatChecker.
func (c *Checker) CheckJar(ctx context.Context, jarPath string, target flinkplane.RuntimeID) ([]flinkplane.Finding, error) {
	rep, err := c.CheckJarReport(ctx, jarPath, target)
	if err != nil {
		return nil, err
	}
	return rep.Findings, nil
}

// CheckSavepoint implements flinkplane.CompatChecker.
func (c *Checker) CheckSavepoint(ctx context.Context, savepointPath string, target flinkplane.RuntimeID) ([]flinkplane.Finding, error) {
	rep, err := c.CheckSavepointReport(ctx, savepointPath, target)
	if err != nil {
		return nil, err
	}
	return rep.Findings, nil
}
