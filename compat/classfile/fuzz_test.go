package classfile_test

import (
	"testing"

	"github.com/flinkplane/flinkplane/compat/classfile"
)

// FuzzParse: malformed class files return an error, never panic; memory
// stays bounded by the input size (constant-pool and member counts are
// checked against the remaining bytes).
func FuzzParse(f *testing.F) {
	f.Add(readSample(f))
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
	})
}
