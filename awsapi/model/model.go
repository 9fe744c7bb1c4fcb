// Package model is the wire-level model of the kinesisanalyticsv2 API
// (Amazon Managed Service for Apache Flink, AWS JSON 1.1), generated from
// the AWS service model service-2.json, which is embedded.
//
// shapes_gen.go holds one Go type per shape of the model, with the model's
// exact names and JSON member names:
//   - structures are structs; optional scalar members are pointers (absent is
//     not the zero value), required scalar members are values without
//     omitempty (required timestamps use omitzero, as the zero time is never
//     a real value), nested structures are pointers, lists are []T, maps are
//     map[string]string, blobs are []byte (base64 in JSON) and timestamps
//     are Timestamp (epoch seconds as a JSON number);
//   - enums are string types with one constant per value, named like the
//     AWS SDK for Go v2 names them (RuntimeEnvironmentFlink120 = "FLINK-1_20").
//
// A nil slice in a required list member marshals as null: handlers set an
// empty, non-nil slice when a required list is empty.
//
// Validate checks a request body against every constraint of the model
// before it is decoded into these types; see validate.go.
package model

//go:generate go run ./gen -in service-2.json -out shapes_gen.go

import (
	_ "embed"
	"sort"
	"strings"

	"github.com/flinkplane/flinkplane"
)

// ServiceJSON is the AWS service model (botocore service-2.json) this
// package was generated from.
//
//go:embed service-2.json
var ServiceJSON []byte

// Operation is one operation of the model: its name, the names of its input
// and output shapes and the names of the error shapes it declares.
type Operation struct {
	Name   string
	Input  string
	Output string
	Errors []string
}

// Target returns the X-Amz-Target header value of the operation, e.g.
// "KinesisAnalytics_20180523.CreateApplication".
func (o Operation) Target() string { return TargetPrefix + "." + o.Name }

// HasError reports whether the operation declares the error shape name.
func (o Operation) HasError(name string) bool {
	for _, e := range o.Errors {
		if e == name {
			return true
		}
	}
	return false
}

// Operations returns every operation of the model, sorted by name. The
// result is a copy the caller may modify.
func Operations() []Operation {
	out := make([]Operation, len(operations))
	for i, o := range operations {
		o.Errors = append([]string(nil), o.Errors...)
		out[i] = o
	}
	return out
}

// LookupOperation returns the operation called name.
func LookupOperation(name string) (Operation, bool) {
	i := sort.Search(len(operations), func(i int) bool { return operations[i].Name >= name })
	if i < len(operations) && operations[i].Name == name {
		o := operations[i]
		o.Errors = append([]string(nil), o.Errors...)
		return o, true
	}
	return Operation{}, false
}

// ParseTarget returns the operation named by an X-Amz-Target header value,
// "KinesisAnalytics_20180523.<Operation>". A missing or malformed target, a
// different API (e.g. the v1 KinesisAnalytics_20150814) or an operation not
// in the model returns an *flinkplane.Error with code EUNKNOWNOPERATION
// (UnknownOperationException, see ProtocolError).
func ParseTarget(target string) (Operation, error) {
	name, ok := strings.CutPrefix(target, TargetPrefix+".")
	if ok {
		if op, found := LookupOperation(name); found {
			return op, nil
		}
	}
	if target == "" {
		return Operation{}, flinkplane.Errorf(EUNKNOWNOPERATION, "Missing X-Amz-Target header.")
	}
	return Operation{}, flinkplane.Errorf(EUNKNOWNOPERATION, "Operation %s is not supported by this service.", truncate(target, 256))
}

// Exception is an exception shape of the model. Fault is true for server
// faults (5xx), false for client errors (400).
type Exception struct {
	Name  string
	Fault bool
}

// Exceptions returns the model's exception shapes, sorted by name.
func Exceptions() []Exception { return append([]Exception(nil), exceptions...) }

// Ptr returns a pointer to v, for optional members.
func Ptr[T any](v T) *T { return &v }

// Value returns *p, or the zero value of T when p is nil.
func Value[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
