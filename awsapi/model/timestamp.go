package model

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"time"
)

// Timestamp is a point in time as AWS JSON 1.1 carries it: a JSON number of
// seconds since the Unix epoch, with a fractional part for sub-second
// precision (e.g. 1700000000.123). Precision is the millisecond, as in the
// AWS SDKs: MarshalJSON truncates to the millisecond and UnmarshalJSON
// rounds to the nearest millisecond, so a value survives a round trip
// through any AWS client unchanged.
type Timestamp struct {
	time.Time
}

// NewTimestamp returns t truncated to the millisecond, in UTC.
func NewTimestamp(t time.Time) Timestamp {
	return Timestamp{time.UnixMilli(t.UnixMilli()).UTC()}
}

// Bounds of a Timestamp in epoch seconds: years 0001 to 9999, as in the
// AWS SDKs' date handling. Numbers outside are rejected.
const (
	minEpochSeconds = -62135596800
	maxEpochSeconds = 253402300799
)

// ErrTimestamp is returned by UnmarshalJSON for a value that is not a JSON
// number of epoch seconds within years 0001–9999.
var ErrTimestamp = errors.New("expected Timestamp to be a JSON Number of epoch seconds")

// MarshalJSON writes the epoch seconds as a JSON number with up to three
// decimals (trailing zeros dropped): 1700000000, 1700000000.5,
// 1700000000.123.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return t.AppendEpochSeconds(nil), nil
}

// AppendEpochSeconds appends the JSON number MarshalJSON writes to b.
func (t Timestamp) AppendEpochSeconds(b []byte) []byte {
	ms := t.UnixMilli()
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	if sec < 0 && frac != 0 {
		// -1.5 s is sec=-2, frac=500: write it as -(1.500).
		b = append(b, '-')
		neg := -ms
		sec, frac = neg/1000, neg%1000
	}
	b = strconv.AppendInt(b, sec, 10)
	if frac != 0 {
		d := [4]byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
		n := 4
		for d[n-1] == '0' {
			n--
		}
		b = append(b, d[:n]...)
	}
	return b
}

// UnmarshalJSON reads a JSON number of epoch seconds (integer, decimal or
// exponent form). null leaves t unchanged; anything else, and numbers
// outside years 0001–9999, return ErrTimestamp.
func (t *Timestamp) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		return nil
	}
	v, err := ParseEpochSeconds(string(data))
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// ParseEpochSeconds parses a JSON number of epoch seconds and returns the
// time rounded to the millisecond, in UTC.
func ParseEpochSeconds(s string) (time.Time, error) {
	if !isJSONNumber(s) {
		return time.Time{}, ErrTimestamp
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < minEpochSeconds || f > maxEpochSeconds+0.999 {
		return time.Time{}, ErrTimestamp
	}
	return time.UnixMilli(int64(math.Round(f * 1000))).UTC(), nil
}

// isJSONNumber reports whether s is a number in JSON syntax.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(s)
}
