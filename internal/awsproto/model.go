// Package awsproto reads and writes the bodies of AWS protocols from a
// service's model (botocore's service-2.json, trimmed to the operations a
// server implements by cmd/trim): AWS JSON 1.0/1.1, Smithy RPC v2 CBOR and
// the AWS query protocol with its XML responses.
//
// Bodies decode into a value tree checked against the model's shapes:
// structures are map[string]any, lists []any, maps map[string]any, and the
// scalars string, int64 (integer, long), float64 (double, float), bool,
// time.Time (timestamp) and []byte (blob). Trees convert to and from the
// servers' Go structs with FromTree and ToTree (through encoding/json, so
// struct fields carry the model's member names as JSON tags).
package awsproto

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Model is a service model.
type Model struct {
	Metadata   Metadata              `json:"metadata"`
	Operations map[string]*Operation `json:"operations"`
	Shapes     map[string]*Shape     `json:"shapes"`
}

// Metadata is the model's metadata.
type Metadata struct {
	APIVersion   string `json:"apiVersion"`
	Protocol     string `json:"protocol"`
	TargetPrefix string `json:"targetPrefix"`
	JSONVersion  string `json:"jsonVersion"`
	XMLNamespace string `json:"xmlNamespace"`
	ServiceID    string `json:"serviceId"`
	UID          string `json:"uid"`
}

// Operation is one operation of the model.
type Operation struct {
	Name   string     `json:"name"`
	Input  *ShapeRef  `json:"input"`
	Output *ShapeRef  `json:"output"`
	Errors []ShapeRef `json:"errors"`
}

// ShapeRef refers to a shape.
type ShapeRef struct {
	Shape           string `json:"shape"`
	LocationName    string `json:"locationName,omitempty"`
	ResultWrapper   string `json:"resultWrapper,omitempty"`
	TimestampFormat string `json:"timestampFormat,omitempty"`
	Flattened       bool   `json:"flattened,omitempty"`
}

// Shape is one shape of the model.
type Shape struct {
	Type            string               `json:"type"`
	Members         map[string]*ShapeRef `json:"members,omitempty"`
	Required        []string             `json:"required,omitempty"`
	Member          *ShapeRef            `json:"member,omitempty"`
	Key             *ShapeRef            `json:"key,omitempty"`
	Value           *ShapeRef            `json:"value,omitempty"`
	Enum            []string             `json:"enum,omitempty"`
	Min             *float64             `json:"min,omitempty"`
	Max             *float64             `json:"max,omitempty"`
	Pattern         string               `json:"pattern,omitempty"`
	Flattened       bool                 `json:"flattened,omitempty"`
	TimestampFormat string               `json:"timestampFormat,omitempty"`
	Exception       bool                 `json:"exception,omitempty"`
	Error           *ErrorTrait          `json:"error,omitempty"`
	Deprecated      bool                 `json:"deprecated,omitempty"`
	XMLOrder        []string             `json:"xmlOrder,omitempty"`
}

// ErrorTrait is an exception's error trait (awsQueryError).
type ErrorTrait struct {
	Code           string `json:"code,omitempty"`
	HTTPStatusCode int    `json:"httpStatusCode,omitempty"`
	SenderFault    bool   `json:"senderFault,omitempty"`
}

// Load parses a model.
func Load(b []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	for name, op := range m.Operations {
		if op.Name == "" {
			op.Name = name
		}
	}
	return &m, nil
}

// Shape returns a shape by name (it panics on a name the model lacks:
// models are checked when they are trimmed).
func (m *Model) Shape(name string) *Shape {
	s := m.Shapes[name]
	if s == nil {
		panic("awsproto: no shape " + name)
	}
	return s
}

// memberNames returns a structure's member names in a stable order: the
// model's xmlOrder, then the others by name.
func (s *Shape) memberNames() []string {
	names := make([]string, 0, len(s.Members))
	seen := map[string]bool{}
	for _, n := range s.XMLOrder {
		if _, ok := s.Members[n]; ok && !seen[n] {
			names = append(names, n)
			seen[n] = true
		}
	}
	var rest []string
	for n := range s.Members {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// Trim returns the part of m that the named operations reach: their
// inputs, outputs and errors and every shape those refer to, without
// documentation.
func Trim(m *Model, ops []string) (*Model, error) {
	out := &Model{Metadata: m.Metadata, Operations: map[string]*Operation{}, Shapes: map[string]*Shape{}}
	var visit func(name string) error
	visit = func(name string) error {
		if _, ok := out.Shapes[name]; ok {
			return nil
		}
		s, ok := m.Shapes[name]
		if !ok {
			return fmt.Errorf("trim: no shape %s", name)
		}
		out.Shapes[name] = s
		var refs []*ShapeRef
		for _, r := range s.Members {
			refs = append(refs, r)
		}
		refs = append(refs, s.Member, s.Key, s.Value)
		for _, r := range refs {
			if r != nil {
				if err := visit(r.Shape); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, name := range ops {
		op, ok := m.Operations[name]
		if !ok {
			return nil, fmt.Errorf("trim: no operation %s", name)
		}
		out.Operations[name] = op
		for _, r := range append([]*ShapeRef{op.Input, op.Output}, refsOf(op.Errors)...) {
			if r != nil {
				if err := visit(r.Shape); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

func refsOf(rs []ShapeRef) []*ShapeRef {
	out := make([]*ShapeRef, len(rs))
	for i := range rs {
		out[i] = &rs[i]
	}
	return out
}
