package classfile_test

import (
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane/compat/classfile"
)

func readSample(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/sample/Sample.class")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func method(c *classfile.Class, name string) *classfile.Member {
	for i := range c.Methods {
		if c.Methods[i].Name == name {
			return &c.Methods[i]
		}
	}
	return nil
}

func TestParse_Sample(t *testing.T) {
	c, err := classfile.Parse(readSample(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Name, "sample/Sample"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
	if got, want := c.Major, uint16(55); got != want {
		t.Errorf("Major = %d, want %d", got, want)
	}
	if got, want := c.Super, "java/util/ArrayList"; got != want {
		t.Errorf("Super = %q, want %q", got, want)
	}
	if got, want := c.Interfaces, []string{"java/io/Serializable", "java/lang/Comparable"}; !slices.Equal(got, want) {
		t.Errorf("Interfaces = %q, want %q", got, want)
	}
	if !slices.Contains(c.Annotations, "Lsample/Sample$Marker;") || !slices.Contains(c.Annotations, "Ljava/lang/Thread$State;") ||
		!slices.Contains(c.Annotations, "Ljava/lang/String;") || !slices.Contains(c.Annotations, "Ljava/lang/Deprecated;") {
		t.Errorf("Annotations = %q, want the marker, its enum, class and nested annotation types", c.Annotations)
	}
	if c.Signature == "" {
		t.Error("no class Signature")
	}
	if len(c.Bootstrap) < 2 {
		t.Errorf("Bootstrap = %d methods, want >= 2 (method ref, lambda)", len(c.Bootstrap))
	}
	d := method(c, "describe")
	if d == nil {
		t.Fatal("no describe method")
	}
	if got, want := d.Descriptor, "(Ljava/lang/Object;)Ljava/lang/String;"; got != want {
		t.Errorf("describe descriptor = %q, want %q", got, want)
	}
	if !slices.Equal(d.Exceptions, []string{"java/io/IOException"}) {
		t.Errorf("describe exceptions = %q", d.Exceptions)
	}
	// The bytecode of describe uses: invokedynamic, String.valueOf, the
	// catch type, the Sample class (instanceof/checkcast) and int[][]
	// (multianewarray).
	var refs []string
	var indy bool
	for _, idx := range d.Refs {
		e := c.Pool[idx]
		switch e.Tag {
		case classfile.TagClass:
			n, _ := c.Pool.ClassName(idx)
			refs = append(refs, n)
		case classfile.TagMethodref, classfile.TagInterfaceMethodref:
			o, n, _, _ := c.Pool.MemberRef(idx)
			refs = append(refs, o+"."+n)
		case classfile.TagInvokeDynamic:
			indy = true
		}
	}
	for _, want := range []string{"sample/Sample", "[[I", "java/lang/IndexOutOfBoundsException", "java/lang/String.valueOf", "java/lang/Runnable.run"} {
		if !slices.Contains(refs, want) {
			t.Errorf("describe refs %q lack %q", refs, want)
		}
	}
	if !indy {
		t.Error("describe refs lack an InvokeDynamic entry")
	}
	// compareTo does not use String.valueOf: references are attributed to
	// the method that uses them.
	for _, idx := range method(c, "compareTo").Refs {
		if o, n, _, err := c.Pool.MemberRef(idx); err == nil && o+"."+n == "java/lang/String.valueOf" {
			t.Error("compareTo has describe's reference")
		}
	}
	var found bool
	for i := range c.Pool {
		if s, err := c.Pool.Utf8(uint16(i)); err == nil && strings.Contains(s, "é€𝄞") {
			found = true
		}
	}
	if !found {
		t.Error("modified UTF-8 string with a supplementary character not decoded")
	}
}

func TestParse_Truncated(t *testing.T) {
	b := readSample(t)
	for n := 0; n < len(b); n++ {
		if _, err := classfile.Parse(b[:n]); err == nil {
			t.Fatalf("Parse(first %d bytes) succeeded", n)
		} else if !errors.Is(err, classfile.ErrMalformed) {
			t.Fatalf("Parse(first %d bytes) = %v, want ErrMalformed", n, err)
		}
	}
}

func TestParse_HugeConstantPool(t *testing.T) {
	b := []byte{0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 61, 0xFF, 0xFF, 1, 0, 1}
	if _, err := classfile.Parse(b); !errors.Is(err, classfile.ErrMalformed) {
		t.Fatalf("Parse = %v, want ErrMalformed", err)
	}
	// A pool of 65535 one-byte-short entries is rejected before any
	// allocation proportional to the count.
	// (The error path itself allocates 7, 9 under -race, once 11 in CI:
	// the bound is far from proportional, not tight.)
	allocs := testing.AllocsPerRun(10, func() { classfile.Parse(b) })
	if allocs > 100 {
		t.Errorf("%.0f allocations for a hostile constant-pool count", allocs)
	}
}

func TestParse_BadIndexes(t *testing.T) {
	b := readSample(t)
	mut := slices.Clone(b)
	// Corrupt u2 values across the file: errors, never panics.
	for i := 8; i+1 < len(mut); i += 7 {
		old := binary.BigEndian.Uint16(mut[i:])
		binary.BigEndian.PutUint16(mut[i:], 0xFFFF)
		classfile.Parse(mut)
		binary.BigEndian.PutUint16(mut[i:], old)
	}
}

func TestDescriptorClasses(t *testing.T) {
	got := classfile.DescriptorClasses("(I[Lorg/apache/flink/A;JLjava/util/List;)[[Lx/Y$Z;", nil)
	want := []string{"org/apache/flink/A", "java/util/List", "x/Y$Z"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func BenchmarkParse(b *testing.B) {
	data := readSample(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := classfile.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
