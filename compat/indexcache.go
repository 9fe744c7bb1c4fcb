package compat

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/flinkplane/flinkplane"
)

// The index cache file: a string table and the classes referring to it,
// read in one pass with one allocation for all the text. A class's member
// maps are built when the scan first looks into the class (most classes of
// a runtime are never looked into), like the classes of a scanned jar.
//
//	"FPIX" u32(version)
//	str(runtime) str(flinkVersion) str(key) u8(hasScala)
//	uvarint(nStrings) uvarint(len)... uvarint(nBytes) bytes
//	uvarint(nClasses) class...
//	class: uvarint(name) uvarint(access) uvarint(super+1) uvarint(n) iface...
//	       uvarint(n) (name desc access)... for methods, then for fields
const (
	indexCacheMagic   = "FPIX"
	indexCacheVersion = 1
	// maxIndexStrings and maxIndexBytes bound what a cache file may ask
	// to allocate (a runtime has some 20 000 classes, 200 000 members).
	maxIndexStrings = 1 << 24
	maxIndexBytes   = 1 << 30
)

func writeIndexTo(w io.Writer, ix *Index) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	ids := map[string]int{}
	var strs []string
	id := func(s string) int {
		if i, ok := ids[s]; ok {
			return i
		}
		ids[s] = len(strs)
		strs = append(strs, s)
		return len(strs) - 1
	}
	names := make([]string, 0, len(ix.Classes))
	for n := range ix.Classes {
		names = append(names, n)
	}
	sort.Strings(names)
	var body []byte
	uv := func(v int) { body = binary.AppendUvarint(body, uint64(v)) }
	uv(len(names))
	for _, n := range names {
		ci := ix.Classes[n]
		ci.build()
		uv(id(n))
		uv(int(ci.Access))
		if ci.Super == "" {
			uv(0)
		} else {
			uv(id(ci.Super) + 1)
		}
		uv(len(ci.Interfaces))
		for _, i := range ci.Interfaces {
			uv(id(i))
		}
		for _, m := range []struct {
			members map[string]uint16
			sep     string
		}{{ci.Methods, "("}, {ci.Fields, ":"}} {
			keys := make([]string, 0, len(m.members))
			for k := range m.members {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			uv(len(keys))
			for _, k := range keys {
				name, desc, _ := strings.Cut(k, m.sep)
				if m.sep == "(" {
					desc = "(" + desc
				}
				uv(id(name))
				uv(id(desc))
				uv(int(m.members[k]))
			}
		}
	}
	var head []byte
	head = append(head, indexCacheMagic...)
	head = binary.BigEndian.AppendUint32(head, indexCacheVersion)
	for _, s := range []string{string(ix.Runtime), ix.FlinkVersion, ix.Key} {
		head = binary.AppendUvarint(head, uint64(len(s)))
		head = append(head, s...)
	}
	scala := byte(0)
	if ix.HasScala {
		scala = 1
	}
	head = append(head, scala)
	head = binary.AppendUvarint(head, uint64(len(strs)))
	total := 0
	for _, s := range strs {
		head = binary.AppendUvarint(head, uint64(len(s)))
		total += len(s)
	}
	head = binary.AppendUvarint(head, uint64(total))
	if _, err := bw.Write(head); err != nil {
		return err
	}
	for _, s := range strs {
		if _, err := bw.WriteString(s); err != nil {
			return err
		}
	}
	if _, err := bw.Write(body); err != nil {
		return err
	}
	return bw.Flush()
}

var errIndexCache = errors.New("not an index cache file of this version")

// readIndexFrom decodes a cache file (b is its whole content).
func readIndexFrom(b []byte) (*Index, error) {
	r := &cacheReader{b: b}
	if len(b) < 8 || string(b[:4]) != indexCacheMagic || binary.BigEndian.Uint32(b[4:8]) != indexCacheVersion {
		return nil, errIndexCache
	}
	r.off = 8
	ix := &Index{}
	rt := r.str()
	ix.FlinkVersion = r.str()
	ix.Key = r.str()
	ix.Runtime = flinkplane.RuntimeID(rt)
	ix.HasScala = r.byte() == 1
	n := r.count(maxIndexStrings)
	lens := make([]int, n)
	for i := range lens {
		lens[i] = r.count(maxIndexBytes)
	}
	total := r.count(maxIndexBytes)
	if r.err != nil || total > len(b)-r.off {
		return nil, fmt.Errorf("index cache: string table: %w", errOr(r.err))
	}
	blob := string(b[r.off : r.off+total]) // one allocation for every string
	r.off += total
	strs := make([]string, n)
	off := 0
	for i, l := range lens {
		if off+l > len(blob) {
			return nil, fmt.Errorf("index cache: string %d past the table", i)
		}
		strs[i] = blob[off : off+l]
		off += l
	}
	str := func() string {
		i := r.count(len(strs))
		if r.err == nil && i >= len(strs) {
			r.err = fmt.Errorf("string %d out of range", i)
		}
		if r.err != nil {
			return ""
		}
		return strs[i]
	}
	nc := r.count(len(strs))
	ix.Classes = make(map[string]*ClassInfo, nc)
	infos := make([]ClassInfo, nc)
	for c := 0; c < nc && r.err == nil; c++ {
		ci := &infos[c]
		name := str()
		ci.Access = uint16(r.count(0xffff))
		if s := r.count(len(strs)); s > 0 {
			ci.Super = strs[s-1]
		}
		if k := r.count(0xffff); k > 0 {
			ci.Interfaces = make([]string, k)
			for i := range ci.Interfaces {
				ci.Interfaces[i] = str()
			}
		}
		for _, dst := range []*[]rawMember{&ci.rawMethods, &ci.rawFields} {
			k := r.count(0xffff)
			if r.err != nil {
				break
			}
			ms := make([]rawMember, k)
			for i := range ms {
				ms[i].Name, ms[i].Descriptor = str(), str()
				ms[i].Access = uint16(r.count(0xffff))
			}
			*dst = ms
		}
		ix.Classes[name] = ci
	}
	if r.err != nil {
		return nil, fmt.Errorf("index cache: %w", r.err)
	}
	return ix, nil
}

func errOr(err error) error {
	if err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

// cacheReader reads uvarints and strings, remembering the first error.
type cacheReader struct {
	b   []byte
	off int
	err error
}

func (r *cacheReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.err = io.ErrUnexpectedEOF
		return 0
	}
	r.off += n
	return v
}

// count reads a uvarint that must not exceed max.
func (r *cacheReader) count(max int) int {
	v := r.uvarint()
	if v > uint64(max) {
		if r.err == nil {
			r.err = fmt.Errorf("value %d out of range", v)
		}
		return 0
	}
	return int(v)
}

func (r *cacheReader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.err = errOr(r.err)
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *cacheReader) str() string {
	n := r.count(1 << 16)
	if r.err != nil || n > len(r.b)-r.off {
		r.err = errOr(r.err)
		return ""
	}
	s := string(r.b[r.off : r.off+n])
	r.off += n
	return s
}

// readIndexFile reads a cache file.
func readIndexFile(name string) (*Index, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return readIndexFrom(b)
}
