// Package javaser edits one thing in a Java serialization stream (Java
// Object Serialization Specification, chapter 6): the value of a String
// object. flinkplane's dry compile serializes a JobGraph before the
// savepoint it will restore exists, with a unique placeholder as the
// restore path; the driver puts the savepoint's location in its place when
// it submits the graph, without starting a JVM in the cut-over.
package javaser

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
)

// Stream constants (java.io.ObjectStreamConstants).
const (
	tcString     = 0x74
	tcLongString = 0x7C
	maxShortUTF  = 0xFFFF
)

// ReplaceString returns stream with the String object whose value is old
// replaced by one whose value is s. old must occur in stream exactly once,
// as a String object (TC_STRING, its length, its modified UTF-8 bytes);
// a unique placeholder does. Replacing a String object by another keeps
// the stream valid: strings are not in block data when written as objects,
// and a String, short or long, takes one handle either way.
func ReplaceString(stream []byte, old, s string) ([]byte, error) {
	oldUTF := modifiedUTF8(old)
	if len(oldUTF) == 0 || len(oldUTF) > maxShortUTF {
		return nil, errors.New("javaser: the placeholder must be a non-empty short string")
	}
	if n := bytes.Count(stream, oldUTF); n != 1 {
		return nil, fmt.Errorf("javaser: the placeholder occurs %d times in the stream, want once", n)
	}
	i := bytes.Index(stream, oldUTF)
	if i < 3 || stream[i-3] != tcString || int(binary.BigEndian.Uint16(stream[i-2:i])) != len(oldUTF) {
		return nil, errors.New("javaser: the placeholder is not a String object of the stream")
	}
	newUTF := modifiedUTF8(s)
	var head []byte
	if len(newUTF) <= maxShortUTF {
		head = []byte{tcString, 0, 0}
		binary.BigEndian.PutUint16(head[1:], uint16(len(newUTF)))
	} else {
		head = make([]byte, 9)
		head[0] = tcLongString
		binary.BigEndian.PutUint64(head[1:], uint64(len(newUTF)))
	}
	out := make([]byte, 0, len(stream)-len(oldUTF)-3+len(head)+len(newUTF))
	out = append(out, stream[:i-3]...)
	out = append(out, head...)
	out = append(out, newUTF...)
	return append(out, stream[i+len(oldUTF):]...), nil
}

// modifiedUTF8 encodes s as Java's DataOutput.writeUTF does: UTF-16 code
// units, U+0000 and U+0080..U+07FF in two bytes, U+0800..U+FFFF in three,
// so a supplementary character is two three-byte surrogates.
func modifiedUTF8(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		switch {
		case u >= 0x0001 && u <= 0x007F:
			b = append(b, byte(u))
		case u <= 0x07FF:
			b = append(b, byte(0xC0|u>>6), byte(0x80|u&0x3F))
		default:
			b = append(b, byte(0xE0|u>>12), byte(0x80|(u>>6)&0x3F), byte(0x80|u&0x3F))
		}
	}
	return b
}
