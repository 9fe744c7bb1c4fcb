// Package classfile parses Java class files (JVMS chapter 4) without a JVM.
//
// It reads what a binary-compatibility check needs: the constant pool (every
// tag kind up to Java 25), access flags, this/super/interfaces, fields and
// methods with their descriptors, runtime annotations, the bootstrap methods
// and, for each method, which constant-pool entries its bytecode uses.
//
// The parser is bounded: every count read from the input is checked against
// the bytes that remain before anything is allocated for it, so a hostile
// class file costs at most a small multiple of its own size. Malformed input
// returns an error wrapping ErrMalformed; Parse never panics.
package classfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"unicode/utf8"
)

// ErrMalformed is wrapped by every error about a malformed class file.
var ErrMalformed = errors.New("malformed class file")

// Constant-pool tags.
const (
	TagUtf8               = 1
	TagInteger            = 3
	TagFloat              = 4
	TagLong               = 5
	TagDouble             = 6
	TagClass              = 7
	TagString             = 8
	TagFieldref           = 9
	TagMethodref          = 10
	TagInterfaceMethodref = 11
	TagNameAndType        = 12
	TagMethodHandle       = 15
	TagMethodType         = 16
	TagDynamic            = 17
	TagInvokeDynamic      = 18
	TagModule             = 19
	TagPackage            = 20
)

// Access flags used by callers.
const (
	AccPublic     = 0x0001
	AccPrivate    = 0x0002
	AccProtected  = 0x0004
	AccStatic     = 0x0008
	AccFinal      = 0x0010
	AccInterface  = 0x0200
	AccAbstract   = 0x0400
	AccSynthetic  = 0x1000
	AccAnnotation = 0x2000
	AccEnum       = 0x4000
	AccModule     = 0x8000
)

// Limits guarding against hostile input.
const (
	// MaxAnnotationDepth bounds nested annotation element values.
	MaxAnnotationDepth = 32
)

// Constant is one constant-pool entry. A and B are the entry's u2 operands
// (class/name/descriptor/bootstrap indexes); for MethodHandle A is the
// reference kind and B the reference index. The text of a Utf8 entry is
// decoded on first use by Pool.Utf8 (most entries of a class are never
// needed).
type Constant struct {
	Tag uint8
	A   uint16
	B   uint16
	str string
	raw []byte // Utf8 bytes, aliasing the class file
}

// Pool is a constant pool; index 0 and the slot after a Long/Double are
// zero-valued.
type Pool []Constant

// Member is a field or a method.
type Member struct {
	Access     uint16
	Name       string
	Descriptor string
	// Annotations are the type descriptors of the member's runtime-visible
	// annotations, including parameter annotations and types used inside
	// annotation values (enum and class values, nested annotations).
	Annotations []string
	// InvisibleAnnotations are those of RuntimeInvisible*Annotations
	// (CLASS retention: never seen at run time).
	InvisibleAnnotations []string
	// Exceptions are the class names of a method's throws clause.
	Exceptions []string
	// Refs are the constant-pool indexes the method's bytecode uses:
	// Class, Fieldref, Methodref, InterfaceMethodref, InvokeDynamic, Dynamic,
	// MethodHandle, MethodType and String entries, plus exception-table catch
	// types. Each index appears once, in order of first use.
	Refs []uint16
	// HasCode reports a Code attribute.
	HasCode bool
}

// BootstrapMethod is one entry of the BootstrapMethods attribute.
type BootstrapMethod struct {
	Ref  uint16   // MethodHandle index
	Args []uint16 // constant-pool indexes
}

// Class is a parsed class file.
type Class struct {
	Minor, Major uint16
	Access       uint16
	Name         string // internal form, e.g. org/apache/flink/api/common/JobID
	Super        string // "" for java/lang/Object and module-info
	Interfaces   []string
	Fields       []Member
	Methods      []Member
	Pool         Pool
	// Annotations are the class's annotation type descriptors (see Member).
	Annotations []string
	// InvisibleAnnotations are those of RuntimeInvisible*Annotations
	// (CLASS retention: never seen at run time).
	InvisibleAnnotations []string
	Bootstrap            []BootstrapMethod
	// Signature is the generic signature, if present.
	Signature string
	// CodeSkipped reports that the methods' bytecode was not read
	// (Parser.SkipCode, Parser.CodeIf).
	CodeSkipped bool

	seen  []uint32 // readCode's per-method deduplication
	stamp uint32
	refs  []uint16 // backing store of the methods' Refs
	ps    *Parser
}

type reader struct {
	b   []byte
	off int
}

func (r *reader) fail(format string, args ...any) error {
	return fmt.Errorf("%w: at offset %d: %s", ErrMalformed, r.off, fmt.Sprintf(format, args...))
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) u1() (uint8, error) {
	if r.off+1 > len(r.b) {
		return 0, r.fail("unexpected end of data")
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}

func (r *reader) u2() (uint16, error) {
	if r.off+2 > len(r.b) {
		return 0, r.fail("unexpected end of data")
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v, nil
}

func (r *reader) u4() (uint32, error) {
	if r.off+4 > len(r.b) {
		return 0, r.fail("unexpected end of data")
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}

func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 || n > r.remaining() {
		return nil, r.fail("length %d exceeds remaining %d bytes", n, r.remaining())
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v, nil
}

// Magic is the class-file magic number.
const Magic = 0xCAFEBABE

// Parse parses a class file. Errors wrap ErrMalformed.
func Parse(b []byte) (*Class, error) {
	return new(Parser).Parse(b)
}

// Parser parses class files reusing its buffers: the Class returned by Parse
// (and b, which its constant pool aliases) must not be used after the next
// call. A Parser is not safe for concurrent use.
type Parser struct {
	// SkipCode skips the bytecode of Code attributes: methods then have
	// HasCode set and no Refs, and the bytecode is neither walked nor
	// validated.
	SkipCode bool
	// CodeIf, when set, skips the bytecode (like SkipCode) of a class none
	// of whose Utf8 constants it returns true for (Class.CodeSkipped).
	CodeIf func(utf8 []byte) bool

	pool            Pool
	seen            []uint32
	refs            []uint16
	fields, methods []Member
	// strs is a direct-mapped cache of short ASCII strings (member names
	// and descriptors, class names) already decoded, shared by the classes
	// the Parser parses: most recur from class to class.
	strs *[1 << internBits]string
}

// Interning: strings up to maxInternLen bytes, in a cache of 1<<internBits
// slots indexed by a hash of the bytes.
const (
	maxInternLen = 96
	internBits   = 13
)

var internSeed = maphash.MakeSeed()

// utf8 is Pool.Utf8, sharing short ASCII strings through the Parser.
func (c *Class) utf8(i uint16) (string, error) {
	p := c.Pool
	if c.ps == nil || int(i) >= len(p) || i == 0 || p[i].Tag != TagUtf8 || p[i].raw == nil || len(p[i].raw) > maxInternLen {
		return p.Utf8(i)
	}
	e := &p[i]
	for _, b := range e.raw {
		if b == 0 || b >= 0x80 {
			return p.Utf8(i)
		}
	}
	if c.ps.strs == nil {
		c.ps.strs = new([1 << internBits]string)
	}
	slot := &c.ps.strs[maphash.Bytes(internSeed, e.raw)&(1<<internBits-1)]
	if *slot != string(e.raw) {
		*slot = string(e.raw)
	}
	e.str, e.raw = *slot, nil
	return e.str, nil
}

// RawASCII returns the bytes of Utf8 entry i when it is not decoded yet and
// plain ASCII (its text is then exactly those bytes), to test it without
// decoding; ok is false otherwise. The bytes alias the class file.
func (c *Class) RawASCII(i uint16) (b []byte, ok bool) {
	p := c.Pool
	if int(i) >= len(p) || i == 0 || p[i].Tag != TagUtf8 || p[i].raw == nil {
		return nil, false
	}
	for _, x := range p[i].raw {
		if x == 0 || x >= 0x80 {
			return nil, false
		}
	}
	return p[i].raw, true
}

// Utf8 is Pool.Utf8 for the class's pool; classes of a Parser share
// repeated short strings.
func (c *Class) Utf8(i uint16) (string, error) { return c.utf8(i) }

// MemberRef is Pool.MemberRef for the class's pool, sharing strings like
// Utf8.
func (c *Class) MemberRef(i uint16) (owner, name, desc string, err error) {
	p := c.Pool
	if int(i) >= len(p) || i == 0 {
		return p.MemberRef(i)
	}
	switch p[i].Tag {
	case TagFieldref, TagMethodref, TagInterfaceMethodref:
	default:
		return p.MemberRef(i)
	}
	if owner, err = c.className(p[i].A); err != nil {
		return "", "", "", err
	}
	nt := p[i].B
	if int(nt) >= len(p) || nt == 0 || p[nt].Tag != TagNameAndType {
		_, _, err = p.NameAndType(nt)
		return "", "", "", err
	}
	if name, err = c.utf8(p[nt].A); err != nil {
		return "", "", "", err
	}
	desc, err = c.utf8(p[nt].B)
	return owner, name, desc, err
}

// className is Pool.ClassName through utf8.
func (c *Class) className(i uint16) (string, error) {
	if int(i) >= len(c.Pool) || i == 0 || c.Pool[i].Tag != TagClass {
		return c.Pool.ClassName(i)
	}
	return c.utf8(c.Pool[i].A)
}

// Parse parses a class file. Errors wrap ErrMalformed.
func (ps *Parser) Parse(b []byte) (*Class, error) {
	c := &Class{refs: ps.refs[:0], ps: ps}
	defer func() { ps.refs = c.refs[:0] }()
	if err := c.parse(b, ps); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Class) parse(b []byte, ps *Parser) error {
	r := &reader{b: b}
	magic, err := r.u4()
	if err != nil {
		return err
	}
	if magic != Magic {
		return fmt.Errorf("%w: bad magic %#x", ErrMalformed, magic)
	}
	if c.Minor, err = r.u2(); err != nil {
		return err
	}
	if c.Major, err = r.u2(); err != nil {
		return err
	}
	if err := c.readPool(r, ps); err != nil {
		return err
	}
	c.CodeSkipped = ps.SkipCode
	if f := ps.CodeIf; f != nil && !c.CodeSkipped {
		c.CodeSkipped = true
		for i := range c.Pool {
			if e := &c.Pool[i]; e.Tag == TagUtf8 && f(e.raw) {
				c.CodeSkipped = false
				break
			}
		}
	}
	if c.Access, err = r.u2(); err != nil {
		return err
	}
	this, err := r.u2()
	if err != nil {
		return err
	}
	if c.Name, err = c.className(this); err != nil {
		return fmt.Errorf("this_class: %w", err)
	}
	super, err := r.u2()
	if err != nil {
		return err
	}
	if super != 0 {
		if c.Super, err = c.className(super); err != nil {
			return fmt.Errorf("super_class: %w", err)
		}
	}
	n, err := r.u2()
	if err != nil {
		return err
	}
	if int(n)*2 > r.remaining() {
		return r.fail("interfaces count %d exceeds input", n)
	}
	c.Interfaces = make([]string, n)
	for i := range c.Interfaces {
		idx, _ := r.u2()
		if c.Interfaces[i], err = c.className(idx); err != nil {
			return fmt.Errorf("interface %d: %w", i, err)
		}
	}
	if c.Fields, err = c.readMembers(r, false); err != nil {
		return err
	}
	if c.Methods, err = c.readMembers(r, true); err != nil {
		return err
	}
	if err := c.readAttributes(r, nil); err != nil {
		return err
	}
	return nil
}

func (c *Class) readPool(r *reader, ps *Parser) error {
	count, err := r.u2()
	if err != nil {
		return err
	}
	if count == 0 {
		return r.fail("constant pool count 0")
	}
	// Every entry takes at least 3 bytes: reject counts the input cannot hold
	// before allocating.
	if (int(count)-1)*3 > r.remaining() {
		return r.fail("constant pool count %d exceeds input", count)
	}
	if cap(ps.pool) >= int(count) {
		c.Pool = ps.pool[:count]
		clear(c.Pool)
	} else {
		c.Pool = make(Pool, count)
		ps.pool = c.Pool
	}
	if cap(ps.seen) >= int(count) {
		c.seen = ps.seen[:count]
		clear(c.seen)
	} else {
		c.seen = make([]uint32, count)
		ps.seen = c.seen
	}
	for i := 1; i < int(count); i++ {
		tag, err := r.u1()
		if err != nil {
			return err
		}
		e := &c.Pool[i]
		e.Tag = tag
		switch tag {
		case TagUtf8:
			n, err := r.u2()
			if err != nil {
				return err
			}
			s, err := r.bytes(int(n))
			if err != nil {
				return err
			}
			e.raw = s
		case TagInteger, TagFloat:
			if _, err := r.bytes(4); err != nil {
				return err
			}
		case TagLong, TagDouble:
			if _, err := r.bytes(8); err != nil {
				return err
			}
			i++ // takes two slots
		case TagClass, TagString, TagMethodType, TagModule, TagPackage:
			if e.A, err = r.u2(); err != nil {
				return err
			}
		case TagFieldref, TagMethodref, TagInterfaceMethodref, TagNameAndType, TagDynamic, TagInvokeDynamic:
			if e.A, err = r.u2(); err != nil {
				return err
			}
			if e.B, err = r.u2(); err != nil {
				return err
			}
		case TagMethodHandle:
			k, err := r.u1()
			if err != nil {
				return err
			}
			e.A = uint16(k)
			if e.B, err = r.u2(); err != nil {
				return err
			}
		default:
			return r.fail("constant %d: unknown tag %d", i, tag)
		}
	}
	return nil
}

// decodeModifiedUTF8 decodes Java's modified UTF-8. Plain ASCII (the common
// case) is converted directly.
func decodeModifiedUTF8(b []byte) string {
	ascii := true
	for _, c := range b {
		if c == 0 || c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < 0x80:
			sb.WriteByte(c)
			i++
		case c&0xE0 == 0xC0 && i+1 < len(b):
			r := rune(c&0x1F)<<6 | rune(b[i+1]&0x3F)
			sb.WriteRune(r)
			i += 2
		case c&0xF0 == 0xE0 && i+2 < len(b):
			r := rune(c&0x0F)<<12 | rune(b[i+1]&0x3F)<<6 | rune(b[i+2]&0x3F)
			i += 3
			// Surrogate pairs are encoded as two 3-byte sequences.
			if r >= 0xD800 && r < 0xDC00 && i+2 < len(b) && b[i]&0xF0 == 0xE0 {
				r2 := rune(b[i]&0x0F)<<12 | rune(b[i+1]&0x3F)<<6 | rune(b[i+2]&0x3F)
				if r2 >= 0xDC00 && r2 < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					i += 3
				}
			}
			sb.WriteRune(r)
		default:
			sb.WriteRune(utf8.RuneError)
			i++
		}
	}
	return sb.String()
}

// Utf8 returns the text of Utf8 entry i. Not safe for concurrent use (the
// text is decoded and cached on first use).
func (p Pool) Utf8(i uint16) (string, error) {
	if int(i) >= len(p) || i == 0 || p[i].Tag != TagUtf8 {
		return "", fmt.Errorf("%w: constant %d is not Utf8", ErrMalformed, i)
	}
	e := &p[i]
	if e.raw != nil {
		e.str = decodeModifiedUTF8(e.raw)
		e.raw = nil
	}
	return e.str, nil
}

// attrName returns the name of an attribute readAttributes reads, "" for
// the others (compared without converting the key to a string).
func attrName(key []byte) string {
	switch string(key) {
	case "Code":
		return "Code"
	case "RuntimeVisibleAnnotations":
		return "RuntimeVisibleAnnotations"
	case "RuntimeInvisibleAnnotations":
		return "RuntimeInvisibleAnnotations"
	case "RuntimeVisibleParameterAnnotations":
		return "RuntimeVisibleParameterAnnotations"
	case "RuntimeInvisibleParameterAnnotations":
		return "RuntimeInvisibleParameterAnnotations"
	case "Exceptions":
		return "Exceptions"
	case "BootstrapMethods":
		return "BootstrapMethods"
	case "Signature":
		return "Signature"
	}
	return ""
}

// utf8Key returns the text of Utf8 entry i as bytes for a comparison,
// without decoding (and allocating) when the entry is plain ASCII.
func (p Pool) utf8Key(i uint16) ([]byte, error) {
	if int(i) < len(p) && i != 0 && p[i].Tag == TagUtf8 && p[i].raw != nil {
		ascii := true
		for _, c := range p[i].raw {
			if c == 0 || c >= 0x80 {
				ascii = false
				break
			}
		}
		if ascii {
			return p[i].raw, nil
		}
	}
	s, err := p.Utf8(i)
	return []byte(s), err
}

// ClassName returns the internal name of Class entry i.
func (p Pool) ClassName(i uint16) (string, error) {
	if int(i) >= len(p) || i == 0 || p[i].Tag != TagClass {
		return "", fmt.Errorf("%w: constant %d is not Class", ErrMalformed, i)
	}
	return p.Utf8(p[i].A)
}

// NameAndType returns the name and descriptor of NameAndType entry i.
func (p Pool) NameAndType(i uint16) (name, desc string, err error) {
	if int(i) >= len(p) || i == 0 || p[i].Tag != TagNameAndType {
		return "", "", fmt.Errorf("%w: constant %d is not NameAndType", ErrMalformed, i)
	}
	if name, err = p.Utf8(p[i].A); err != nil {
		return "", "", err
	}
	desc, err = p.Utf8(p[i].B)
	return name, desc, err
}

// MemberRef returns owner, name and descriptor of a Fieldref, Methodref or
// InterfaceMethodref entry.
func (p Pool) MemberRef(i uint16) (owner, name, desc string, err error) {
	if int(i) >= len(p) || i == 0 {
		return "", "", "", fmt.Errorf("%w: constant %d out of range", ErrMalformed, i)
	}
	switch p[i].Tag {
	case TagFieldref, TagMethodref, TagInterfaceMethodref:
	default:
		return "", "", "", fmt.Errorf("%w: constant %d is not a member reference", ErrMalformed, i)
	}
	if owner, err = p.ClassName(p[i].A); err != nil {
		return "", "", "", err
	}
	name, desc, err = p.NameAndType(p[i].B)
	return owner, name, desc, err
}

func (c *Class) readMembers(r *reader, methods bool) ([]Member, error) {
	n, err := r.u2()
	if err != nil {
		return nil, err
	}
	// Each member takes at least 8 bytes.
	if int(n)*8 > r.remaining() {
		return nil, r.fail("member count %d exceeds input", n)
	}
	var ms []Member
	if ps := c.ps; ps != nil {
		// The Parser's member buffers: valid until its next Parse, like
		// the rest of the Class.
		buf := &ps.fields
		if methods {
			buf = &ps.methods
		}
		if cap(*buf) < int(n) {
			*buf = make([]Member, n)
		}
		ms = (*buf)[:n]
		for i := range ms {
			m := &ms[i]
			*m = Member{Annotations: m.Annotations[:0], InvisibleAnnotations: m.InvisibleAnnotations[:0], Exceptions: m.Exceptions[:0]}
		}
	} else {
		ms = make([]Member, n)
	}
	for i := range ms {
		m := &ms[i]
		if m.Access, err = r.u2(); err != nil {
			return nil, err
		}
		ni, _ := r.u2()
		di, err := r.u2()
		if err != nil {
			return nil, err
		}
		if m.Name, err = c.utf8(ni); err != nil {
			return nil, err
		}
		if m.Descriptor, err = c.utf8(di); err != nil {
			return nil, err
		}
		if err := c.readAttributes(r, m); err != nil {
			return nil, err
		}
	}
	return ms, nil
}

// readAttributes reads an attribute table of the class (m == nil) or of a
// member.
func (c *Class) readAttributes(r *reader, m *Member) error {
	n, err := r.u2()
	if err != nil {
		return err
	}
	if int(n)*6 > r.remaining() {
		return r.fail("attribute count %d exceeds input", n)
	}
	for range int(n) {
		ni, _ := r.u2()
		l, err := r.u4()
		if err != nil {
			return err
		}
		if int64(l) > int64(r.remaining()) {
			return r.fail("attribute length %d exceeds input", l)
		}
		body, _ := r.bytes(int(l))
		key, err := c.Pool.utf8Key(ni)
		if err != nil {
			return err
		}
		name := attrName(key) // "" for attributes not read
		ar := &reader{b: body}
		switch name {
		case "Code":
			if m == nil {
				return r.fail("Code attribute on class")
			}
			if c.CodeSkipped {
				m.HasCode = true
				continue
			}
			if err := c.readCode(ar, m); err != nil {
				return fmt.Errorf("method %s%s: %w", m.Name, m.Descriptor, err)
			}
		case "RuntimeVisibleAnnotations", "RuntimeInvisibleAnnotations":
			types, err := c.readAnnotations(ar, nil)
			if err != nil {
				return err
			}
			switch {
			case name == "RuntimeInvisibleAnnotations" && m == nil:
				c.InvisibleAnnotations = append(c.InvisibleAnnotations, types...)
			case name == "RuntimeInvisibleAnnotations":
				m.InvisibleAnnotations = append(m.InvisibleAnnotations, types...)
			case m == nil:
				c.Annotations = append(c.Annotations, types...)
			default:
				m.Annotations = append(m.Annotations, types...)
			}
		case "RuntimeVisibleParameterAnnotations", "RuntimeInvisibleParameterAnnotations":
			np, err := ar.u1()
			if err != nil {
				return err
			}
			var types []string
			for range int(np) {
				if types, err = c.readAnnotations(ar, types); err != nil {
					return err
				}
			}
			if m != nil && name == "RuntimeVisibleParameterAnnotations" {
				m.Annotations = append(m.Annotations, types...)
			} else if m != nil {
				m.InvisibleAnnotations = append(m.InvisibleAnnotations, types...)
			}
		case "Exceptions":
			if m == nil {
				continue
			}
			k, err := ar.u2()
			if err != nil {
				return err
			}
			if int(k)*2 > ar.remaining() {
				return ar.fail("exceptions count %d exceeds attribute", k)
			}
			for range int(k) {
				idx, _ := ar.u2()
				s, err := c.className(idx)
				if err != nil {
					return err
				}
				m.Exceptions = append(m.Exceptions, s)
			}
		case "BootstrapMethods":
			if m != nil {
				continue
			}
			k, err := ar.u2()
			if err != nil {
				return err
			}
			if int(k)*4 > ar.remaining() {
				return ar.fail("bootstrap count %d exceeds attribute", k)
			}
			c.Bootstrap = make([]BootstrapMethod, k)
			for i := range c.Bootstrap {
				ref, _ := ar.u2()
				na, err := ar.u2()
				if err != nil {
					return err
				}
				if int(na)*2 > ar.remaining() {
					return ar.fail("bootstrap argument count %d exceeds attribute", na)
				}
				args := make([]uint16, na)
				for j := range args {
					args[j], _ = ar.u2()
				}
				c.Bootstrap[i] = BootstrapMethod{Ref: ref, Args: args}
			}
		case "Signature":
			if m != nil {
				continue
			}
			idx, err := ar.u2()
			if err != nil {
				return err
			}
			if c.Signature, err = c.utf8(idx); err != nil {
				return err
			}
		}
	}
	return nil
}

// readAnnotations reads a u2 count followed by annotations, appending the
// types they use to types.
func (c *Class) readAnnotations(r *reader, types []string) ([]string, error) {
	n, err := r.u2()
	if err != nil {
		return types, err
	}
	if int(n)*4 > r.remaining() {
		return types, r.fail("annotation count %d exceeds attribute", n)
	}
	for range int(n) {
		if types, err = c.readAnnotation(r, types, 0); err != nil {
			return types, err
		}
	}
	return types, nil
}

func (c *Class) readAnnotation(r *reader, types []string, depth int) ([]string, error) {
	if depth > MaxAnnotationDepth {
		return types, r.fail("annotations nested deeper than %d", MaxAnnotationDepth)
	}
	ti, err := r.u2()
	if err != nil {
		return types, err
	}
	t, err := c.utf8(ti)
	if err != nil {
		return types, err
	}
	types = append(types, t)
	n, err := r.u2()
	if err != nil {
		return types, err
	}
	if int(n)*3 > r.remaining() {
		return types, r.fail("element count %d exceeds attribute", n)
	}
	for range int(n) {
		if _, err := r.u2(); err != nil {
			return types, err
		}
		if types, err = c.readElementValue(r, types, depth+1); err != nil {
			return types, err
		}
	}
	return types, nil
}

func (c *Class) readElementValue(r *reader, types []string, depth int) ([]string, error) {
	if depth > MaxAnnotationDepth {
		return types, r.fail("annotation values nested deeper than %d", MaxAnnotationDepth)
	}
	tag, err := r.u1()
	if err != nil {
		return types, err
	}
	switch tag {
	case 'B', 'C', 'D', 'F', 'I', 'J', 'S', 'Z', 's':
		_, err = r.u2()
	case 'e':
		ti, err := r.u2()
		if err != nil {
			return types, err
		}
		if _, err = r.u2(); err != nil {
			return types, err
		}
		t, err := c.utf8(ti)
		if err != nil {
			return types, err
		}
		types = append(types, t)
	case 'c':
		ci, err := r.u2()
		if err != nil {
			return types, err
		}
		t, err := c.utf8(ci)
		if err != nil {
			return types, err
		}
		types = append(types, t)
	case '@':
		return c.readAnnotation(r, types, depth+1)
	case '[':
		n, err := r.u2()
		if err != nil {
			return types, err
		}
		if int(n)*3 > r.remaining() {
			return types, r.fail("array length %d exceeds attribute", n)
		}
		for range int(n) {
			if types, err = c.readElementValue(r, types, depth+1); err != nil {
				return types, err
			}
		}
	default:
		return types, r.fail("unknown element value tag %q", tag)
	}
	return types, err
}
