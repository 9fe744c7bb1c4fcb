package classfile_test

import (
	"reflect"
	"testing"

	"github.com/flinkplane/flinkplane/compat/classfile"
)

// FuzzParse: malformed class files return an error, never panic; memory
// stays bounded by the input size (constant-pool and member counts are
// checked against the remaining bytes).
func FuzzParse(f *testing.F) {
	sample := readSample(f)
	f.Add(sample)
	f.Add([]byte{0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 61, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := classfile.Parse(b)
		if err != nil {
			return
		}
		// Walk what a caller walks.
		for _, m := range c.Methods {
			for _, idx := range m.Refs {
				c.Pool.MemberRef(idx)
				c.Pool.ClassName(idx)
			}
			classfile.DescriptorClasses(m.Descriptor, nil)
		}
		// A reused Parser (shared strings and buffers, as in a jar scan)
		// parses the same class after another one identically.
		var ps classfile.Parser
		if _, err := ps.Parse(sample); err != nil {
			t.Fatal(err)
		}
		c2, err := ps.Parse(b)
		if err != nil {
			t.Fatalf("reused Parser: %v", err)
		}
		c, _ = classfile.Parse(b)
		for _, x := range []*classfile.Class{c, c2} {
			for i := range x.Pool {
				x.Pool.Utf8(uint16(i)) // decode every entry for the comparison
			}
		}
		if !reflect.DeepEqual(c.Methods, c2.Methods) || !reflect.DeepEqual(c.Fields, c2.Fields) ||
			c.Name != c2.Name || c.Super != c2.Super || !reflect.DeepEqual(c.Interfaces, c2.Interfaces) {
			t.Fatal("a reused Parser parses differently")
		}
		for _, m := range c2.Methods {
			for _, idx := range m.Refs {
				o1, n1, d1, e1 := c.Pool.MemberRef(idx)
				o2, n2, d2, e2 := c2.MemberRef(idx)
				if o1 != o2 || n1 != n2 || d1 != d2 || (e1 == nil) != (e2 == nil) {
					t.Fatalf("MemberRef(%d) differs", idx)
				}
			}
		}
	})
}
