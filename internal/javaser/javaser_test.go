package javaser

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// stream is a hand-made serialization stream fragment: a class
// description's bytes, the placeholder as a String object, more bytes.
func stream(placeholder string) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xAC, 0xED, 0x00, 0x05, 0x73, 0x72})
	b.Write([]byte{tcString, 0, byte(len(placeholder))})
	b.WriteString(placeholder)
	b.Write([]byte{0x78, 0x70})
	return b.Bytes()
}

func TestReplaceString(t *testing.T) {
	const ph = "flinkplane-restore-0123456789abcdef"
	for _, c := range []struct {
		name, s string
		want    []byte
	}{
		{"ASCII", "file:///data/savepoints/app/savepoint-1a2b", []byte("file:///data/savepoints/app/savepoint-1a2b")},
		{"TwoAndThreeBytes", "s3p://b/é€", []byte{'s', '3', 'p', ':', '/', '/', 'b', '/', 0xC3, 0xA9, 0xE2, 0x82, 0xAC}},
		{"NUL", "a\x00b", []byte{'a', 0xC0, 0x80, 'b'}},
		{"Supplementary", "😀", []byte{0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := stream(ph)
			out, err := ReplaceString(in, ph, c.s)
			if err != nil {
				t.Fatal(err)
			}
			want := append(append(append(append([]byte{}, in[:6]...), tcString, 0, byte(len(c.want))), c.want...), 0x78, 0x70)
			if !bytes.Equal(out, want) {
				t.Errorf("got % x\nwant % x", out, want)
			}
		})
	}
	t.Run("LongString", func(t *testing.T) {
		long := strings.Repeat("x", 70000)
		out, err := ReplaceString(stream(ph), ph, long)
		if err != nil {
			t.Fatal(err)
		}
		if out[6] != tcLongString || binary.BigEndian.Uint64(out[7:15]) != 70000 || !bytes.HasSuffix(out, []byte{0x78, 0x70}) {
			t.Errorf("not a TC_LONGSTRING: % x", out[:16])
		}
	})
	t.Run("Refused", func(t *testing.T) {
		twice := append(stream(ph), stream(ph)...)
		if _, err := ReplaceString(twice, ph, "x"); err == nil {
			t.Error("a placeholder found twice was replaced")
		}
		if _, err := ReplaceString(stream("other"), ph, "x"); err == nil {
			t.Error("a missing placeholder was replaced")
		}
		bare := append([]byte{0x77, 0x05}, ph...) // in block data, not a String object
		if _, err := ReplaceString(bare, ph, "x"); err == nil {
			t.Error("bytes that are not a String object were replaced")
		}
	})
}
