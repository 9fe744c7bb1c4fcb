package cwlogs

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// CompileFilter compiles a CloudWatch Logs filter pattern into a matcher
// of event messages. Supported (see docs/metrics.md):
//
//   - "" matches every event;
//   - terms: ERROR Exception (all must occur, case-sensitive), "a phrase",
//     ?ERROR ?WARN (any of them), -term (must not occur);
//   - a regular expression between percent signs: %time(out|d out)%;
//   - JSON patterns on the message's fields: { $.messageType = "ERROR" },
//     with =, !=, <, <=, >, >= (numbers), * wildcards in strings, IS NULL,
//     NOT EXISTS, IS TRUE, IS FALSE, && and || and parentheses.
//
// Space-delimited patterns ([ip, user, ...]) are refused.
func CompileFilter(pattern string) (func(string) bool, error) {
	p := strings.TrimSpace(pattern)
	switch {
	case p == "":
		return func(string) bool { return true }, nil
	case strings.HasPrefix(p, "{"):
		if !strings.HasSuffix(p, "}") {
			return nil, errors.New("a JSON pattern must end with }")
		}
		e, err := parseJSONPattern(p[1 : len(p)-1])
		if err != nil {
			return nil, err
		}
		return func(msg string) bool {
			var v any
			if json.Unmarshal([]byte(msg), &v) != nil {
				return false
			}
			return e.eval(v)
		}, nil
	case strings.HasPrefix(p, "["):
		return nil, errors.New("space-delimited filter patterns ([field, ...]) are not supported by flinkplane; use terms, %regex% or a JSON pattern")
	case len(p) >= 2 && strings.HasPrefix(p, "%") && strings.HasSuffix(p, "%"):
		re, err := regexp.Compile(p[1 : len(p)-1])
		if err != nil {
			return nil, err
		}
		return re.MatchString, nil
	}
	return termFilter(p)
}

func termFilter(p string) (func(string) bool, error) {
	var all, any, none []string
	for len(p) > 0 {
		p = strings.TrimLeft(p, " \t")
		if p == "" {
			break
		}
		prefix := byte(0)
		if p[0] == '?' || p[0] == '-' {
			prefix, p = p[0], p[1:]
		}
		var term string
		if strings.HasPrefix(p, `"`) {
			end := strings.Index(p[1:], `"`)
			if end < 0 {
				return nil, errors.New("unbalanced quotes")
			}
			term, p = p[1:1+end], p[2+end:]
		} else {
			end := strings.IndexAny(p, " \t")
			if end < 0 {
				end = len(p)
			}
			term, p = p[:end], p[end:]
		}
		if term == "" {
			continue
		}
		switch prefix {
		case '?':
			any = append(any, term)
		case '-':
			none = append(none, term)
		default:
			all = append(all, term)
		}
	}
	return func(msg string) bool {
		for _, t := range all {
			if !strings.Contains(msg, t) {
				return false
			}
		}
		for _, t := range none {
			if strings.Contains(msg, t) {
				return false
			}
		}
		if len(any) == 0 {
			return true
		}
		for _, t := range any {
			if strings.Contains(msg, t) {
				return true
			}
		}
		return false
	}, nil
}

// jsonExpr is a node of a JSON pattern.
type jsonExpr interface{ eval(v any) bool }

type andExpr struct{ a, b jsonExpr }
type orExpr struct{ a, b jsonExpr }

func (e andExpr) eval(v any) bool { return e.a.eval(v) && e.b.eval(v) }
func (e orExpr) eval(v any) bool  { return e.a.eval(v) || e.b.eval(v) }

type cmpExpr struct {
	sel   []string
	op    string
	str   *regexp.Regexp // string comparisons (wildcards), nil for numbers
	re    *regexp.Regexp // %regex%
	num   float64
	isNum bool
}

func (e cmpExpr) eval(v any) bool {
	x, found := selectJSON(v, e.sel)
	switch e.op {
	case "NOT EXISTS":
		return !found
	case "IS NULL":
		return found && x == nil
	case "IS TRUE":
		b, ok := x.(bool)
		return found && ok && b
	case "IS FALSE":
		b, ok := x.(bool)
		return found && ok && !b
	}
	if !found || x == nil {
		return e.op == "!=" && found
	}
	if e.isNum {
		f, ok := x.(float64)
		if !ok {
			if s, isStr := x.(string); isStr {
				var err error
				f, err = strconv.ParseFloat(s, 64)
				ok = err == nil
			}
		}
		if !ok {
			return e.op == "!="
		}
		switch e.op {
		case "=":
			return f == e.num
		case "!=":
			return f != e.num
		case "<":
			return f < e.num
		case "<=":
			return f <= e.num
		case ">":
			return f > e.num
		case ">=":
			return f >= e.num
		}
		return false
	}
	s := fmt.Sprint(x)
	if b, ok := x.(bool); ok {
		s = strconv.FormatBool(b)
	}
	var m bool
	if e.re != nil {
		m = e.re.MatchString(s)
	} else {
		m = e.str.MatchString(s)
	}
	if e.op == "!=" {
		return !m
	}
	return m
}

// selectJSON follows a selector ($.a.b[0]) into a decoded JSON value.
func selectJSON(v any, sel []string) (any, bool) {
	for _, s := range sel {
		switch x := v.(type) {
		case []any:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		case map[string]any:
			var ok bool
			if v, ok = x[s]; !ok {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return v, true
}

type patternParser struct {
	s   string
	pos int
}

func parseJSONPattern(s string) (jsonExpr, error) {
	p := &patternParser{s: s}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("unexpected %q", p.s[p.pos:])
	}
	return e, nil
}

func (p *patternParser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func (p *patternParser) eat(tok string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *patternParser) or() (jsonExpr, error) {
	e, err := p.and()
	for err == nil && p.eat("||") {
		var r jsonExpr
		if r, err = p.and(); err == nil {
			e = orExpr{e, r}
		}
	}
	return e, err
}

func (p *patternParser) and() (jsonExpr, error) {
	e, err := p.unary()
	for err == nil && p.eat("&&") {
		var r jsonExpr
		if r, err = p.unary(); err == nil {
			e = andExpr{e, r}
		}
	}
	return e, err
}

func (p *patternParser) unary() (jsonExpr, error) {
	if p.eat("(") {
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, errors.New("missing )")
		}
		return e, nil
	}
	return p.comparison()
}

var selectorRe = regexp.MustCompile(`^\$((?:\.[A-Za-z0-9_@-]+|\[\d+\])+)`)
var selectorPart = regexp.MustCompile(`\.([A-Za-z0-9_@-]+)|\[(\d+)\]`)

func (p *patternParser) comparison() (jsonExpr, error) {
	p.space()
	m := selectorRe.FindStringSubmatch(p.s[p.pos:])
	if m == nil {
		return nil, fmt.Errorf("expected a selector such as $.messageType at %q", p.s[p.pos:])
	}
	p.pos += len(m[0])
	var sel []string
	for _, part := range selectorPart.FindAllStringSubmatch(m[1], -1) {
		if part[1] != "" {
			sel = append(sel, part[1])
		} else {
			sel = append(sel, part[2])
		}
	}
	for _, kw := range []string{"NOT EXISTS", "IS NULL", "IS TRUE", "IS FALSE"} {
		if p.eat(kw) {
			return cmpExpr{sel: sel, op: kw}, nil
		}
	}
	var op string
	for _, o := range []string{"!=", "<=", ">=", "=", "<", ">"} {
		if p.eat(o) {
			op = o
			break
		}
	}
	if op == "" {
		return nil, fmt.Errorf("expected a comparison after $%s", m[1])
	}
	p.space()
	rest := p.s[p.pos:]
	switch {
	case strings.HasPrefix(rest, `"`):
		end := strings.Index(rest[1:], `"`)
		if end < 0 {
			return nil, errors.New("unbalanced quotes")
		}
		p.pos += end + 2
		return stringCmp(sel, op, rest[1:1+end])
	case strings.HasPrefix(rest, "%"):
		end := strings.Index(rest[1:], "%")
		if end < 0 {
			return nil, errors.New("unbalanced %")
		}
		re, err := regexp.Compile(rest[1 : 1+end])
		if err != nil {
			return nil, err
		}
		p.pos += end + 2
		if op != "=" && op != "!=" {
			return nil, errors.New("a regular expression compares with = or != only")
		}
		return cmpExpr{sel: sel, op: op, re: re}, nil
	}
	end := strings.IndexAny(rest, " \t)&|")
	if end < 0 {
		end = len(rest)
	}
	word := rest[:end]
	p.pos += end
	if word == "" {
		return nil, fmt.Errorf("expected a value after %s", op)
	}
	if f, err := strconv.ParseFloat(word, 64); err == nil {
		return cmpExpr{sel: sel, op: op, num: f, isNum: true}, nil
	}
	return stringCmp(sel, op, word)
}

func stringCmp(sel []string, op, value string) (jsonExpr, error) {
	if op != "=" && op != "!=" {
		return nil, fmt.Errorf("%s compares numbers; %q is not one", op, value)
	}
	parts := strings.Split(value, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return cmpExpr{sel: sel, op: op, str: regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")}, nil
}
