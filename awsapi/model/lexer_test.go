package model

import (
	"encoding/json"
	"testing"
)

// lexValid reports whether the lexer accepts data as one JSON value.
func lexValid(data []byte) bool {
	l := &lexer{b: data}
	if err := l.skip(0, 10000); err != nil {
		return false
	}
	l.peek()
	return l.i == len(data)
}

var lexerSeeds = []string{
	`{}`, `[]`, `{"a":[1,2.5,-3e+2,true,false,null,"x"]}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a" 1}`,
	`"\u00e9\ud83d\ude00\ud83d\u0041\udc00"`, `"\x"`, "\"a\x01\"", "\"\xff\xfe\"", `01`, `-`, `1.`, `.5`, `1e`, `-0.0E-0`,
	`nul`, `truex`, ` true `, `"\"\\\/\b\f\n\r\t"`, `{"a":{"b":{"c":[[]]}}}`, "\ufeff{}", `{"a":1}{}`, `"\ud800"`, `"\ud800\u"`,
}

func TestLexer_AgreesWithEncodingJSON(t *testing.T) {
	for _, s := range lexerSeeds {
		if got, want := lexValid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("%q: lexer valid = %v, encoding/json = %v", s, got, want)
		}
		checkString(t, []byte(s))
	}
}

func checkString(t *testing.T, data []byte) {
	var want string
	if json.Unmarshal(data, &want) != nil {
		return
	}
	l := &lexer{b: data}
	got, err := l.string()
	if err != nil {
		t.Fatalf("%q: lexer string: %v", data, err)
	}
	if got != want {
		t.Fatalf("%q: lexer string %q, encoding/json %q", data, got, want)
	}
}

// FuzzLexer checks that the lexer accepts exactly what encoding/json
// accepts and decodes strings identically.
func FuzzLexer(f *testing.F) {
	for _, s := range lexerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := lexValid(data), json.Valid(data); got != want {
			t.Fatalf("%q: lexer valid = %v, encoding/json = %v", data, got, want)
		}
		checkString(t, data)
	})
}
