package model

import (
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// lexer reads JSON from a byte slice without copying it. It accepts
// exactly what encoding/json accepts and decodes strings the way
// encoding/json does (invalid UTF-8 and lone surrogates become U+FFFD), so
// a body Validate reads the same way encoding/json will decode it.
type lexer struct {
	b []byte
	i int
}

type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.off) }

func (l *lexer) errorf(format string, args ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, args...), off: l.i}
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (l *lexer) peek() byte {
	for l.i < len(l.b) {
		switch c := l.b[l.i]; c {
		case ' ', '\t', '\n', '\r':
			l.i++
		default:
			return c
		}
	}
	return 0
}

func (l *lexer) describe(c byte) string {
	if l.i >= len(l.b) {
		return "unexpected end of JSON input"
	}
	return fmt.Sprintf("invalid character %q", rune(c))
}

// expect consumes the byte c after whitespace.
func (l *lexer) expect(c byte) error {
	if got := l.peek(); got != c || l.i >= len(l.b) {
		return l.errorf("%s, expected %q", l.describe(got), rune(c))
	}
	l.i++
	return nil
}

// more reports whether another element follows in an object or array
// closed by end, consuming the separating comma (not before the first
// element) or the closing byte. A trailing comma is caught by the caller,
// which then finds no element.
func (l *lexer) more(end byte, first bool) (bool, error) {
	c := l.peek()
	if l.i >= len(l.b) {
		return false, l.errorf("unexpected end of JSON input")
	}
	if c == end {
		l.i++
		return false, nil
	}
	if first {
		return true, nil
	}
	if c != ',' {
		return false, l.errorf("invalid character %q after element", rune(c))
	}
	l.i++
	return true, nil
}

// str reads a string literal and returns its raw content (between the
// quotes) and whether it needs unquoting (escapes or non-ASCII bytes).
func (l *lexer) str() (raw []byte, complex bool, err error) {
	if c := l.peek(); c != '"' || l.i >= len(l.b) {
		return nil, false, l.errorf("%s, expected string", l.describe(c))
	}
	l.i++
	start := l.i
	for l.i < len(l.b) {
		c := l.b[l.i]
		switch {
		case c == '"':
			raw = l.b[start:l.i]
			l.i++
			return raw, complex, nil
		case c == '\\':
			complex = true
			l.i++
			if l.i >= len(l.b) {
				return nil, false, l.errorf("unexpected end of JSON input in string escape")
			}
			switch l.b[l.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				l.i++
			case 'u':
				l.i++
				for k := 0; k < 4; k++ {
					if l.i >= len(l.b) || !isHex(l.b[l.i]) {
						return nil, false, l.errorf("invalid character in \\u hexadecimal character escape")
					}
					l.i++
				}
			default:
				return nil, false, l.errorf("invalid character %q in string escape code", rune(l.b[l.i]))
			}
		case c < 0x20:
			return nil, false, l.errorf("invalid character %q in string literal", rune(c))
		case c >= utf8.RuneSelf:
			complex = true
			l.i++
		default:
			l.i++
		}
	}
	return nil, false, l.errorf("unexpected end of JSON input in string literal")
}

// string reads a string literal and returns its decoded value.
func (l *lexer) string() (string, error) {
	raw, complex, err := l.str()
	if err != nil {
		return "", err
	}
	if !complex {
		return string(raw), nil
	}
	return unquote(raw), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hexValue(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unquote decodes the raw content of a string literal already checked by
// str, as encoding/json does.
func unquote(s []byte) string {
	out := make([]byte, 0, len(s)+2*utf8.UTFMax)
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			switch s[r+1] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				rr := hexValue(s[r+2:])
				r += 6
				if utf16.IsSurrogate(rr) {
					rr1 := rune(-1)
					if r+6 <= len(s) && s[r] == '\\' && s[r+1] == 'u' && isHex4(s[r+2:r+6]) {
						rr1 = hexValue(s[r+2:])
					}
					if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
						out = utf8.AppendRune(out, dec)
						r += 6
						continue
					}
					rr = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, rr)
				continue
			default: // " \ /
				out = append(out, s[r+1])
			}
			r += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			out = utf8.AppendRune(out, rr)
		}
	}
	return string(out)
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !isHex(c) {
			return false
		}
	}
	return len(b) == 4
}

// number reads a number literal and returns its text.
func (l *lexer) number() (string, error) {
	l.peek()
	start := l.i
	for l.i < len(l.b) {
		c := l.b[l.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			l.i++
			continue
		}
		break
	}
	s := string(l.b[start:l.i])
	if !isJSONNumber(s) {
		l.i = start
		return "", l.errorf("invalid number literal %q", truncate(s, 64))
	}
	return s, nil
}

// literal consumes true, false or null.
func (l *lexer) literal(word string) error {
	l.peek()
	if len(l.b)-l.i < len(word) || string(l.b[l.i:l.i+len(word)]) != word {
		return l.errorf("invalid literal, expected %s", word)
	}
	l.i += len(word)
	return nil
}

// skip consumes any value, nested at most maxDepth-depth levels deeper.
func (l *lexer) skip(depth, maxDepth int) error {
	switch c := l.peek(); {
	case c == '{' || c == '[':
		if depth+1 > maxDepth {
			return errTooDeep
		}
		l.i++
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		for first := true; ; first = false {
			ok, err := l.more(end, first)
			if err != nil || !ok {
				return err
			}
			if c == '{' {
				if _, _, err := l.str(); err != nil {
					return err
				}
				if err := l.expect(':'); err != nil {
					return err
				}
			}
			if err := l.skip(depth+1, maxDepth); err != nil {
				return err
			}
		}
	case c == '"':
		_, _, err := l.str()
		return err
	case c == 't':
		return l.literal("true")
	case c == 'f':
		return l.literal("false")
	case c == 'n':
		return l.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		_, err := l.number()
		return err
	default:
		return l.errorf("%s looking for beginning of value", l.describe(c))
	}
}

// errTooDeep is returned by skip for nesting deeper than allowed.
var errTooDeep = fmt.Errorf("nesting too deep")
