package compat

import (
	"strings"

	"github.com/flinkplane/flinkplane/compat/classfile"
)

// dotted turns an internal name into a binary name: a/b/C$D → a.b.C$D.
func dotted(internal string) string { return strings.ReplaceAll(internal, "/", ".") }

func descClasses(desc string) []string { return classfile.DescriptorClasses(desc, nil) }

// typeName renders one field descriptor as Java source would name it, with
// full names ("org.apache.flink.api.common.JobID[]").
func typeName(desc string) string {
	t, _ := parseType(desc, true)
	return t
}

// parseType parses one field type at the start of desc and returns it and
// the rest.
func parseType(desc string, full bool) (string, string) {
	dims := 0
	for len(desc) > 0 && desc[0] == '[' {
		dims++
		desc = desc[1:]
	}
	if desc == "" {
		return "?", ""
	}
	var t string
	switch desc[0] {
	case 'B':
		t = "byte"
	case 'C':
		t = "char"
	case 'D':
		t = "double"
	case 'F':
		t = "float"
	case 'I':
		t = "int"
	case 'J':
		t = "long"
	case 'S':
		t = "short"
	case 'Z':
		t = "boolean"
	case 'V':
		t = "void"
	case 'L':
		end := strings.IndexByte(desc, ';')
		if end < 0 {
			return "?", ""
		}
		n := desc[1:end]
		desc = desc[end:]
		if full {
			t = dotted(n)
		} else {
			t = n[strings.LastIndexByte(n, '/')+1:]
		}
	default:
		return "?", ""
	}
	return t + strings.Repeat("[]", dims), desc[1:]
}

// params renders a method descriptor's parameter list.
func params(desc string, full bool) string {
	if len(desc) == 0 || desc[0] != '(' {
		return desc
	}
	desc = desc[1:]
	var ps []string
	for len(desc) > 0 && desc[0] != ')' {
		var t string
		t, desc = parseType(desc, full)
		if t == "?" {
			break
		}
		ps = append(ps, t)
	}
	return "(" + strings.Join(ps, ", ") + ")"
}

// prettyMethod renders a site's member ("name(desc)" or "name:desc") for
// people: "open(Configuration)", field "counter".
func prettyMethod(member string) string {
	if member == "" {
		return ""
	}
	if name, _, ok := strings.Cut(member, ":"); ok && !strings.Contains(member, "(") {
		return name
	}
	i := strings.IndexByte(member, '(')
	if i < 0 {
		return member
	}
	return member[:i] + params(member[i:], false)
}

// prettyMethodFull renders a referenced method with full parameter types.
func prettyMethodFull(name, desc string) string { return name + params(desc, true) }
