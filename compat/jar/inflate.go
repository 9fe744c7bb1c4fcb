package jar

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"sync"
)

// errSize reports deflated data whose length differs from the declared size.
var errSize = errors.New("inflated size differs from the declared size")

// errCorrupt reports a deflate stream the fast inflater cannot decode.
var errCorrupt = errors.New("corrupt deflate stream")

// inflate decompresses the raw deflate stream src into dst, which must come
// out exactly len(dst) bytes long. It decodes with a whole-buffer inflater
// (the input is in memory and the output size is known, so it decodes
// straight into dst with a 64-bit bit buffer: about twice as fast as
// compress/flate); a stream that inflater rejects is decoded again by
// compress/flate, whose verdict (and error) then counts.
func inflate(src, dst []byte) error {
	if fastInflate(src, dst) == nil {
		return nil
	}
	return stdInflate(src, dst)
}

// flateReaders holds reusable compress/flate decompressors.
var flateReaders sync.Pool

// stdInflate is inflate with compress/flate.
func stdInflate(src, dst []byte) error {
	br := bytes.NewReader(src)
	fr, _ := flateReaders.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(br)
	} else if err := fr.(flate.Resetter).Reset(br, nil); err != nil {
		return err
	}
	defer flateReaders.Put(fr)
	if _, err := io.ReadFull(fr, dst); err != nil {
		if err == io.EOF {
			err = errSize
		}
		return err
	}
	// The stream must end here.
	var one [1]byte
	if n, err := fr.Read(one[:]); n != 0 || err != io.EOF {
		if err == nil || n != 0 {
			err = errSize
		}
		return err
	}
	return nil
}

// Table sizes: bits resolved by one lookup of the literal/length, the
// distance and the code-length tables.
const (
	litBits  = 10
	distBits = 8
	clBits   = 7  // code-length codes are at most 7 bits long
	maxBits  = 15 // longest deflate code
)

// A table entry (uint32) describes the symbol a bit pattern starts with:
//
//	bits 0-3   code length (0: the pattern needs the bit-by-bit path)
//	bits 4-7   extra bits that follow the code (lengths and distances)
//	bit  8     literal; bit 9 end of block; bit 10 invalid symbol
//	bits 16-31 literal byte, base length or base distance
//
// so that one lookup yields everything the decoder needs for the symbol.
const (
	entLiteral = 1 << 8
	entEnd     = 1 << 9
	entInvalid = 1 << 10
)

// litEntries, distEntries and clEntries map a symbol to its table entry
// (without the code length).
var litEntries, distEntries, clEntries [320]uint32

func init() {
	for s := range litEntries {
		switch {
		case s < 256:
			litEntries[s] = uint32(s)<<16 | entLiteral
		case s == 256:
			litEntries[s] = entEnd
		case s < 257+29:
			litEntries[s] = uint32(lenBase[s-257])<<16 | uint32(lenExtra[s-257])<<4
		default:
			litEntries[s] = entInvalid
		}
	}
	for s := range distEntries {
		if s < 30 {
			distEntries[s] = uint32(distBase[s])<<16 | uint32(distExtr[s])<<4
		} else {
			distEntries[s] = entInvalid
		}
	}
	for s := range clEntries {
		clEntries[s] = uint32(s) << 16
	}
}

// huffman is a canonical Huffman code (RFC 1951 3.2.2). table maps the
// next tbits input bits (least significant first) to the entry of the
// symbol they start with, for codes up to tbits long; an entry with code
// length 0 sends the decoder to the bit-by-bit path (longer codes, or bits
// that are no code at all).
type huffman struct {
	table   [1 << litBits]uint32
	tbits   uint
	entries *[320]uint32
	count   [maxBits + 1]uint16
	symbol  [320]uint16
}

// init builds the code from the code lengths with a table of tbits bits
// and the symbol entries ents; false if oversubscribed. Incomplete codes
// are accepted: their unused bit patterns fail to decode.
func (h *huffman) init(lengths []uint8, tbits uint, ents *[320]uint32) bool {
	h.count = [maxBits + 1]uint16{}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l <= maxBits; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return false
		}
	}
	var offs [maxBits + 2]uint16
	for l := 1; l <= maxBits; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for s, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = uint16(s)
			offs[l]++
		}
	}
	h.tbits, h.entries = tbits, ents
	t := h.table[:1<<tbits]
	if left != 0 {
		// Incomplete: patterns of no code stay 0 (fail in the slow path).
		clear(t)
	}
	code, idx := 0, 0
	for l := 1; l <= maxBits; l++ {
		for range int(h.count[l]) {
			r := int(bits.Reverse16(uint16(code)) >> (16 - l))
			if l <= int(tbits) {
				e := ents[h.symbol[idx]] | uint32(l)
				for j := r; j < len(t); j += 1 << l {
					t[j] = e
				}
			} else {
				// A longer code: its first tbits bits go the slow way.
				t[r&(len(t)-1)] = 0
			}
			idx++
			code++
		}
		code <<= 1
	}
	return true
}

// slow decodes a symbol bit by bit from b (next bit lowest); it returns
// the symbol's entry with its code length, or 0 when b starts no code.
func (h *huffman) slow(b uint64) uint32 {
	code, first, index := 0, 0, 0
	for l := 1; l <= maxBits; l++ {
		code |= int(b>>(l-1)) & 1
		c := int(h.count[l])
		if code-c < first {
			return h.entries[h.symbol[index+code-first]] | uint32(l)
		}
		index += c
		first = (first + c) << 1
		code <<= 1
	}
	return 0
}

var (
	lenBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtr = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// order of the code length code lengths (RFC 1951 3.2.7)
	clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	fixedOnce          sync.Once
	fixedLit, fixedDst huffman
)

func fixedCodes() {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	fixedLit.init(l[:], litBits, &litEntries)
	var d [30]uint8
	for i := range d {
		d[i] = 5
	}
	fixedDst.init(d[:], distBits, &distEntries)
}

// inflater is the state of one fastInflate call.
type inflater struct {
	src  []byte
	pos  int
	bits uint64 // next input bits, least significant first
	nb   int    // valid bits in bits; negative after reading past the end
	lit  huffman
	dist huffman
	cl   huffman // code-length code of a dynamic block
}

var inflaters = sync.Pool{New: func() any { return new(inflater) }}

// refill tops the bit buffer up to at least 56 bits while input remains.
func (f *inflater) refill() {
	if f.pos+8 <= len(f.src) {
		f.bits |= binary.LittleEndian.Uint64(f.src[f.pos:]) << uint(f.nb)
		f.pos += (63 - f.nb) >> 3
		f.nb |= 56
		return
	}
	for f.nb <= 56 && f.pos < len(f.src) {
		f.bits |= uint64(f.src[f.pos]) << uint(f.nb)
		f.pos++
		f.nb += 8
	}
}

// take consumes and returns n (≤ 32) bits; the caller checks f.nb >= 0.
func (f *inflater) take(n uint) uint32 {
	v := uint32(f.bits & (1<<n - 1))
	f.bits >>= n
	f.nb -= int(n)
	return v
}

// fastInflate decodes the raw deflate stream src into exactly dst.
func fastInflate(src, dst []byte) error {
	fixedOnce.Do(fixedCodes)
	f := inflaters.Get().(*inflater)
	defer inflaters.Put(f)
	f.src, f.pos, f.bits, f.nb = src, 0, 0, 0
	defer func() { f.src = nil }()
	op := 0
	for {
		f.refill()
		final := f.take(1)
		typ := f.take(2)
		if f.nb < 0 {
			return errCorrupt
		}
		lit, dist := &fixedLit, &fixedDst
		switch typ {
		case 0: // stored
			f.take(uint(f.nb & 7))
			f.pos -= f.nb >> 3 // give back the whole bytes still buffered
			f.bits, f.nb = 0, 0
			if f.pos+4 > len(src) {
				return errCorrupt
			}
			n := int(binary.LittleEndian.Uint16(src[f.pos:]))
			if uint16(n) != ^binary.LittleEndian.Uint16(src[f.pos+2:]) {
				return errCorrupt
			}
			f.pos += 4
			if f.pos+n > len(src) {
				return errCorrupt
			}
			if op+n > len(dst) {
				return errSize
			}
			op += copy(dst[op:], src[f.pos:f.pos+n])
			f.pos += n
		case 1:
		case 2:
			if err := f.dynamic(); err != nil {
				return err
			}
			lit, dist = &f.lit, &f.dist
		default:
			return errCorrupt
		}
		if typ != 0 {
			var err error
			if op, err = f.block(dst, op, lit, dist); err != nil {
				return err
			}
		}
		if final == 1 {
			break
		}
	}
	if op != len(dst) {
		return errSize
	}
	return nil
}

// decode reads one symbol of h; the caller has refilled and checks f.nb.
func (f *inflater) decode(h *huffman) (uint16, bool) {
	e := h.table[f.bits&(1<<h.tbits-1)]
	if e&15 == 0 {
		if e = h.slow(f.bits); e == 0 {
			return 0, false
		}
	}
	n := uint(e & 15)
	f.bits >>= n
	f.nb -= int(n)
	return uint16(e >> 16), true
}

// block decodes one Huffman-coded block into dst from op. The bit buffer
// lives in locals in the loop (written back on return). After a refill
// (at least 56 bits) a whole match fits (15+5+15+13 = 48 bits), and after
// a literal (at most 15 bits) up to two more literals are taken without
// refilling. Matches are copied eight bytes at a time when they do not
// overlap within a word and end at least eight bytes before dst does.
func (f *inflater) block(dst []byte, op int, lit, dist *huffman) (int, error) {
	src, pos, bitbuf, nb := f.src, f.pos, f.bits, f.nb
	defer func() { f.pos, f.bits, f.nb = pos, bitbuf, nb }()
	lt, dt := lit.table[:1<<litBits], dist.table[:1<<distBits]
	if lit.tbits != litBits || dist.tbits != distBits {
		return op, errCorrupt
	}
	for {
		if nb < 48 {
			if pos+8 <= len(src) {
				bitbuf |= binary.LittleEndian.Uint64(src[pos:]) << uint(nb)
				pos += (63 - nb) >> 3
				nb |= 56
			} else {
				for nb <= 56 && pos < len(src) {
					bitbuf |= uint64(src[pos]) << uint(nb)
					pos++
					nb += 8
				}
			}
		}
		e := lt[bitbuf&(1<<litBits-1)]
		if e&15 == 0 {
			if e = lit.slow(bitbuf); e == 0 {
				return op, errCorrupt
			}
		}
		n := uint(e & 15)
		bitbuf >>= n
		nb -= int(n)
		if nb < 0 {
			return op, errCorrupt
		}
		if e&entLiteral != 0 {
			if op >= len(dst) {
				return op, errSize
			}
			dst[op] = byte(e >> 16)
			op++
			// Up to two more literals from the bits at hand.
			for range 2 {
				if nb < maxBits {
					break
				}
				e = lt[bitbuf&(1<<litBits-1)]
				if e&entLiteral == 0 || e&15 == 0 {
					break
				}
				if op >= len(dst) {
					return op, errSize
				}
				n = uint(e & 15)
				bitbuf >>= n
				nb -= int(n)
				dst[op] = byte(e >> 16)
				op++
			}
			continue
		}
		if e&(entEnd|entInvalid) != 0 {
			if e&entEnd != 0 {
				return op, nil
			}
			return op, errCorrupt
		}
		n = uint(e>>4) & 15
		length := int(e>>16) + int(bitbuf&(1<<n-1))
		bitbuf >>= n
		nb -= int(n)
		e = dt[bitbuf&(1<<distBits-1)]
		if e&15 == 0 {
			if e = dist.slow(bitbuf); e == 0 {
				return op, errCorrupt
			}
		}
		if e&entInvalid != 0 {
			return op, errCorrupt
		}
		n = uint(e & 15)
		bitbuf >>= n
		nb -= int(n)
		n = uint(e>>4) & 15
		d := int(e>>16) + int(bitbuf&(1<<n-1))
		bitbuf >>= n
		nb -= int(n)
		if nb < 0 || d > op {
			return op, errCorrupt
		}
		end := op + length
		if end > len(dst) {
			return op, errSize
		}
		switch {
		case d >= 8 && end+8 <= len(dst):
			// Each word reads bytes already written (d >= 8); the last
			// one may write up to 7 bytes past end, which later output
			// overwrites.
			for s := op - d; op < end; op, s = op+8, s+8 {
				binary.LittleEndian.PutUint64(dst[op:], binary.LittleEndian.Uint64(dst[s:]))
			}
			op = end
		case d == 1:
			b := dst[op-1]
			for ; op < end; op++ {
				dst[op] = b
			}
		default:
			// Overlapping or at the end of dst: byte by byte (the copied
			// bytes repeat with period d).
			for ; op < end; op++ {
				dst[op] = dst[op-d]
			}
		}
	}
}

// dynamic reads the code definitions of a dynamic block (RFC 1951 3.2.7).
func (f *inflater) dynamic() error {
	f.refill()
	nlit := int(f.take(5)) + 257
	ndist := int(f.take(5)) + 1
	ncl := int(f.take(4)) + 4
	if f.nb < 0 || nlit > 286 || ndist > 30 {
		return errCorrupt
	}
	var cl [19]uint8
	for i := range ncl {
		f.refill()
		cl[clOrder[i]] = uint8(f.take(3))
		if f.nb < 0 {
			return errCorrupt
		}
	}
	clh := &f.cl
	if !clh.init(cl[:], clBits, &clEntries) {
		return errCorrupt
	}
	var lengths [286 + 30]uint8
	for i := 0; i < nlit+ndist; {
		f.refill()
		sym, ok := f.decode(clh)
		if !ok || f.nb < 0 {
			return errCorrupt
		}
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return errCorrupt
			}
			val = lengths[i-1]
			rep = 3 + int(f.take(2))
		case 17:
			rep = 3 + int(f.take(3))
		default:
			rep = 11 + int(f.take(7))
		}
		if f.nb < 0 || i+rep > nlit+ndist {
			return errCorrupt
		}
		for range rep {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 {
		return errCorrupt // no end-of-block code
	}
	if !f.lit.init(lengths[:nlit], litBits, &litEntries) || !f.dist.init(lengths[nlit:nlit+ndist], distBits, &distEntries) {
		return errCorrupt
	}
	return nil
}
