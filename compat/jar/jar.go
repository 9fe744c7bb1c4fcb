// Package jar reads JAR (zip) archives with bounded memory: it caps each
// entry's uncompressed size and the total, rejects entries whose compression
// ratio marks a zip bomb, opens nested jars one level deep (Spring-Boot-like
// lib/*.jar), understands multi-release jars (META-INF/versions/N/) and reads
// the manifest and META-INF/maven/**/pom.properties.
//
// Reader is safe for concurrent Read calls.
package jar

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrLimit is wrapped by errors about an archive exceeding a limit.
var ErrLimit = errors.New("archive exceeds limit")

// Limits bound the resources spent on one archive (nested jars included).
type Limits struct {
	MaxEntrySize int64 // uncompressed bytes per entry (nested jars included)
	MaxTotal     int64 // uncompressed bytes read over the whole archive
	MaxEntries   int   // entries, over the archive and its nested jars
	// MaxRatio is the largest uncompressed/compressed ratio accepted for an
	// entry larger than RatioMinSize.
	MaxRatio     int64
	RatioMinSize int64
	// NoNested disables opening nested jars.
	NoNested bool
}

// DefaultLimits are generous for real applications (a 1 GB shaded jar) and
// stop zip bombs early.
var DefaultLimits = Limits{
	MaxEntrySize: 512 << 20,
	MaxTotal:     4 << 30,
	MaxEntries:   500_000,
	MaxRatio:     200,
	RatioMinSize: 1 << 20,
}

// File is one entry of the archive or of a nested jar.
type File struct {
	Name string // entry name inside its jar
	// Nested is the name of the nested jar holding the entry ("" for the
	// outer archive).
	Nested string
	// Release is N for META-INF/versions/N/ entries of a multi-release jar,
	// 0 otherwise.
	Release int
	// ClassName is the entry's name with the version prefix and ".class"
	// removed, for class files; "" otherwise.
	ClassName string
	Size      int64 // declared uncompressed size
	zf        *zip.File
	arcSize   int64  // size of the (outer or nested) archive holding the entry
	arcData   []byte // that archive's bytes when they are in memory (mapped or nested)
	owner     *Reader
}

// Path returns a display path: "nested.jar!/name" or "name".
func (f *File) Path() string {
	if f.Nested != "" {
		return f.Nested + "!/" + f.Name
	}
	return f.Name
}

// Pom is the content of one META-INF/maven/<g>/<a>/pom.properties.
type Pom struct {
	Nested     string
	GroupID    string
	ArtifactID string
	Version    string
}

// Reader is an open archive.
type Reader struct {
	lim      Limits
	closer   io.Closer
	total    *atomic.Int64
	files    []*File
	nested   []string
	Manifest map[string]string
	Poms     []Pom
	// Services maps a META-INF/services file name (the service interface)
	// to the provider classes it lists, over the archive and nested jars.
	Services map[string][]string
	// Size is the archive's size in bytes.
	Size int64
}

// Open opens the jar at path. The file is mapped into memory when the
// platform allows (entries are then read without a system call or a copy);
// if it is truncated while mapped, reads fail with an error instead of
// crashing the process.
func Open(name string, lim Limits) (*Reader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if data, unmap, err := mapFile(f, st.Size()); err == nil {
		f.Close()
		r, err := newReader(bytes.NewReader(data), data, st.Size(), lim)
		if err != nil {
			unmap()
			return nil, err
		}
		r.closer = closerFunc(unmap)
		return r, nil
	}
	r, err := NewReader(f, st.Size(), lim)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

type closerFunc func() error

func (c closerFunc) Close() error { return c() }

// NewReader reads a jar from ra.
func NewReader(ra io.ReaderAt, size int64, lim Limits) (*Reader, error) {
	return newReader(ra, nil, size, lim)
}

// newReader is NewReader; data, when not nil, are the archive's bytes.
func newReader(ra io.ReaderAt, data []byte, size int64, lim Limits) (*Reader, error) {
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
	r := &Reader{lim: lim, total: new(atomic.Int64), Manifest: map[string]string{}, Services: map[string][]string{}, Size: size}
	entries := 0
	if err := r.add(ra, data, size, "", &entries); err != nil {
		return nil, err
	}
	sort.SliceStable(r.Poms, func(i, j int) bool { return r.Poms[i].ArtifactID < r.Poms[j].ArtifactID })
	return r, nil
}

// Close closes the underlying file.
func (r *Reader) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// Files returns the archive's entries (directories excluded), the nested
// jars' entries after the outer ones.
func (r *Reader) Files() []*File { return r.files }

// NestedJars returns the names of the nested jars that were opened.
func (r *Reader) NestedJars() []string { return r.nested }

func (r *Reader) add(ra io.ReaderAt, data []byte, size int64, nested string, entries *int) error {
	z, err := zip.NewReader(ra, size)
	if err != nil {
		if nested != "" {
			return fmt.Errorf("nested jar %s: %w", nested, err)
		}
		return err
	}
	*entries += len(z.File)
	if *entries > r.lim.MaxEntries {
		return fmt.Errorf("%w: more than %d entries", ErrLimit, r.lim.MaxEntries)
	}
	var inner []*File
	for _, zf := range z.File {
		if strings.HasSuffix(zf.Name, "/") {
			continue
		}
		f := &File{Name: zf.Name, Nested: nested, Size: int64(zf.UncompressedSize64), zf: zf, arcSize: size, arcData: data, owner: r}
		name := zf.Name
		if rest, ok := strings.CutPrefix(name, "META-INF/versions/"); ok {
			v, after, found := strings.Cut(rest, "/")
			if n, err := strconv.Atoi(v); err == nil && found && n > 0 {
				f.Release = n
				name = after
			}
		}
		if cn, ok := strings.CutSuffix(name, ".class"); ok {
			f.ClassName = cn
		}
		r.files = append(r.files, f)
		switch {
		case zf.Name == "META-INF/MANIFEST.MF" && nested == "":
			b, err := r.Read(f)
			if err != nil {
				return fmt.Errorf("manifest: %w", err)
			}
			r.Manifest = ParseManifest(b)
		case strings.HasPrefix(zf.Name, "META-INF/maven/") && path.Base(zf.Name) == "pom.properties":
			b, err := r.Read(f)
			if err != nil {
				return fmt.Errorf("%s: %w", f.Path(), err)
			}
			p := parseProperties(b)
			r.Poms = append(r.Poms, Pom{Nested: nested, GroupID: p["groupId"], ArtifactID: p["artifactId"], Version: p["version"]})
		case strings.HasPrefix(zf.Name, "META-INF/services/") && !strings.Contains(zf.Name[len("META-INF/services/"):], "/"):
			b, err := r.Read(f)
			if err != nil {
				return fmt.Errorf("%s: %w", f.Path(), err)
			}
			svc := zf.Name[len("META-INF/services/"):]
			for _, line := range strings.Split(string(b), "\n") {
				if i := strings.IndexByte(line, '#'); i >= 0 {
					line = line[:i]
				}
				if line = strings.TrimSpace(line); line != "" {
					r.Services[svc] = append(r.Services[svc], line)
				}
			}
		case nested == "" && !r.lim.NoNested && strings.HasSuffix(zf.Name, ".jar"):
			inner = append(inner, f)
		}
	}
	// Nested jars, one level: read into memory (bounded) and add.
	for _, f := range inner {
		b, err := r.Read(f)
		if err != nil {
			return fmt.Errorf("nested jar %s: %w", f.Name, err)
		}
		if len(b) < 4 || !bytes.Equal(b[:2], []byte("PK")) {
			continue // not a zip: ignore
		}
		r.nested = append(r.nested, f.Name)
		if err := r.add(bytes.NewReader(b), b, int64(len(b)), f.Name, entries); err != nil {
			return err
		}
	}
	return nil
}

// Read returns an entry's content, enforcing the limits.
func (r *Reader) Read(f *File) ([]byte, error) {
	return r.ReadBuf(f, nil)
}

// ReadBuf is Read reusing buf's storage when it is large enough.
func (r *Reader) ReadBuf(f *File, buf []byte) ([]byte, error) {
	zf := f.zf
	if int64(zf.UncompressedSize64) > r.lim.MaxEntrySize || zf.UncompressedSize64 > 1<<62 {
		return nil, fmt.Errorf("%w: %s is %d bytes (max %d)", ErrLimit, f.Path(), zf.UncompressedSize64, r.lim.MaxEntrySize)
	}
	if err := r.checkRatio(f, int64(zf.UncompressedSize64)); err != nil {
		return nil, err
	}
	var b []byte
	var err error
	if zf.Method == zip.Deflate || zf.Method == zip.Store {
		b, err = r.readRaw(f, buf)
	} else {
		b, err = r.readStream(f, buf)
	}
	if err != nil {
		return nil, err
	}
	n := int64(len(b))
	if err := r.checkRatio(f, n); err != nil {
		return nil, err
	}
	if t := r.total.Add(n); t > r.lim.MaxTotal {
		return nil, fmt.Errorf("%w: more than %d bytes uncompressed in total", ErrLimit, r.lim.MaxTotal)
	}
	return b, nil
}

// readStream reads an entry through archive/zip's decompressors. The
// declared size is only a hint: it reads at most the limit.
func (r *Reader) readStream(f *File, buf []byte) ([]byte, error) {
	zf := f.zf
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path(), err)
	}
	defer rc.Close()
	want := int(min(int64(zf.UncompressedSize64), 64<<20)) + 1
	if cap(buf) < want {
		buf = make([]byte, 0, want)
	}
	w := bytes.NewBuffer(buf[:0])
	n, err := io.Copy(w, io.LimitReader(rc, r.lim.MaxEntrySize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path(), err)
	}
	if n > r.lim.MaxEntrySize {
		return nil, fmt.Errorf("%w: %s inflates past %d bytes", ErrLimit, f.Path(), r.lim.MaxEntrySize)
	}
	return w.Bytes(), nil
}

// rawBufs holds the compressed-data buffers of readRaw.
var rawBufs sync.Pool

// readRaw reads a stored or deflated entry: the compressed bytes in one
// read, then inflated in memory into exactly the declared size (which
// archive/zip enforces too), verified against the CRC-32 of the central
// directory like archive/zip does.
func (r *Reader) readRaw(f *File, buf []byte) ([]byte, error) {
	zf := f.zf
	size := int(zf.UncompressedSize64)
	csize := zf.CompressedSize64
	if csize > uint64(f.arcSize) {
		return nil, fmt.Errorf("%s: %w", f.Path(), zip.ErrFormat)
	}
	if cap(buf) < size {
		buf = make([]byte, size, max(size, 4096))
	}
	buf = buf[:size]
	if f.arcData != nil {
		return r.readMapped(f, buf)
	}
	raw, err := zf.OpenRaw()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path(), err)
	}
	if zf.Method == zip.Store {
		if csize != uint64(size) {
			return nil, fmt.Errorf("%s: %w", f.Path(), zip.ErrFormat)
		}
		if _, err := io.ReadFull(raw, buf); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path(), err)
		}
	} else {
		cp, _ := rawBufs.Get().(*[]byte)
		if cp == nil {
			cp = new([]byte)
		}
		defer rawBufs.Put(cp)
		if uint64(cap(*cp)) < csize {
			*cp = make([]byte, csize)
		}
		c := (*cp)[:csize]
		if _, err := io.ReadFull(raw, c); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path(), err)
		}
		if err := inflate(c, buf); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path(), err)
		}
	}
	if zf.CRC32 != 0 && crc32.ChecksumIEEE(buf) != zf.CRC32 {
		return nil, fmt.Errorf("%s: %w", f.Path(), zip.ErrChecksum)
	}
	return buf, nil
}

// readMapped is readRaw for an archive in memory: the compressed bytes are
// inflated where they are. A fault (the mapped file was truncated) is an
// error.
func (r *Reader) readMapped(f *File, buf []byte) (_ []byte, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			// A memory fault (SetPanicOnFault) carries its address; a nil
			// dereference (a bug) stays a panic.
			if e, ok := p.(interface {
				runtime.Error
				Addr() uintptr
			}); ok && e.Addr() >= 4096 {
				err = fmt.Errorf("%s: the jar changed while it was read: %v", f.Path(), e)
				return
			}
			panic(p)
		}
	}()
	zf := f.zf
	off, err := zf.DataOffset()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path(), err)
	}
	csize := int64(zf.CompressedSize64)
	if off < 0 || off > int64(len(f.arcData)) || csize > int64(len(f.arcData))-off {
		return nil, fmt.Errorf("%s: %w", f.Path(), zip.ErrFormat)
	}
	c := f.arcData[off : off+csize]
	if zf.Method == zip.Store {
		if csize != int64(len(buf)) {
			return nil, fmt.Errorf("%s: %w", f.Path(), zip.ErrFormat)
		}
		copy(buf, c)
	} else if err := inflate(c, buf); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path(), err)
	}
	if zf.CRC32 != 0 && crc32.ChecksumIEEE(buf) != zf.CRC32 {
		return nil, fmt.Errorf("%s: %w", f.Path(), zip.ErrChecksum)
	}
	return buf, nil
}

func (r *Reader) checkRatio(f *File, n int64) error {
	if n <= r.lim.RatioMinSize || f.zf.Method == zip.Store {
		return nil
	}
	c := int64(f.zf.CompressedSize64)
	if c <= 0 || n/c > r.lim.MaxRatio {
		return fmt.Errorf("%w: %s has compression ratio above %d (zip bomb?)", ErrLimit, f.Path(), r.lim.MaxRatio)
	}
	return nil
}

// ParseManifest parses the main section of a MANIFEST.MF.
func ParseManifest(b []byte) map[string]string {
	m := map[string]string{}
	var key string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break // end of main section
		}
		if strings.HasPrefix(line, " ") && key != "" {
			m[key] += line[1:]
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key = strings.TrimSpace(k)
		m[key] = strings.TrimSpace(v)
	}
	return m
}

func parseProperties(b []byte) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, ok = strings.Cut(line, ":")
		}
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}
