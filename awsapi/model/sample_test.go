package model

import (
	"encoding/json"
	"strings"
	"testing"
)

// sample builds a JSON value of shape sh that satisfies every constraint:
// with full, every member of every structure is present; otherwise only
// required members.
func sample(t testing.TB, sh *schemaShape, full bool) any {
	t.Helper()
	switch sh.kind {
	case kindStructure:
		obj := map[string]any{}
		for i, m := range sh.members {
			if full || isRequired(sh, i) {
				obj[m.name] = sample(t, m.shape, full)
			}
		}
		return obj
	case kindList:
		return []any{sample(t, sh.elem, full)}
	case kindMap:
		return map[string]any{sample(t, sh.key, full).(string): sample(t, sh.val, full)}
	case kindBoolean:
		return true
	case kindTimestamp:
		return json.Number("1700000000.123")
	case kindBlob:
		return "UEsDBA=="
	case kindInteger, kindLong, kindDouble:
		if sh.min != nil {
			return json.Number(formatBound(*sh.min))
		}
		return json.Number("1")
	}
	if sh.enum != nil {
		for _, v := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(sh.enumMsg, "Member must satisfy enum value set: ["), "]"), ", ") {
			return v
		}
	}
	for _, c := range []string{"a", "arn:aws:kinesisanalytics:us-east-1:123456789012:application/a", "UTF-8", "12:00", "$.a"} {
		if sh.min != nil && float64(len(c)) < *sh.min {
			c += strings.Repeat("a", int(*sh.min)-len(c))
		}
		if (&validator{}).satisfies(sh, c) {
			return c
		}
	}
	t.Fatalf("no sample string satisfies shape %s", sh.name)
	return nil
}

func sampleBodies(t testing.TB) map[string][2][]byte {
	t.Helper()
	s, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2][]byte{}
	for _, op := range Operations() {
		var bodies [2][]byte
		for i, full := range []bool{false, true} {
			b, err := json.Marshal(sample(t, s.ops[op.Name], full))
			if err != nil {
				t.Fatal(err)
			}
			bodies[i] = b
		}
		out[op.Name] = bodies
	}
	return out
}

// TestValidate_EveryOperation checks that a minimal and a complete valid
// request of every operation pass validation, decode into the input struct
// and stay valid when re-encoded from it.
func TestValidate_EveryOperation(t *testing.T) {
	for op, bodies := range sampleBodies(t) {
		for _, body := range bodies {
			if err := Validate(op, body); err != nil {
				t.Fatalf("%s %s: %v", op, body, err)
			}
			in := NewInput(op)
			if err := DecodeInput(op, body, in); err != nil {
				t.Fatalf("%s: decode: %v", op, err)
			}
			again, _ := json.Marshal(in)
			if err := Validate(op, again); err != nil {
				t.Fatalf("%s: re-encoded %s: %v", op, again, err)
			}
		}
		// Dropping the body entirely must name every required member.
		if err := Validate(op, []byte(`{}`)); err != nil && !strings.Contains(err.Error(), "Member must not be null") {
			t.Fatalf("%s {}: %v", op, err)
		}
	}
}
