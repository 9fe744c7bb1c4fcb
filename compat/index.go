package compat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/classfile"
	"github.com/flinkplane/flinkplane/compat/jar"

	"github.com/flinkplane/flinkplane/internal/atomicfile"
)

// indexFormat changes whenever the cached index layout or its content rules
// change, invalidating every cache file.
const indexFormat = "flinkplane-compat-index-v2"

// FlinkPrefix is the internal-name prefix of the namespace the index covers.
const FlinkPrefix = "org/apache/flink/"

// ClassInfo is one class of the target runtime's API.
type ClassInfo struct {
	Access     uint16
	Super      string
	Interfaces []string
	// Methods maps name+descriptor ("open(Lorg/...;)V") to access flags.
	Methods map[string]uint16
	// Fields maps name+":"+descriptor to access flags.
	Fields map[string]uint16

	// Classes of a scanned jar build Methods and Fields on first use from
	// these (most are never searched).
	rawMethods, rawFields []rawMember
	once                  sync.Once
	// anc caches whether a jar class has a Flink supertype (see
	// world.infoHasFlinkAncestor).
	anc atomic.Int32
}

// rawMember is a member of a lazily built ClassInfo.
type rawMember struct {
	Access           uint16
	Name, Descriptor string
}

// build fills Methods and Fields of a lazily built ClassInfo, once (safe
// for concurrent use).
func (ci *ClassInfo) build() {
	ci.once.Do(ci.buildMaps)
}

func (ci *ClassInfo) buildMaps() {
	if ci.Methods != nil {
		return
	}
	ci.Methods = make(map[string]uint16, len(ci.rawMethods))
	ci.Fields = make(map[string]uint16, len(ci.rawFields))
	for _, m := range ci.rawMethods {
		ci.Methods[m.Name+m.Descriptor] = m.Access
	}
	for _, f := range ci.rawFields {
		ci.Fields[f.Name+":"+f.Descriptor] = f.Access
	}
	ci.rawMethods, ci.rawFields = nil, nil
}

// HasMethod reports whether the class declares method name+descriptor.
func (ci *ClassInfo) HasMethod(nameDesc string) bool {
	ci.build()
	_, ok := ci.Methods[nameDesc]
	return ok
}

// HasField reports whether the class declares field name+":"+descriptor.
func (ci *ClassInfo) HasField(nameDesc string) bool {
	ci.build()
	_, ok := ci.Fields[nameDesc]
	return ok
}

// lazyClassInfo returns a ClassInfo whose member maps are built on first use.
func lazyClassInfo(c *classfile.Class) *ClassInfo {
	ms := make([]rawMember, len(c.Methods))
	for i, m := range c.Methods {
		ms[i] = rawMember{Access: m.Access, Name: m.Name, Descriptor: m.Descriptor}
	}
	fs := make([]rawMember, len(c.Fields))
	for i, f := range c.Fields {
		fs[i] = rawMember{Access: f.Access, Name: f.Name, Descriptor: f.Descriptor}
	}
	return &ClassInfo{Access: c.Access, Super: c.Super, Interfaces: c.Interfaces, rawMethods: ms, rawFields: fs}
}

// Index is the symbol index of one installed runtime: every class under
// org/apache/flink/ on the runtime's classpath.
type Index struct {
	Runtime      flinkplane.RuntimeID
	FlinkVersion string
	Key          string
	Classes      map[string]*ClassInfo
	// HasScala reports scala/ classes on the runtime classpath.
	HasScala bool
	// packages and roots are derived: the packages (internal form) holding
	// classes and the relocation roots (see relocationRoot).
	packages map[string]bool
	roots    map[string]bool
	derive   sync.Once
}

func (ix *Index) derived() {
	ix.derive.Do(func() {
		ix.packages = map[string]bool{}
		ix.roots = map[string]bool{}
		for n := range ix.Classes {
			ix.packages[packageOf(n)] = true
			if r := relocationRoot(n); r != "" {
				ix.roots[r] = true
			}
		}
	})
}

func (ix *Index) hasRelocationRoot(r string) bool {
	ix.derived()
	return ix.roots[r]
}

// Class returns the class named name (internal form) or nil.
func (ix *Index) Class(name string) *ClassInfo { return ix.Classes[name] }

// HasPackage reports whether the runtime has classes in package pkg
// (internal form, e.g. "org/apache/flink/api/common").
func (ix *Index) HasPackage(pkg string) bool {
	ix.derived()
	return ix.packages[pkg]
}

func packageOf(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return ""
}

// runtimeManifest is the part of runtime.json the index needs.
type runtimeManifest struct {
	ID           string   `json:"id"`
	FlinkVersion string   `json:"flinkVersion"`
	Jars         []string `json:"jars"`
	Complete     bool     `json:"complete"`
}

// runtimeJars reads <runtimesDir>/<id>/runtime.json and returns the runtime
// description, its jar paths and the cache key over runtime.json and each
// jar's size and modification time. Returns ENOTFOUND when the runtime is not
// installed.
func runtimeJars(runtimesDir string, id flinkplane.RuntimeID) (runtimeManifest, []string, string, error) {
	var m runtimeManifest
	dir := filepath.Join(runtimesDir, string(id))
	b, err := os.ReadFile(filepath.Join(dir, "runtime.json"))
	if os.IsNotExist(err) {
		return m, nil, "", flinkplane.Errorf(flinkplane.ENOTFOUND, "Runtime %s is not installed in %s (run `flinkplane runtime install %s`).", id, runtimesDir, id)
	} else if err != nil {
		return m, nil, "", fmt.Errorf("read runtime.json: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, nil, "", fmt.Errorf("parse %s/runtime.json: %w", dir, err)
	}
	var jars []string
	if len(m.Jars) > 0 {
		for _, j := range m.Jars {
			jars = append(jars, filepath.Join(dir, filepath.FromSlash(j)))
		}
	} else {
		jars, _ = filepath.Glob(filepath.Join(dir, "lib", "*.jar"))
	}
	sort.Strings(jars)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", indexFormat, b)
	for _, j := range jars {
		st, err := os.Stat(j)
		if err != nil {
			return m, nil, "", fmt.Errorf("runtime %s: %w", id, err)
		}
		fmt.Fprintf(h, "%s %d %d\n", filepath.Base(j), st.Size(), st.ModTime().UnixNano())
	}
	return m, jars, hex.EncodeToString(h.Sum(nil)), nil
}

// LoadIndex returns the symbol index of runtime id installed under
// runtimesDir, from cacheDir when a cache file with the runtime's current
// key exists, else built from the runtime's jars and written to cacheDir
// (when cacheDir is not ""). Returns ENOTFOUND when the runtime is not
// installed.
func LoadIndex(ctx context.Context, runtimesDir, cacheDir string, id flinkplane.RuntimeID) (*Index, error) {
	m, jars, key, err := runtimeJars(runtimesDir, id)
	if err != nil {
		return nil, err
	}
	var cacheFile string
	if cacheDir != "" {
		cacheFile = filepath.Join(cacheDir, fmt.Sprintf("index-%s-%s.bin", id, key[:16]))
		if ix, err := readIndexFile(cacheFile); err == nil && ix.Key == key {
			return ix, nil
		}
	}
	ix, err := BuildIndex(ctx, jars)
	if err != nil {
		return nil, err
	}
	ix.Runtime, ix.FlinkVersion, ix.Key = id, m.FlinkVersion, key
	if cacheFile != "" {
		if err := writeIndex(cacheFile, ix); err != nil {
			return nil, fmt.Errorf("cache index: %w", err)
		}
		// Remove stale cache files of the same runtime.
		old, _ := filepath.Glob(filepath.Join(cacheDir, fmt.Sprintf("index-%s-*", id)))
		for _, o := range old {
			if o != cacheFile {
				os.Remove(o)
			}
		}
	}
	return ix, nil
}

// writeIndex writes the index atomically: temp file, fsync, rename.
func writeIndex(name string, ix *Index) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(name, 0o644, func(w io.Writer) error { return writeIndexTo(w, ix) })
}

// BuildIndex indexes the org/apache/flink/ classes of the given jars. The
// first jar holding a class wins, like on a classpath. Nested jars (e.g. the
// RPC system's embedded jar, loaded by its own class loader) are not part of
// the classpath and are skipped.
func BuildIndex(ctx context.Context, jars []string) (*Index, error) {
	type result struct {
		classes map[string]*ClassInfo
		scala   bool
		err     error
	}
	results := make([]result, len(jars))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, j := range jars {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res := &results[i]
			res.classes = map[string]*ClassInfo{}
			lim := jar.DefaultLimits
			lim.NoNested = true
			r, err := jar.Open(j, lim)
			if err != nil {
				res.err = fmt.Errorf("index %s: %w", filepath.Base(j), err)
				return
			}
			defer r.Close()
			for _, f := range r.Files() {
				if ctx.Err() != nil {
					res.err = ctx.Err()
					return
				}
				if f.ClassName == "" || f.Release != 0 {
					continue
				}
				if strings.HasPrefix(f.ClassName, "scala/") {
					res.scala = true
					continue
				}
				if !strings.HasPrefix(f.ClassName, FlinkPrefix) {
					continue
				}
				b, err := r.Read(f)
				if err != nil {
					res.err = fmt.Errorf("index %s: %w", filepath.Base(j), err)
					return
				}
				c, err := classfile.Parse(b)
				if err != nil {
					continue // a broken class in a runtime jar is not ours to report
				}
				res.classes[c.Name] = classInfo(c)
			}
		}()
	}
	wg.Wait()
	ix := &Index{Classes: map[string]*ClassInfo{}}
	for _, res := range results {
		if res.err != nil {
			return nil, res.err
		}
		ix.HasScala = ix.HasScala || res.scala
		for n, c := range res.classes {
			if _, ok := ix.Classes[n]; !ok {
				ix.Classes[n] = c
			}
		}
	}
	return ix, nil
}

func classInfo(c *classfile.Class) *ClassInfo {
	ci := &ClassInfo{
		Access:     c.Access,
		Super:      c.Super,
		Interfaces: c.Interfaces,
		Methods:    make(map[string]uint16, len(c.Methods)),
		Fields:     make(map[string]uint16, len(c.Fields)),
	}
	for _, m := range c.Methods {
		ci.Methods[m.Name+m.Descriptor] = m.Access
	}
	for _, f := range c.Fields {
		ci.Fields[f.Name+":"+f.Descriptor] = f.Access
	}
	return ci
}
