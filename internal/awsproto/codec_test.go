package awsproto_test

import (
	"bytes"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane/internal/awsproto"
	"github.com/fxamacker/cbor/v2"
)

const testModel = `{
 "metadata": {"protocol": "query", "xmlNamespace": "urn:test", "targetPrefix": "T"},
 "operations": {"Op": {"name": "Op", "input": {"shape": "In"}, "output": {"shape": "Out", "resultWrapper": "OpResult"}}},
 "shapes": {
  "In": {"type": "structure", "required": ["Name"], "members": {
    "Name": {"shape": "Name"}, "Count": {"shape": "Int"}, "When": {"shape": "Time"}, "Ratio": {"shape": "Double"},
    "Tags": {"shape": "Tags"}, "Dims": {"shape": "Dims"}, "Attrs": {"shape": "Attrs"}, "Flag": {"shape": "Bool"}, "Kind": {"shape": "Kind"}}},
  "Out": {"type": "structure", "members": {"Items": {"shape": "Dims"}, "At": {"shape": "Time"}, "Value": {"shape": "Double"}}},
  "Name": {"type": "string", "min": 1, "max": 5},
  "Int": {"type": "integer", "min": 1},
  "Time": {"type": "timestamp"},
  "Double": {"type": "double"},
  "Bool": {"type": "boolean"},
  "Kind": {"type": "string", "enum": ["A", "B"]},
  "Tags": {"type": "list", "member": {"shape": "Name"}, "max": 2},
  "Dims": {"type": "list", "member": {"shape": "Dim"}},
  "Dim": {"type": "structure", "required": ["N"], "members": {"N": {"shape": "Name"}, "V": {"shape": "Name"}}},
  "Attrs": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Int"}}
 }}`

func model(t *testing.T) *awsproto.Model {
	t.Helper()
	m, err := awsproto.Load([]byte(testModel))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var when = time.Date(2026, 1, 2, 3, 4, 5, 500000000, time.UTC)

func want() map[string]any {
	return map[string]any{"Name": "ab", "Count": int64(3), "When": when, "Ratio": 0.25, "Tags": []any{"x", "y"},
		"Dims": []any{map[string]any{"N": "n", "V": "v"}}, "Attrs": map[string]any{"k": int64(7)}, "Flag": true, "Kind": "B"}
}

// The three wire forms of one request decode to the same tree.
func TestDecode_Protocols(t *testing.T) {
	m := model(t)
	j, err := m.DecodeJSON("In", []byte(`{"Name":"ab","Count":3,"When":1767323045.5,"Ratio":0.25,"Tags":["x","y"],
		"Dims":[{"N":"n","V":"v"}],"Attrs":{"k":7},"Flag":true,"Kind":"B","Unknown":1,"V":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(j, want()) {
		t.Errorf("json: %#v", j)
	}
	body, _ := cbor.Marshal(map[string]any{"Name": "ab", "Count": 3, "When": cbor.Tag{Number: 1, Content: 1767323045.5}, "Ratio": 0.25,
		"Tags": []string{"x", "y"}, "Dims": []any{map[string]any{"N": "n", "V": "v"}}, "Attrs": map[string]any{"k": 7}, "Flag": true, "Kind": "B"})
	c, err := m.DecodeCBOR("In", body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, want()) {
		t.Errorf("cbor: %#v", c)
	}
	form, _ := url.ParseQuery("Name=ab&Count=3&When=2026-01-02T03:04:05.500000Z&Ratio=0.25&Tags.member.1=x&Tags.member.2=y" +
		"&Dims.member.1.N=n&Dims.member.1.V=v&Attrs.entry.1.key=k&Attrs.entry.1.value=7&Flag=true&Kind=B")
	q, err := m.DecodeQuery("In", form)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q, want()) {
		t.Errorf("query: %#v", q)
	}
}

func TestDecode_Errors(t *testing.T) {
	m := model(t)
	for _, c := range []struct {
		body, kind, msg string
	}{
		{`{"Name":1}`, awsproto.KindSerialization, "Name"},
		{`{"Name":"ab","Count":1.5}`, awsproto.KindSerialization, "Count"},
		{`{"Name":"ab","Count":99999999999}`, awsproto.KindInvalid, "out of range"},
		{`{"Name":"ab"} x`, awsproto.KindSerialization, "Malformed"},
		{`[]`, awsproto.KindSerialization, "structure"},
		{`{"Name":"ab","When":"yesterday"}`, awsproto.KindInvalid, "timestamp"},
	} {
		_, err := m.DecodeJSON("In", []byte(c.body))
		var e *awsproto.Error
		if !errors.As(err, &e) || e.Kind != c.kind || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%s: %v", c.body, err)
		}
	}
	for _, c := range []struct {
		body, kind, msg string
	}{
		{`{}`, awsproto.KindMissing, "The parameter Name is required."},
		{`{"Name":"abcdef"}`, awsproto.KindInvalid, "between 1 and 5 characters"},
		{`{"Name":"a","Count":0}`, awsproto.KindInvalid, "greater than or equal to 1"},
		{`{"Name":"a","Kind":"C"}`, awsproto.KindInvalid, "[A, B]"},
		{`{"Name":"a","Tags":["a","b","c"]}`, awsproto.KindInvalid, "at most 2"},
		{`{"Name":"a","Dims":[{"V":"v"}]}`, awsproto.KindMissing, "Dims.member.1.N"},
	} {
		tree, err := m.DecodeJSON("In", []byte(c.body))
		if err == nil {
			err = m.Validate("In", tree)
		}
		var e *awsproto.Error
		if !errors.As(err, &e) || e.Kind != c.kind || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%s: %v", c.body, err)
		}
	}
}

type out struct {
	Items []struct {
		N string `json:"N"`
	} `json:"Items"`
	At    time.Time `json:"At"`
	Value float64   `json:"Value"`
}

// Outputs encode with each protocol's timestamp form.
func TestEncode(t *testing.T) {
	m := model(t)
	tree, err := m.ToTree("Out", out{Items: []struct {
		N string `json:"N"`
	}{{N: "a<b"}}, At: when, Value: 2.5})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := m.EncodeJSON("Out", tree)
	if got := string(j); got != `{"At":1767323045.5,"Items":[{"N":"a<b"}],"Value":2.5}` {
		t.Errorf("json = %s", got)
	}
	c, _ := m.EncodeCBOR("Out", tree)
	var back map[string]any
	if err := cbor.Unmarshal(c, &back); err != nil {
		t.Fatal(err)
	}
	if at, ok := back["At"].(time.Time); !ok || !at.Equal(when) {
		t.Errorf("cbor At = %#v", back["At"])
	}
	if !bytes.Contains(c, []byte{0xc1, 0xfb}) { // tag 1, float64
		t.Errorf("cbor timestamp is not tag 1 with a double: %x", c)
	}
	x := string(m.EncodeXML(m.Operations["Op"], tree, "rid"))
	if want := `<OpResponse xmlns="urn:test"><OpResult><At>2026-01-02T03:04:05.500Z</At><Items><member><N>a&lt;b</N></member></Items>` +
		`<Value>2.5</Value></OpResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></OpResponse>`; x != want {
		t.Errorf("xml =\n%s\nwant\n%s", x, want)
	}
}

func TestFromTree(t *testing.T) {
	var in struct {
		Name  string         `json:"Name"`
		When  time.Time      `json:"When"`
		Count int64          `json:"Count"`
		Attrs map[string]int `json:"Attrs"`
	}
	if err := awsproto.FromTree(want(), &in); err != nil {
		t.Fatal(err)
	}
	if in.Name != "ab" || !in.When.Equal(when) || in.Count != 3 || in.Attrs["k"] != 7 {
		t.Errorf("%+v", in)
	}
}
