package flinkplane

import (
	"strconv"
	"strings"
)

// RuntimeID is a RuntimeEnvironment value of the API, e.g. "FLINK-1_20".
type RuntimeID string

// Runtime identifiers the service can run (the catalog in runtime/ maps each
// to an exact Flink patch version).
const (
	RuntimeFlink118 RuntimeID = "FLINK-1_18"
	RuntimeFlink119 RuntimeID = "FLINK-1_19"
	RuntimeFlink120 RuntimeID = "FLINK-1_20"
	RuntimeFlink22  RuntimeID = "FLINK-2_2"
	RuntimeFlink23  RuntimeID = "FLINK-2_3"
)

// IsFlink reports whether id names a Flink runtime ("FLINK-x_y").
func (id RuntimeID) IsFlink() bool {
	_, _, ok := id.Version()
	return ok
}

// Version returns the Flink major and minor version of a "FLINK-x_y" id.
func (id RuntimeID) Version() (major, minor int, ok bool) {
	s, found := strings.CutPrefix(string(id), "FLINK-")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(s, "_")
	if !found {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(a)
	minor, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return major, minor, true
}

// Compare orders two Flink runtimes by version: -1, 0 or +1. Non-Flink
// runtimes sort before Flink ones.
func (id RuntimeID) Compare(other RuntimeID) int {
	a1, b1, _ := id.Version()
	a2, b2, _ := other.Version()
	switch {
	case a1 != a2:
		return cmpInt(a1, a2)
	default:
		return cmpInt(b1, b2)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CanRestore reports whether a snapshot taken on runtime `taken` may be
// handed to runtime `target`. A snapshot is never handed to an older major
// version (a 2.x savepoint cannot be read by 1.x: its _metadata version is
// newer than 1.x understands), nor to an older minor version (Flink does not
// promise downgrades).
func CanRestore(taken, target RuntimeID) bool {
	return taken.Compare(target) <= 0
}
