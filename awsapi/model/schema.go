package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"
)

type kind uint8

const (
	kindString kind = iota
	kindInteger
	kindLong
	kindDouble
	kindBoolean
	kindTimestamp
	kindBlob
	kindStructure
	kindList
	kindMap
)

// javaType names the kind as Coral's deserializer does in its messages.
func (k kind) javaType() string {
	switch k {
	case kindString:
		return "String"
	case kindInteger:
		return "Integer"
	case kindLong:
		return "Long"
	case kindDouble:
		return "Double"
	case kindBoolean:
		return "Boolean"
	case kindTimestamp:
		return "Date"
	case kindBlob:
		return "Blob"
	}
	return "Structure"
}

// schemaShape is a shape of the model compiled for validation.
type schemaShape struct {
	name string
	kind kind

	members  []schemaMember  // structure, model order
	byName   map[string]int  // structure: member name → index
	byFolded map[string]int  // structure: case-folded member name → index
	required []int           // structure: indexes of required members
	elem     *schemaShape    // list
	key, val *schemaShape    // map
	enum     map[string]bool // string
	enumMsg  string          // "Member must satisfy enum value set: [...]"

	min, max *float64 // length (string, blob, list, map) or value (numbers)
	pattern  *pattern

	depth int // JSON nesting depth of the deepest valid value
}

type schemaMember struct {
	name  string // as in JSON
	path  string // as in validation messages: lower camel case
	shape *schemaShape
}

type schema struct {
	shapes    map[string]*schemaShape
	ops       map[string]*schemaShape // operation → input shape
	maxDepth  int                     // deepest nesting of any operation's input
	unchecked []string                // "Shape: pattern: error" for patterns RE2 cannot express
}

var (
	schemaOnce sync.Once
	theSchema  *schema
	schemaErr  error
)

func loadSchema() (*schema, error) {
	schemaOnce.Do(func() { theSchema, schemaErr = compileSchema(ServiceJSON) })
	return theSchema, schemaErr
}

type rawShape struct {
	Type     string `json:"type"`
	Members  map[string]struct{ Shape string }
	Required []string
	Member   *struct{ Shape string }
	Key      *struct{ Shape string }
	Value    *struct{ Shape string }
	Enum     []string
	Min      *float64
	Max      *float64
	Pattern  *string
}

func compileSchema(data []byte) (*schema, error) {
	var raw struct {
		Operations map[string]struct {
			Input *struct{ Shape string }
		}
		Shapes map[string]rawShape
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse service model: %w", err)
	}
	order, err := structMemberOrder(data)
	if err != nil {
		return nil, err
	}
	s := &schema{shapes: make(map[string]*schemaShape), ops: make(map[string]*schemaShape)}
	names := make([]string, 0, len(raw.Shapes))
	for name := range raw.Shapes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		rs := raw.Shapes[name]
		sh := &schemaShape{name: name, min: rs.Min, max: rs.Max}
		switch rs.Type {
		case "string":
			sh.kind = kindString
		case "integer":
			sh.kind = kindInteger
		case "long":
			sh.kind = kindLong
		case "double", "float":
			sh.kind = kindDouble
		case "boolean":
			sh.kind = kindBoolean
		case "timestamp":
			sh.kind = kindTimestamp
		case "blob":
			sh.kind = kindBlob
		case "structure":
			sh.kind = kindStructure
		case "list":
			sh.kind = kindList
		case "map":
			sh.kind = kindMap
		default:
			return nil, fmt.Errorf("shape %s: unsupported type %q", name, rs.Type)
		}
		if len(rs.Enum) > 0 {
			sh.enum = make(map[string]bool, len(rs.Enum))
			msg := "Member must satisfy enum value set: ["
			for i, v := range rs.Enum {
				sh.enum[v] = true
				if i > 0 {
					msg += ", "
				}
				msg += v
			}
			sh.enumMsg = msg + "]"
		}
		if rs.Pattern != nil {
			p, err := compilePattern(*rs.Pattern)
			if err != nil {
				s.unchecked = append(s.unchecked, fmt.Sprintf("%s: %s: %v", name, *rs.Pattern, err))
			} else {
				sh.pattern = p
			}
		}
		s.shapes[name] = sh
	}
	lookup := func(owner, name string) (*schemaShape, error) {
		sh, ok := s.shapes[name]
		if !ok {
			return nil, fmt.Errorf("shape %s refers to unknown shape %s", owner, name)
		}
		return sh, nil
	}
	for _, name := range names {
		rs, sh := raw.Shapes[name], s.shapes[name]
		switch sh.kind {
		case kindStructure:
			sh.byName = make(map[string]int)
			sh.byFolded = make(map[string]int)
			for i, mn := range order[name] {
				ms, err := lookup(name, rs.Members[mn].Shape)
				if err != nil {
					return nil, err
				}
				sh.members = append(sh.members, schemaMember{name: mn, path: lowerFirst(mn), shape: ms})
				sh.byName[mn] = i
				sh.byFolded[foldName(mn)] = i
			}
			for _, r := range rs.Required {
				i, ok := sh.byName[r]
				if !ok {
					return nil, fmt.Errorf("shape %s: required member %s does not exist", name, r)
				}
				sh.required = append(sh.required, i)
			}
			sort.Ints(sh.required)
		case kindList:
			if sh.elem, err = lookup(name, rs.Member.Shape); err != nil {
				return nil, err
			}
		case kindMap:
			if sh.key, err = lookup(name, rs.Key.Shape); err != nil {
				return nil, err
			}
			if sh.val, err = lookup(name, rs.Value.Shape); err != nil {
				return nil, err
			}
		}
	}
	for _, name := range names {
		if err := computeDepth(s.shapes[name], map[*schemaShape]bool{}); err != nil {
			return nil, err
		}
	}
	for name, op := range raw.Operations {
		if op.Input == nil {
			s.ops[name] = &schemaShape{name: name + "Input", kind: kindStructure, byName: map[string]int{}, byFolded: map[string]int{}, depth: 1}
			continue
		}
		in, err := lookup(name, op.Input.Shape)
		if err != nil {
			return nil, err
		}
		s.ops[name] = in
		s.maxDepth = max(s.maxDepth, in.depth)
	}
	return s, nil
}

func computeDepth(sh *schemaShape, visiting map[*schemaShape]bool) error {
	if sh.depth > 0 || (sh.kind != kindStructure && sh.kind != kindList && sh.kind != kindMap) {
		return nil
	}
	if visiting[sh] {
		return fmt.Errorf("shape %s is recursive", sh.name)
	}
	visiting[sh] = true
	defer delete(visiting, sh)
	children := []*schemaShape{sh.elem, sh.val}
	for _, m := range sh.members {
		children = append(children, m.shape)
	}
	d := 0
	for _, c := range children {
		if c == nil {
			continue
		}
		if err := computeDepth(c, visiting); err != nil {
			return err
		}
		d = max(d, c.depth)
	}
	sh.depth = d + 1
	return nil
}

// structMemberOrder returns every structure's member names in model order.
func structMemberOrder(data []byte) (map[string][]string, error) {
	var raw struct {
		Shapes map[string]struct {
			Members json.RawMessage `json:"members"`
		} `json:"shapes"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	order := make(map[string][]string)
	for name, s := range raw.Shapes {
		if len(s.Members) == 0 {
			continue
		}
		keys, err := objectKeys(s.Members)
		if err != nil {
			return nil, fmt.Errorf("shape %s: %w", name, err)
		}
		order[name] = keys
	}
	return order, nil
}

func objectKeys(obj json.RawMessage) ([]string, error) {
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// foldName folds s the way encoding/json matches object keys to struct
// fields case-insensitively (ASCII upper case, Unicode simple folding).
func foldName(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
		} else {
			for {
				r2 := unicode.SimpleFold(r)
				if r2 <= r {
					r = r2
					break
				}
				r = r2
			}
		}
		out = append(out, r)
	}
	return string(out)
}

func formatBound(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
