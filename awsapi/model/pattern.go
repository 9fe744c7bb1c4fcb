package model

import (
	"fmt"
	"regexp"
	"strings"
)

// pattern is a model pattern compiled for Go. AWS checks a pattern against
// the whole value (Java's Matcher.matches), so the main expression is
// anchored at both ends. Leading lookaheads, which RE2 cannot express, are
// split off into prefix expressions that must all match too:
// ^(?=A)(?=B)C$ becomes ^(?:A) and ^(?:B) (matched at the start) and
// ^(?:C)$.
type pattern struct {
	src string           // the model's pattern, quoted in messages
	res []*regexp.Regexp // all must match
}

func (p *pattern) match(s string) bool {
	for _, re := range p.res {
		if !re.MatchString(s) {
			return false
		}
	}
	return true
}

// compilePattern translates a Java regular expression of the model into Go
// RE2 expressions. It returns an error for constructs RE2 cannot express
// (other lookarounds, backreferences, possessive quantifiers, ...); the
// caller then leaves the pattern unchecked.
func compilePattern(src string) (*pattern, error) {
	p := &pattern{src: src}
	rest := strings.TrimPrefix(src, "^")
	for strings.HasPrefix(rest, "(?=") {
		end, err := closingParen(rest)
		if err != nil {
			return nil, err
		}
		look, err := translateJava(rest[3:end])
		if err != nil {
			return nil, err
		}
		re, err := regexp.Compile(`^(?:` + look + `)`)
		if err != nil {
			return nil, err
		}
		p.res = append(p.res, re)
		rest = rest[end+1:]
	}
	main, err := translateJava(rest)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(`^(?:` + main + `)$`)
	if err != nil {
		return nil, err
	}
	p.res = append(p.res, re)
	return p, nil
}

// closingParen returns the index of the parenthesis closing the group that
// opens s[0], skipping escapes and character classes.
func closingParen(s string) (int, error) {
	depth, inClass := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			if i+1 < len(s) && s[i+1] == ']' {
				i++ // "[]...]": a leading ] is literal in Java
			}
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("pattern %q: unbalanced parenthesis", s)
}

// Java's whitespace class and the line terminators '.' does not match.
const (
	javaSpace          = `\t\n\x0B\f\r `
	javaDotNotMatching = `\n\r\x{85}\x{2028}\x{2029}`
)

// translateJava rewrites the Java-only meanings of '.', \s and \S into RE2
// and rejects what RE2 cannot do.
func translateJava(s string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return "", fmt.Errorf("trailing backslash")
			}
			n := s[i+1]
			i++
			switch {
			case n == 's' && inClass:
				b.WriteString(javaSpace)
			case n == 's':
				b.WriteString("[" + javaSpace + "]")
			case n == 'S' && !inClass:
				b.WriteString("[^" + javaSpace + "]")
			case n == 'S', n >= '1' && n <= '9', n == 'k', n == 'G', n == 'Z', n == 'R', n == 'X', n == 'h', n == 'H', n == 'v', n == 'V':
				return "", fmt.Errorf("unsupported escape \\%c", n)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		case inClass:
			if c == ']' {
				inClass = false
			} else if c == '[' || (c == '&' && i+1 < len(s) && s[i+1] == '&') {
				return "", fmt.Errorf("unsupported character class nesting or intersection")
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			if i+1 < len(s) && s[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(s) && s[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case c == '.':
			b.WriteString("[^" + javaDotNotMatching + "]")
		case c == '(' && strings.HasPrefix(s[i:], "(?") && !strings.HasPrefix(s[i:], "(?:"):
			return "", fmt.Errorf("unsupported group construct")
		case (c == '+' || c == '*' || c == '?' || c == '}') && i+1 < len(s) && s[i+1] == '+':
			return "", fmt.Errorf("unsupported possessive quantifier")
		default:
			b.WriteByte(c)
		}
	}
	if inClass {
		return "", fmt.Errorf("unterminated character class")
	}
	return b.String(), nil
}
