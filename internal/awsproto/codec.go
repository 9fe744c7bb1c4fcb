package awsproto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// Error kinds of decoding and validation.
const (
	// KindSerialization: the body is not what the protocol allows.
	KindSerialization = "serialization"
	// KindMissing: a required member is absent.
	KindMissing = "missing"
	// KindInvalid: a value breaks a constraint of the model.
	KindInvalid = "invalid"
)

// Error is a decoding or validation failure, with a message for the
// client.
type Error struct {
	Kind    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func errorf(kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// maxDepth bounds the nesting of decoded values.
const maxDepth = 32

// DecodeJSON decodes an AWS JSON body against a structure shape. An empty
// body is an empty structure.
func (m *Model) DecodeJSON(shape string, body []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]any{}, nil
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var raw any
	if err := d.Decode(&raw); err != nil {
		return nil, errorf(KindSerialization, "Malformed JSON body: %v", err)
	}
	if d.More() {
		return nil, errorf(KindSerialization, "Malformed JSON body: data after the top-level value")
	}
	v, err := m.normalize(&ShapeRef{Shape: shape}, raw, "", 0)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

var cborDec = func() cbor.DecMode {
	d, err := cbor.DecOptions{
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
		MaxNestedLevels:  maxDepth + 4,
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
		IndefLength:      cbor.IndefLengthAllowed,
		TimeTag:          cbor.DecTagOptional,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return d
}()

// DecodeCBOR decodes a Smithy RPC v2 CBOR body against a structure shape.
// An empty body is an empty structure.
func (m *Model) DecodeCBOR(shape string, body []byte) (map[string]any, error) {
	if len(body) == 0 {
		return map[string]any{}, nil
	}
	var raw any
	if err := cborDec.Unmarshal(body, &raw); err != nil {
		return nil, errorf(KindSerialization, "Malformed CBOR body: %v", err)
	}
	v, err := m.normalize(&ShapeRef{Shape: shape}, raw, "", 0)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// normalize checks a decoded JSON or CBOR value against a shape and
// returns it in the tree's types. Nulls are dropped; unknown structure
// members are ignored.
func (m *Model) normalize(ref *ShapeRef, raw any, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errorf(KindSerialization, "The body is nested too deeply.")
	}
	s := m.Shape(ref.Shape)
	bad := func() (any, error) {
		return nil, errorf(KindSerialization, "Invalid value for %s: expected %s.", nonEmpty(path, "the body"), s.Type)
	}
	if t, ok := raw.(cbor.Tag); ok {
		if s.Type != "timestamp" || t.Number != 1 {
			return bad()
		}
		raw = t.Content
	}
	switch s.Type {
	case "structure":
		obj, ok := asObject(raw)
		if !ok {
			return bad()
		}
		out := map[string]any{}
		for name, mref := range s.Members {
			rv, ok := obj[name]
			if !ok || rv == nil {
				continue
			}
			v, err := m.normalize(mref, rv, join(path, name), depth+1)
			if err != nil {
				return nil, err
			}
			out[name] = v
		}
		return out, nil
	case "list":
		arr, ok := raw.([]any)
		if !ok {
			return bad()
		}
		out := make([]any, 0, len(arr))
		for i, rv := range arr {
			if rv == nil {
				continue
			}
			v, err := m.normalize(s.Member, rv, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case "map":
		obj, ok := asObject(raw)
		if !ok {
			return bad()
		}
		out := map[string]any{}
		for k, rv := range obj {
			if rv == nil {
				continue
			}
			v, err := m.normalize(s.Value, rv, join(path, k), depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case "string":
		v, ok := raw.(string)
		if !ok {
			return bad()
		}
		return v, nil
	case "boolean":
		v, ok := raw.(bool)
		if !ok {
			return bad()
		}
		return v, nil
	case "integer", "long":
		n, ok := toInt(raw)
		if !ok {
			return bad()
		}
		if s.Type == "integer" && (n > math.MaxInt32 || n < math.MinInt32) {
			return nil, errorf(KindInvalid, "The value of %s is out of range.", path)
		}
		return n, nil
	case "double", "float":
		f, ok := toFloat(raw)
		if !ok {
			return bad()
		}
		return f, nil
	case "timestamp":
		switch v := raw.(type) {
		case string:
			t, err := ParseTime(v)
			if err != nil {
				return nil, errorf(KindInvalid, "Invalid timestamp for %s: %q.", path, clip(v))
			}
			return t, nil
		case time.Time:
			return v.UTC(), nil
		}
		f, ok := toFloat(raw)
		if !ok {
			return bad()
		}
		return epochTime(f), nil
	case "blob":
		switch v := raw.(type) {
		case []byte:
			return v, nil
		case string:
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, errorf(KindSerialization, "Invalid base64 value for %s.", path)
			}
			return b, nil
		}
		return bad()
	}
	return bad()
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func asObject(raw any) (map[string]any, bool) {
	switch v := raw.(type) {
	case map[string]any:
		return v, true
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			ks, ok := k.(string)
			if !ok {
				return nil, false
			}
			out[ks] = x
		}
		return out, true
	}
	return nil, false
}

func toInt(raw any) (int64, bool) {
	switch v := raw.(type) {
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case int64:
		return v, true
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case int:
		return int64(v), true
	}
	return 0, false
}

func toFloat(raw any) (float64, bool) {
	switch v := raw.(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case string:
		switch v { // the JSON protocols spell non-finite doubles as strings
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
	}
	return 0, false
}

func epochTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC()
}

// ParseTime parses an ISO 8601 timestamp (RFC 3339, with or without
// fractional seconds; "Z" or an offset) or an epoch-seconds number.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return epochTime(f), nil
	}
	return time.Time{}, fmt.Errorf("not a timestamp: %q", s)
}

// DecodeQuery decodes an AWS query protocol request (form values without
// Action and Version) against a structure shape.
func (m *Model) DecodeQuery(shape string, form url.Values) (map[string]any, error) {
	v, present, err := m.queryValue(&ShapeRef{Shape: shape}, form, "", 0)
	if err != nil {
		return nil, err
	}
	if !present {
		return map[string]any{}, nil
	}
	return v.(map[string]any), nil
}

func (m *Model) queryValue(ref *ShapeRef, form url.Values, prefix string, depth int) (any, bool, error) {
	if depth > maxDepth {
		return nil, false, errorf(KindSerialization, "The request is nested too deeply.")
	}
	s := m.Shape(ref.Shape)
	switch s.Type {
	case "structure":
		out := map[string]any{}
		for name, mref := range s.Members {
			key := name
			if mref.LocationName != "" {
				key = mref.LocationName
			}
			v, ok, err := m.queryValue(mref, form, qjoin(prefix, key), depth+1)
			if err != nil {
				return nil, false, err
			}
			if ok {
				out[name] = v
			}
		}
		return out, len(out) > 0 || prefix == "", nil
	case "list":
		base := prefix
		if !(s.Flattened || ref.Flattened) {
			name := "member"
			if s.Member.LocationName != "" {
				name = s.Member.LocationName
			}
			base = qjoin(prefix, name)
			if vs, ok := form[prefix]; ok && len(vs) == 1 && vs[0] == "" {
				return []any{}, true, nil // an explicitly empty list
			}
		}
		var out []any
		for i := 1; i <= 1000; i++ {
			v, ok, err := m.queryValue(s.Member, form, qjoin(base, strconv.Itoa(i)), depth+1)
			if err != nil {
				return nil, false, err
			}
			if !ok {
				break
			}
			out = append(out, v)
		}
		return out, out != nil, nil
	case "map":
		base := prefix
		if !(s.Flattened || ref.Flattened) {
			base = qjoin(prefix, "entry")
		}
		out := map[string]any{}
		for i := 1; i <= 1000; i++ {
			kname, vname := "key", "value"
			if s.Key.LocationName != "" {
				kname = s.Key.LocationName
			}
			if s.Value.LocationName != "" {
				vname = s.Value.LocationName
			}
			k, ok := form[qjoin(qjoin(base, strconv.Itoa(i)), kname)]
			if !ok || len(k) == 0 {
				break
			}
			v, _, err := m.queryValue(s.Value, form, qjoin(qjoin(base, strconv.Itoa(i)), vname), depth+1)
			if err != nil {
				return nil, false, err
			}
			out[k[0]] = v
		}
		return out, len(out) > 0, nil
	}
	vs, ok := form[prefix]
	if !ok || len(vs) == 0 {
		return nil, false, nil
	}
	raw := vs[0]
	switch s.Type {
	case "string":
		return raw, true, nil
	case "boolean":
		switch raw {
		case "true":
			return true, true, nil
		case "false":
			return false, true, nil
		}
	case "integer", "long":
		n, err := strconv.ParseInt(raw, 10, 64)
		if err == nil && (s.Type == "long" || (n <= math.MaxInt32 && n >= math.MinInt32)) {
			return n, true, nil
		}
	case "double", "float":
		f, err := strconv.ParseFloat(raw, 64)
		if err == nil {
			return f, true, nil
		}
	case "timestamp":
		t, err := ParseTime(raw)
		if err == nil {
			return t, true, nil
		}
	case "blob":
		b, err := base64.StdEncoding.DecodeString(raw)
		if err == nil {
			return b, true, nil
		}
	}
	return nil, false, errorf(KindInvalid, "Invalid value for the parameter %s: %q is not a valid %s.", prefix, clip(raw), s.Type)
}

func qjoin(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

var patternCache sync.Map // pattern -> *regexp.Regexp (nil: not a Go regexp)

// Validate checks a decoded structure against the model's constraints:
// required members, enums, string lengths, list sizes, numeric ranges and
// string patterns. The first violation is returned.
func (m *Model) Validate(shape string, v map[string]any) error {
	return m.validate(&ShapeRef{Shape: shape}, v, "")
}

func (m *Model) validate(ref *ShapeRef, v any, path string) error {
	s := m.Shape(ref.Shape)
	switch s.Type {
	case "structure":
		obj := v.(map[string]any)
		for _, r := range s.Required {
			if _, ok := obj[r]; !ok {
				return errorf(KindMissing, "The parameter %s is required.", join(path, r))
			}
		}
		for _, name := range s.memberNames() {
			if mv, ok := obj[name]; ok {
				if err := m.validate(s.Members[name], mv, join(path, name)); err != nil {
					return err
				}
			}
		}
	case "list":
		arr := v.([]any)
		if s.Min != nil && float64(len(arr)) < *s.Min || s.Max != nil && float64(len(arr)) > *s.Max {
			return errorf(KindInvalid, "The collection %s must have %s members.", path, rangeText(s))
		}
		for i, x := range arr {
			if err := m.validate(s.Member, x, fmt.Sprintf("%s.member.%d", path, i+1)); err != nil {
				return err
			}
		}
	case "map":
		for k, x := range v.(map[string]any) {
			if err := m.validate(s.Value, x, join(path, k)); err != nil {
				return err
			}
		}
	case "string":
		str := v.(string)
		n := utf8.RuneCountInString(str)
		if s.Min != nil && float64(n) < *s.Min || s.Max != nil && float64(n) > *s.Max {
			return errorf(KindInvalid, "The parameter %s must be %s characters long.", path, rangeText(s))
		}
		if len(s.Enum) > 0 && !contains(s.Enum, str) {
			return errorf(KindInvalid, "The parameter %s must be a value in the set %s.", path, enumText(s.Enum))
		}
		if s.Pattern != "" {
			var re *regexp.Regexp
			if c, ok := patternCache.Load(s.Pattern); ok {
				re = c.(*regexp.Regexp)
			} else {
				re, _ = regexp.Compile("^(?:" + s.Pattern + ")$")
				patternCache.Store(s.Pattern, re)
			}
			if re != nil && !re.MatchString(str) {
				return errorf(KindInvalid, "The parameter %s must match the pattern %s.", path, s.Pattern)
			}
		}
	case "integer", "long":
		n := float64(v.(int64))
		if s.Min != nil && n < *s.Min || s.Max != nil && n > *s.Max {
			return errorf(KindInvalid, "The parameter %s must be %s.", path, valueRangeText(s))
		}
	}
	return nil
}

func rangeText(s *Shape) string {
	switch {
	case s.Min != nil && s.Max != nil:
		return fmt.Sprintf("between %g and %g", *s.Min, *s.Max)
	case s.Min != nil:
		return fmt.Sprintf("at least %g", *s.Min)
	case s.Max != nil:
		return fmt.Sprintf("at most %g", *s.Max)
	}
	return "any number of"
}

func valueRangeText(s *Shape) string {
	switch {
	case s.Min != nil && s.Max != nil:
		return fmt.Sprintf("between %g and %g", *s.Min, *s.Max)
	case s.Min != nil:
		return fmt.Sprintf("greater than or equal to %g", *s.Min)
	case s.Max != nil:
		return fmt.Sprintf("less than or equal to %g", *s.Max)
	}
	return "a number"
}

func enumText(e []string) string {
	s := append([]string(nil), e...)
	sort.Strings(s)
	return "[" + strings.Join(s, ", ") + "]"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// FromTree fills a Go struct from a decoded tree (JSON tags name the
// model's members; time.Time fields take timestamps).
func FromTree(tree map[string]any, out any) error {
	b, err := json.Marshal(treeJSON(tree))
	if err != nil {
		return fmt.Errorf("awsproto: encode tree: %w", err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return errorf(KindSerialization, "Invalid request: %v", err)
	}
	return nil
}

// treeJSON prepares a tree for encoding/json: blobs as base64 (the default),
// times as RFC 3339, non-finite doubles as strings a float field refuses.
func treeJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = treeJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = treeJSON(e)
		}
		return out
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	}
	return v
}

// ToTree turns a Go struct (an output) into a tree of the given shape.
func (m *Model) ToTree(shape string, in any) (map[string]any, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("awsproto: encode output: %w", err)
	}
	tree, err := m.DecodeJSON(shape, b)
	if err != nil {
		return nil, fmt.Errorf("awsproto: output does not fit %s: %w", shape, err)
	}
	return tree, nil
}

// EncodeJSON writes a tree as an AWS JSON body (timestamps as epoch
// seconds).
func (m *Model) EncodeJSON(shape string, tree map[string]any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m.jsonValue(&ShapeRef{Shape: shape}, tree)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func (m *Model) jsonValue(ref *ShapeRef, v any) any {
	s := m.Shape(ref.Shape)
	switch s.Type {
	case "structure":
		obj := v.(map[string]any)
		out := make(map[string]any, len(obj))
		for k, x := range obj {
			if mref, ok := s.Members[k]; ok {
				out[k] = m.jsonValue(mref, x)
			}
		}
		return out
	case "list":
		arr := v.([]any)
		out := make([]any, len(arr))
		for i, x := range arr {
			out[i] = m.jsonValue(s.Member, x)
		}
		return out
	case "map":
		obj := v.(map[string]any)
		out := make(map[string]any, len(obj))
		for k, x := range obj {
			out[k] = m.jsonValue(s.Value, x)
		}
		return out
	case "timestamp":
		t := v.(time.Time)
		return json.Number(strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64))
	case "double", "float":
		f := v.(float64)
		switch {
		case math.IsNaN(f):
			return "NaN"
		case math.IsInf(f, 1):
			return "Infinity"
		case math.IsInf(f, -1):
			return "-Infinity"
		}
	}
	return v
}

var cborEnc = func() cbor.EncMode {
	e, err := cbor.EncOptions{Time: cbor.TimeUnixDynamic, TimeTag: cbor.EncTagRequired}.EncMode()
	if err != nil {
		panic(err)
	}
	return e
}()

// EncodeCBOR writes a tree as a Smithy RPC v2 CBOR body (timestamps as
// tag 1 epoch seconds).
func (m *Model) EncodeCBOR(shape string, tree map[string]any) ([]byte, error) {
	return cborEnc.Marshal(m.cborValue(&ShapeRef{Shape: shape}, tree))
}

// EncodeCBORValue writes any value as CBOR (for error bodies).
func EncodeCBORValue(v any) ([]byte, error) { return cborEnc.Marshal(v) }

func (m *Model) cborValue(ref *ShapeRef, v any) any {
	s := m.Shape(ref.Shape)
	switch s.Type {
	case "structure":
		obj := v.(map[string]any)
		out := make(map[string]any, len(obj))
		for k, x := range obj {
			if mref, ok := s.Members[k]; ok {
				out[k] = m.cborValue(mref, x)
			}
		}
		return out
	case "list":
		arr := v.([]any)
		out := make([]any, len(arr))
		for i, x := range arr {
			out[i] = m.cborValue(s.Member, x)
		}
		return out
	case "map":
		obj := v.(map[string]any)
		out := make(map[string]any, len(obj))
		for k, x := range obj {
			out[k] = m.cborValue(s.Value, x)
		}
		return out
	case "timestamp":
		t := v.(time.Time)
		return cbor.Tag{Number: 1, Content: float64(t.UnixNano()) / 1e9}
	}
	return v
}

// EncodeXML writes a tree as the body of an AWS query protocol response:
// <OpResponse xmlns=…><OpResult>…</OpResult><ResponseMetadata>….
func (m *Model) EncodeXML(op *Operation, tree map[string]any, requestID string) []byte {
	var b bytes.Buffer
	b.WriteString(`<` + op.Name + `Response xmlns="` + m.Metadata.XMLNamespace + `">`)
	if op.Output != nil {
		wrapper := op.Output.ResultWrapper
		if wrapper == "" {
			wrapper = op.Name + "Result"
		}
		b.WriteString("<" + wrapper + ">")
		m.xmlMembers(&b, m.Shape(op.Output.Shape), tree)
		b.WriteString("</" + wrapper + ">")
	}
	b.WriteString("<ResponseMetadata><RequestId>" + xmlEscape(requestID) + "</RequestId></ResponseMetadata>")
	b.WriteString(`</` + op.Name + `Response>`)
	return b.Bytes()
}

func (m *Model) xmlMembers(b *bytes.Buffer, s *Shape, obj map[string]any) {
	for _, name := range s.memberNames() {
		v, ok := obj[name]
		if !ok {
			continue
		}
		ref := s.Members[name]
		tag := name
		if ref.LocationName != "" {
			tag = ref.LocationName
		}
		m.xmlValue(b, ref, tag, v)
	}
}

func (m *Model) xmlValue(b *bytes.Buffer, ref *ShapeRef, tag string, v any) {
	s := m.Shape(ref.Shape)
	switch s.Type {
	case "structure":
		b.WriteString("<" + tag + ">")
		m.xmlMembers(b, s, v.(map[string]any))
		b.WriteString("</" + tag + ">")
	case "list":
		item := "member"
		if s.Member.LocationName != "" {
			item = s.Member.LocationName
		}
		if s.Flattened || ref.Flattened {
			for _, x := range v.([]any) {
				m.xmlValue(b, s.Member, tag, x)
			}
			return
		}
		b.WriteString("<" + tag + ">")
		for _, x := range v.([]any) {
			m.xmlValue(b, s.Member, item, x)
		}
		b.WriteString("</" + tag + ">")
	case "map":
		obj := v.(map[string]any)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("<" + tag + ">")
		for _, k := range keys {
			b.WriteString("<entry><key>" + xmlEscape(k) + "</key>")
			m.xmlValue(b, s.Value, "value", obj[k])
			b.WriteString("</entry>")
		}
		b.WriteString("</" + tag + ">")
	default:
		b.WriteString("<" + tag + ">" + xmlEscape(scalarText(s, v)) + "</" + tag + ">")
	}
}

func scalarText(s *Shape, v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN"
		case math.IsInf(x, 1):
			return "Infinity"
		case math.IsInf(x, -1):
			return "-Infinity"
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		if x.Nanosecond() == 0 {
			return x.UTC().Format("2006-01-02T15:04:05Z")
		}
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	}
	return fmt.Sprint(v)
}

func xmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		case '\r':
			b.WriteString("&#13;")
		default:
			if r < 0x20 && r != '\n' && r != '\t' || r == 0xFFFE || r == 0xFFFF {
				b.WriteString("\uFFFD")
				continue
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// XMLError writes the body of a query protocol error.
func XMLError(namespace, errType, code, message, requestID string) []byte {
	return []byte(`<ErrorResponse xmlns="` + namespace + `"><Error><Type>` + errType + `</Type><Code>` + xmlEscape(code) +
		`</Code><Message>` + xmlEscape(message) + `</Message></Error><RequestId>` + xmlEscape(requestID) + `</RequestId></ErrorResponse>`)
}
