package model

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flinkplane/flinkplane"
)

// Error codes of the protocol layer, used in *flinkplane.Error next to the
// root package's codes. The handler's error table maps them with
// ProtocolError.
const (
	// ESERIALIZATION: the body is not JSON, or a member has the wrong JSON
	// type. AWS JSON 1.1 services answer SerializationException (HTTP 400).
	ESERIALIZATION = "serialization"
	// EUNKNOWNOPERATION: the operation is not in the model. AWS answers
	// UnknownOperationException (HTTP 400).
	EUNKNOWNOPERATION = "unknown_operation"
	// ETOOLARGE: the body is larger than MaxBodySize (HTTP 413).
	ETOOLARGE = "too_large"
	// EMEDIATYPE: the Content-Type is not AWS JSON. AWS routes a request
	// by its Content-Type first and answers one it cannot route with
	// UnknownOperationException, HTTP 404.
	EMEDIATYPE = "media_type"
)

// ProtocolError returns the AWS exception name (the "__type" of the error
// body) and HTTP status for the protocol-layer codes above; ok is false for
// any other code.
func ProtocolError(code string) (exception string, status int, ok bool) {
	switch code {
	case ESERIALIZATION:
		return "SerializationException", 400, true
	case EUNKNOWNOPERATION:
		return "UnknownOperationException", 400, true
	case ETOOLARGE:
		return "RequestEntityTooLargeException", 413, true
	case EMEDIATYPE:
		return "UnknownOperationException", 404, true
	}
	return "", 0, false
}

// MaxBodySize bounds a request body: a CreateApplication or
// UpdateApplication carrying the largest ZipFileContent the model allows
// (52,428,800 bytes, 69,905,068 in base64) and the rest of the request.
const MaxBodySize = 70 << 20

// maxErrors is the most violations one message lists, as AWS does.
const maxErrors = 10

// maxRendered bounds how much of a value a violation message quotes.
const maxRendered = 1024

// Validate checks the JSON body of a request to operation against every
// constraint of the model: JSON types, required members, string lengths
// (in Unicode characters), patterns (whole-value match), number ranges, list
// lengths, map sizes and enum values. Members not in the model are ignored,
// as AWS ignores them, except names that differ from a member only in case
// (encoding/json would decode those into the member; they are rejected).
// An empty body is read as {}.
//
// It returns nil if the body is valid, and otherwise an *flinkplane.Error
// with code:
//   - EUNKNOWNOPERATION if operation is not in the model;
//   - ETOOLARGE if the body is larger than MaxBodySize;
//   - ESERIALIZATION if the body is not one JSON object, a member has the
//     wrong JSON type, or nesting is deeper than the deepest input of the
//     model (9 levels: CreateApplication, UpdateApplication), unknown
//     members included;
//   - flinkplane.EINVALID (InvalidArgumentException) listing up to 10
//     constraint violations in AWS's format:
//     "1 validation error detected: Value 'x!' at 'applicationName' failed
//     to satisfy constraint: Member must satisfy regular expression pattern:
//     [a-zA-Z0-9_.-]+".
//
// A body Validate accepts decodes into the operation's input struct
// (NewInput) with encoding/json without error.
func Validate(operation string, body []byte) error {
	s, err := loadSchema()
	if err != nil {
		return fmt.Errorf("load service model: %w", err)
	}
	in, ok := s.ops[operation]
	if !ok {
		return flinkplane.Errorf(EUNKNOWNOPERATION, "Operation %s is not supported by this service.", truncate(operation, 256))
	}
	if len(body) > MaxBodySize {
		return flinkplane.Errorf(ETOOLARGE, "Request body of %d bytes exceeds the limit of %d bytes.", len(body), MaxBodySize)
	}
	return validateBody(in, body, s.maxDepth)
}

// ValidateOutput checks a response body of operation against the model, as
// Validate checks requests: a test helper to prove that what the server
// sends satisfies the model (required members present, enums, lengths,
// ranges, patterns). Violations are EINVALID errors in the same format.
func ValidateOutput(operation string, body []byte) error {
	s, err := loadSchema()
	if err != nil {
		return fmt.Errorf("load service model: %w", err)
	}
	o, ok := LookupOperation(operation)
	if !ok {
		return flinkplane.Errorf(EUNKNOWNOPERATION, "Operation %s is not supported by this service.", truncate(operation, 256))
	}
	out := s.shapes[o.Output]
	return validateBody(out, body, out.depth)
}

func validateBody(sh *schemaShape, body []byte, maxDepth int) error {
	v := &validator{l: lexer{b: body}, maxDepth: maxDepth}
	// An empty body, and a top-level null, are an empty structure.
	empty := false
	switch c := v.l.peek(); {
	case v.l.i == len(body):
		empty = true
	case c == 'n':
		if err := v.l.literal("null"); err != nil {
			return v.syntax(err)
		}
		empty = true
	default:
		if err := v.structure(sh, "", 1); err != nil {
			return err
		}
	}
	if v.l.peek(); v.l.i != len(body) {
		return serializationError("Unexpected content after the end of the JSON object.")
	}
	if empty {
		return validateBody(sh, []byte("{}"), maxDepth)
	}
	if len(v.errs) == 0 {
		return nil
	}
	n := len(v.errs)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	return flinkplane.Errorf(flinkplane.EINVALID, "%d validation error%s detected: %s", n, plural, strings.Join(v.errs, "; "))
}

// DecodeInput validates body for operation and decodes it into v, which
// should be the operation's input struct (see NewInput).
func DecodeInput(operation string, body []byte, v any) error {
	if err := Validate(operation, body); err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return serializationError("The request body cannot be decoded: " + err.Error())
	}
	return nil
}

func serializationError(msg string) error {
	return flinkplane.Errorf(ESERIALIZATION, "%s", msg)
}

type validator struct {
	l        lexer
	maxDepth int
	errs     []string
}

// syntax turns a lexer error into a SerializationException.
func (v *validator) syntax(err error) error {
	if err == errTooDeep {
		return v.tooDeep()
	}
	return serializationError("Malformed JSON: " + err.Error() + ".")
}

func (v *validator) tooDeep() error {
	return serializationError(fmt.Sprintf("JSON nesting deeper than %d levels, the most the model's inputs allow.", v.maxDepth))
}

// violation records a constraint violation of the value raw (the JSON text,
// nil for null) at path.
func (v *validator) violation(raw []byte, sh *schemaShape, path, constraint string) {
	if len(v.errs) >= maxErrors {
		return
	}
	value := "null"
	if raw != nil {
		value = "'" + render(raw, sh) + "'"
	}
	v.errs = append(v.errs, "Value "+value+" at '"+path+"' failed to satisfy constraint: "+constraint)
}

// stringViolation records a constraint violation of the string s at path.
func (v *validator) stringViolation(s, path, constraint string) {
	if len(v.errs) >= maxErrors {
		return
	}
	v.errs = append(v.errs, "Value '"+truncate(s, maxRendered)+"' at '"+path+"' failed to satisfy constraint: "+constraint)
}

func (v *validator) raw(start int) []byte { return v.l.b[start:v.l.i] }

// jsonType names the JSON value starting with c as Coral's deserializer
// does in its messages, or "" if no JSON value starts with c.
func jsonType(c byte) string {
	switch {
	case c == '"':
		return "class java.lang.String"
	case c == 't' || c == 'f':
		return "class java.lang.Boolean"
	case c == '-' || c >= '0' && c <= '9':
		return "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
	}
	return ""
}

func wrongType(c byte, k kind) error {
	article := "an"
	if k == kindBlob || k == kindTimestamp {
		article = "a"
	}
	return serializationError(fmt.Sprintf("%s can not be converted to %s %s", jsonType(c), article, k.javaType()))
}

// value validates the next value, of shape sh, at path. It reports whether
// the value was null.
func (v *validator) value(sh *schemaShape, path string, depth int) (null bool, err error) {
	c := v.l.peek()
	start := v.l.i
	if c == 'n' {
		if err := v.l.literal("null"); err != nil {
			return false, v.syntax(err)
		}
		return true, nil
	}
	switch sh.kind {
	case kindStructure:
		return false, v.structure(sh, path, depth)
	case kindList:
		return false, v.list(sh, path, depth)
	case kindMap:
		return false, v.mapValue(sh, path, depth)
	}
	switch {
	case c == '[':
		return false, serializationError("Start of list found where not expected")
	case c == '{':
		return false, serializationError("Start of structure or map found where not expected.")
	case jsonType(c) == "":
		return false, v.syntax(v.l.errorf("%s looking for beginning of value", v.l.describe(c)))
	}
	switch sh.kind {
	case kindString:
		if c != '"' {
			return false, wrongType(c, sh.kind)
		}
		s, err := v.l.string()
		if err != nil {
			return false, v.syntax(err)
		}
		v.checkString(sh, s, path)
	case kindBlob:
		if c != '"' {
			return false, wrongType(c, sh.kind)
		}
		raw, complex, err := v.l.str()
		if err != nil {
			return false, v.syntax(err)
		}
		if complex {
			raw = []byte(unquote(raw))
		}
		n, err := io.Copy(io.Discard, base64.NewDecoder(base64.StdEncoding, bytes.NewReader(raw)))
		if err != nil {
			return false, serializationError(fmt.Sprintf("'%s' can not be converted to a Blob: %v", truncate(string(raw[:min(len(raw), 64)]), 64), err))
		}
		v.checkLength(sh, float64(n), v.raw(start), path)
	case kindBoolean:
		if c != 't' && c != 'f' {
			return false, wrongType(c, sh.kind)
		}
		word := "true"
		if c == 'f' {
			word = "false"
		}
		if err := v.l.literal(word); err != nil {
			return false, v.syntax(err)
		}
	case kindTimestamp:
		if jsonType(c) != jsonType('0') {
			return false, wrongType(c, sh.kind)
		}
		n, err := v.l.number()
		if err != nil {
			return false, v.syntax(err)
		}
		if _, err := ParseEpochSeconds(n); err != nil {
			return false, serializationError(fmt.Sprintf("'%s' can not be converted to a Date: expected epoch seconds between years 1 and 9999", truncate(n, 64)))
		}
	case kindInteger, kindLong, kindDouble:
		if jsonType(c) != jsonType('0') {
			return false, wrongType(c, sh.kind)
		}
		n, err := v.l.number()
		if err != nil {
			return false, v.syntax(err)
		}
		f, err := v.number(sh, n)
		if err != nil {
			return false, err
		}
		if sh.max != nil && f > *sh.max {
			v.violation(v.raw(start), sh, path, "Member must have value less than or equal to "+formatBound(*sh.max))
		}
		if sh.min != nil && f < *sh.min {
			v.violation(v.raw(start), sh, path, "Member must have value greater than or equal to "+formatBound(*sh.min))
		}
	}
	return false, nil
}

// number parses n for a numeric shape. Integer and Long members take
// integer literals within the Java type's range only (encoding/json rejects
// 1.0 and 1e2 for Go integers).
func (v *validator) number(sh *schemaShape, s string) (float64, error) {
	if sh.kind == kindDouble {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return 0, serializationError(fmt.Sprintf("'%s' can not be converted to a Double", truncate(s, 64)))
		}
		return f, nil
	}
	bits := 32
	if sh.kind == kindLong {
		bits = 64
	}
	i, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		if len(s) < 64 && isInteger(s) {
			return 0, serializationError(fmt.Sprintf("Numeric value (%s) out of range of %s", s, sh.kind.javaType()))
		}
		return 0, serializationError(fmt.Sprintf("'%s' can not be converted to an %s: expected an integer", truncate(s, 64), sh.kind.javaType()))
	}
	return float64(i), nil
}

// isInteger reports whether s is an optionally negative run of digits.
func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (v *validator) checkString(sh *schemaShape, s string, path string) {
	if sh.enum != nil && !sh.enum[s] {
		v.stringViolation(s, path, sh.enumMsg)
	}
	if sh.min != nil || sh.max != nil {
		n := float64(utf8.RuneCountInString(s))
		if sh.max != nil && n > *sh.max {
			v.stringViolation(s, path, "Member must have length less than or equal to "+formatBound(*sh.max))
		}
		if sh.min != nil && n < *sh.min {
			v.stringViolation(s, path, "Member must have length greater than or equal to "+formatBound(*sh.min))
		}
	}
	if sh.pattern != nil && !sh.pattern.match(s) {
		v.stringViolation(s, path, "Member must satisfy regular expression pattern: "+sh.pattern.src)
	}
}

func (v *validator) checkLength(sh *schemaShape, n float64, raw []byte, path string) {
	if sh.max != nil && n > *sh.max {
		v.violation(raw, sh, path, "Member must have length less than or equal to "+formatBound(*sh.max))
	}
	if sh.min != nil && n < *sh.min {
		v.violation(raw, sh, path, "Member must have length greater than or equal to "+formatBound(*sh.min))
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// open consumes the opening byte of a structure, list or map at depth.
func (v *validator) open(depth int) error {
	if depth > v.maxDepth {
		return v.tooDeep()
	}
	v.l.i++
	return nil
}

func (v *validator) structure(sh *schemaShape, path string, depth int) error {
	switch c := v.l.peek(); {
	case c == '[':
		return serializationError("Start of list found where not expected")
	case c != '{':
		if jsonType(c) == "" {
			return v.syntax(v.l.errorf("%s looking for beginning of value", v.l.describe(c)))
		}
		return serializationError("Expected null")
	}
	if err := v.open(depth); err != nil {
		return err
	}
	present := make([]bool, len(sh.members))
	// Violations are listed in model member order: remember which member
	// each run of violations belongs to.
	type run struct{ member, from, to int }
	var runs []run
	base := len(v.errs)
	for first := true; ; first = false {
		more, err := v.l.more('}', first)
		if err != nil {
			return v.syntax(err)
		}
		if !more {
			break
		}
		key, err := v.l.string()
		if err != nil {
			return v.syntax(err)
		}
		if err := v.l.expect(':'); err != nil {
			return v.syntax(err)
		}
		i, known := sh.byName[key]
		if !known {
			if j, folds := sh.byFolded[foldName(key)]; folds {
				return serializationError(fmt.Sprintf("Member name '%s' differs only in case from '%s'; member names are case-sensitive.", truncate(key, 128), sh.members[j].name))
			}
			if err := v.l.skip(depth, v.maxDepth); err != nil {
				return v.syntax(err)
			}
			continue
		}
		m := sh.members[i]
		from := len(v.errs)
		null, err := v.value(m.shape, join(path, m.path), depth+1)
		if err != nil {
			return err
		}
		// Like encoding/json, the last occurrence of a member wins.
		present[i] = !null
		if len(v.errs) > from {
			runs = append(runs, run{i, from, len(v.errs)})
		}
	}
	if len(runs) == 0 && len(sh.required) == 0 {
		return nil
	}
	// Rebuild this structure's violations in member order, with missing
	// required members in their place.
	var ordered []string
	for i, m := range sh.members {
		for _, r := range runs {
			if r.member == i {
				ordered = append(ordered, v.errs[r.from:r.to]...)
			}
		}
		if !present[i] && isRequired(sh, i) {
			ordered = append(ordered, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", join(path, m.path)))
		}
	}
	v.errs = append(v.errs[:base], ordered...)
	if len(v.errs) > maxErrors {
		v.errs = v.errs[:maxErrors]
	}
	return nil
}

func isRequired(sh *schemaShape, i int) bool {
	for _, r := range sh.required {
		if r == i {
			return true
		}
	}
	return false
}

func (v *validator) list(sh *schemaShape, path string, depth int) error {
	start := v.l.i
	switch c := v.l.peek(); {
	case c == '{':
		return serializationError("Start of structure or map found where not expected.")
	case c != '[':
		if jsonType(c) == "" {
			return v.syntax(v.l.errorf("%s looking for beginning of value", v.l.describe(c)))
		}
		return serializationError("Expected list or null")
	}
	if err := v.open(depth); err != nil {
		return err
	}
	base := len(v.errs)
	n := 0
	for first := true; ; first = false {
		more, err := v.l.more(']', first)
		if err != nil {
			return v.syntax(err)
		}
		if !more {
			break
		}
		n++
		epath := path + "." + strconv.Itoa(n) + ".member"
		null, err := v.value(sh.elem, epath, depth+1)
		if err != nil {
			return err
		}
		if null {
			v.violation(nil, sh.elem, epath, "Member must not be null")
		}
	}
	if (sh.min == nil || float64(n) >= *sh.min) && (sh.max == nil || float64(n) <= *sh.max) {
		return nil
	}
	// The list's own constraints come before its members' violations.
	elemErrs := append([]string(nil), v.errs[base:]...)
	v.errs = v.errs[:base]
	v.checkLength(sh, float64(n), v.raw(start), path)
	v.errs = append(v.errs, elemErrs...)
	if len(v.errs) > maxErrors {
		v.errs = v.errs[:maxErrors]
	}
	return nil
}

func (v *validator) mapValue(sh *schemaShape, path string, depth int) error {
	start := v.l.i
	switch c := v.l.peek(); {
	case c == '[':
		return serializationError("Start of list found where not expected")
	case c != '{':
		if jsonType(c) == "" {
			return v.syntax(v.l.errorf("%s looking for beginning of value", v.l.describe(c)))
		}
		return serializationError("Expected map or null")
	}
	if err := v.open(depth); err != nil {
		return err
	}
	base := len(v.errs)
	n := 0
	badKey, badValue := false, false
	for first := true; ; first = false {
		more, err := v.l.more('}', first)
		if err != nil {
			return v.syntax(err)
		}
		if !more {
			break
		}
		key, err := v.l.string()
		if err != nil {
			return v.syntax(err)
		}
		if err := v.l.expect(':'); err != nil {
			return v.syntax(err)
		}
		n++
		if !v.satisfies(sh.key, key) {
			badKey = true
		}
		if sh.val.kind != kindString {
			// Only string values are in the model; validate others like
			// members.
			if _, err := v.value(sh.val, path+"."+key+".member", depth+1); err != nil {
				return err
			}
			continue
		}
		switch c := v.l.peek(); {
		case c == 'n':
			if err := v.l.literal("null"); err != nil {
				return v.syntax(err)
			}
			badValue = true
		case c == '"':
			s, err := v.l.string()
			if err != nil {
				return v.syntax(err)
			}
			if !v.satisfies(sh.val, s) {
				badValue = true
			}
		default:
			if _, err := v.value(sh.val, path+"."+key+".member", depth+1); err != nil {
				return err
			}
		}
	}
	lengthOK := (sh.min == nil || float64(n) >= *sh.min) && (sh.max == nil || float64(n) <= *sh.max)
	if lengthOK && !badKey && !badValue {
		return nil
	}
	raw := v.raw(start)
	inner := append([]string(nil), v.errs[base:]...)
	v.errs = v.errs[:base]
	v.checkLength(sh, float64(n), raw, path)
	if badKey {
		v.violation(raw, sh, path, "Map keys must satisfy constraint: ["+constraintList(sh.key, false)+"]")
	}
	if badValue {
		v.violation(raw, sh, path, "Map value must satisfy constraint: ["+constraintList(sh.val, true)+"]")
	}
	v.errs = append(v.errs, inner...)
	if len(v.errs) > maxErrors {
		v.errs = v.errs[:maxErrors]
	}
	return nil
}

// satisfies reports whether s meets the string constraints of sh.
func (v *validator) satisfies(sh *schemaShape, s string) bool {
	n := float64(utf8.RuneCountInString(s))
	return (sh.enum == nil || sh.enum[s]) &&
		(sh.max == nil || n <= *sh.max) &&
		(sh.min == nil || n >= *sh.min) &&
		(sh.pattern == nil || sh.pattern.match(s))
}

// constraintList lists the string constraints of sh as AWS does inside
// "Map keys/value must satisfy constraint: [...]".
func constraintList(sh *schemaShape, notNull bool) string {
	var c []string
	if sh.enum != nil {
		c = append(c, sh.enumMsg)
	}
	if sh.max != nil {
		c = append(c, "Member must have length less than or equal to "+formatBound(*sh.max))
	}
	if sh.min != nil {
		c = append(c, "Member must have length greater than or equal to "+formatBound(*sh.min))
	}
	if sh.pattern != nil {
		c = append(c, "Member must satisfy regular expression pattern: "+sh.pattern.src)
	}
	if notNull {
		c = append(c, "Member must not be null")
	}
	return strings.Join(c, ", ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
