package classfile

import "encoding/binary"

// operandLen is the operand length of each fixed-size opcode; -1 marks
// variable-length (tableswitch, lookupswitch, wide) and -2 invalid opcodes.
var operandLen [256]int8

func init() {
	for i := range operandLen {
		operandLen[i] = -2
	}
	set := func(from, to int, n int8) {
		for i := from; i <= to; i++ {
			operandLen[i] = n
		}
	}
	set(0x00, 0x0f, 0)
	set(0x10, 0x10, 1) // bipush
	set(0x11, 0x11, 2) // sipush
	set(0x12, 0x12, 1) // ldc
	set(0x13, 0x14, 2) // ldc_w, ldc2_w
	set(0x15, 0x19, 1) // loads
	set(0x1a, 0x35, 0)
	set(0x36, 0x3a, 1) // stores
	set(0x3b, 0x83, 0)
	set(0x84, 0x84, 2) // iinc
	set(0x85, 0x98, 0)
	set(0x99, 0xa8, 2) // branches, goto, jsr
	set(0xa9, 0xa9, 1) // ret
	set(0xaa, 0xab, -1)
	set(0xac, 0xb1, 0)
	set(0xb2, 0xb8, 2) // field access, invokevirtual/special/static
	set(0xb9, 0xba, 4) // invokeinterface, invokedynamic
	set(0xbb, 0xbb, 2) // new
	set(0xbc, 0xbc, 1) // newarray
	set(0xbd, 0xbd, 2) // anewarray
	set(0xbe, 0xbf, 0)
	set(0xc0, 0xc1, 2) // checkcast, instanceof
	set(0xc2, 0xc3, 0)
	set(0xc4, 0xc4, -1) // wide
	set(0xc5, 0xc5, 3)  // multianewarray
	set(0xc6, 0xc7, 2)
	set(0xc8, 0xc9, 4)
}

// refOps are the opcodes whose first operand is a constant-pool index.
var refOps = func() (t [256]bool) {
	for _, op := range []int{0x12, 0x13, 0x14, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbd, 0xc0, 0xc1, 0xc5} {
		t[op] = true
	}
	return t
}()

// readCode reads a Code attribute body and records the constant-pool
// entries the bytecode uses in m.Refs.
func (c *Class) readCode(r *reader, m *Member) error {
	m.HasCode = true
	if _, err := r.bytes(4); err != nil { // max_stack, max_locals
		return err
	}
	n, err := r.u4()
	if err != nil {
		return err
	}
	if int64(n) > int64(r.remaining()) {
		return r.fail("code length %d exceeds attribute", n)
	}
	code, _ := r.bytes(int(n))
	// seen[idx] == stamp marks entries this method already recorded; the
	// slice is shared by the class's methods (one allocation per class).
	c.stamp++
	seen, stamp := c.seen, c.stamp
	add := func(idx uint16) {
		if seen[idx] == stamp {
			return
		}
		seen[idx] = stamp
		c.refs = append(c.refs, idx)
	}
	// The method's references go to the class's shared backing store.
	start := len(c.refs)
	defer func() {
		if refs := c.refs[start:len(c.refs):len(c.refs)]; len(m.Refs) == 0 {
			m.Refs = refs
		} else {
			m.Refs = append(m.Refs, refs...)
		}
	}()
	for pc := 0; pc < len(code); {
		op := code[pc]
		l := operandLen[op]
		switch {
		case l == -2:
			return r.fail("invalid opcode %#x at pc %d", op, pc)
		case l >= 0:
			if pc+1+int(l) > len(code) {
				return r.fail("truncated instruction at pc %d", pc)
			}
			if refOps[op] {
				var idx uint16
				if op == 0x12 {
					idx = uint16(code[pc+1])
				} else {
					idx = binary.BigEndian.Uint16(code[pc+1:])
				}
				if int(idx) >= len(c.Pool) || idx == 0 {
					return r.fail("constant index %d out of range at pc %d", idx, pc)
				}
				add(idx)
			}
			pc += 1 + int(l)
		case op == 0xc4: // wide
			if pc+1 >= len(code) {
				return r.fail("truncated wide at pc %d", pc)
			}
			if code[pc+1] == 0x84 {
				pc += 6
			} else {
				pc += 4
			}
			if pc > len(code) {
				return r.fail("truncated wide at pc %d", pc)
			}
		default: // tableswitch, lookupswitch
			p := pc + 1
			p += (4 - p%4) % 4 // padding to a multiple of 4 from the start of code
			if op == 0xaa {
				if p+12 > len(code) {
					return r.fail("truncated tableswitch at pc %d", pc)
				}
				low := int32(binary.BigEndian.Uint32(code[p+4:]))
				high := int32(binary.BigEndian.Uint32(code[p+8:]))
				cnt := int64(high) - int64(low) + 1
				if cnt < 0 || int64(p)+12+cnt*4 > int64(len(code)) {
					return r.fail("bad tableswitch at pc %d", pc)
				}
				pc = p + 12 + int(cnt)*4
			} else {
				if p+8 > len(code) {
					return r.fail("truncated lookupswitch at pc %d", pc)
				}
				npairs := int64(int32(binary.BigEndian.Uint32(code[p+4:])))
				if npairs < 0 || int64(p)+8+npairs*8 > int64(len(code)) {
					return r.fail("bad lookupswitch at pc %d", pc)
				}
				pc = p + 8 + int(npairs)*8
			}
		}
	}
	// Exception table: catch types.
	et, err := r.u2()
	if err != nil {
		return err
	}
	if int(et)*8 > r.remaining() {
		return r.fail("exception table length %d exceeds attribute", et)
	}
	for range int(et) {
		b, _ := r.bytes(8)
		if t := binary.BigEndian.Uint16(b[6:]); t != 0 {
			if int(t) >= len(c.Pool) {
				return r.fail("catch type %d out of range", t)
			}
			add(t)
		}
	}
	// Nested attributes (LineNumberTable, StackMapTable, ...) are skipped.
	return nil
}

// DescriptorClasses appends the class names named in a field or method
// descriptor (or an array class name) to dst. Array element classes are
// included; primitive types are not.
func DescriptorClasses(desc string, dst []string) []string {
	for i := 0; i < len(desc); i++ {
		if desc[i] != 'L' {
			continue
		}
		j := i + 1
		for j < len(desc) && desc[j] != ';' {
			j++
		}
		if j >= len(desc) {
			return dst
		}
		dst = append(dst, desc[i+1:j])
		i = j
	}
	return dst
}
