package engine

import (
	"fmt"
	"strings"

	"github.com/flinkplane/flinkplane"
)

// maxErrorInfo is the length limit of ErrorInfo.ErrorString in the API.
const maxErrorInfo = 512

// rejectedErrorInfo is the ErrorString of an update the pre-flight refused:
// as many whole ERROR findings as fit in the API's 512 characters, never one
// cut in the middle (a single finding too long for the room alone loses its
// hint, then the end of its message), then how many are left out and where
// the full list is: `flinkplane check operation` and the findings kept with
// the operation (DescribeApplicationOperation's
// FlinkplaneCompatibilityFindings).
func rejectedErrorInfo(app, opID string, target flinkplane.RuntimeID, findings []flinkplane.Finding) string {
	var errs []flinkplane.Finding
	for _, f := range findings {
		if f.Severity == flinkplane.SeverityError {
			errs = append(errs, f)
		}
	}
	head := fmt.Sprintf("PREFLIGHT: The compatibility check against %s failed; the application was not changed:", target)
	where := fmt.Sprintf("flinkplane check operation --application-name %s --operation-id %s", app, opID)
	tail := func(shown int) string {
		rest := len(errs) - shown
		others := len(findings) - len(errs)
		switch {
		case rest == 0 && others == 0:
			return " Details: " + where
		case rest == 0:
			return fmt.Sprintf(" %d warning(s) and note(s) besides: %s", others, where)
		}
		return fmt.Sprintf(" %d more error(s) of %d finding(s): %s", rest, len(findings), where)
	}
	var b strings.Builder
	b.WriteString(head)
	shown := 0
	for i, f := range errs {
		part := " " + findingText(f, true) + ";"
		if b.Len()+len(part)+len(tail(i+1)) > maxErrorInfo {
			if shown == 0 { // not even one whole finding fits: the first, shortened
				room := maxErrorInfo - b.Len() - len(tail(1)) - 2
				part = " " + findingText(f, false)
				if len(part) > room {
					part = strings.TrimRight(clipRunes(part, room-3), " ") + "…"
				}
				b.WriteString(part + ";")
				shown = 1
			}
			break
		}
		b.WriteString(part)
		shown++
	}
	s := b.String() + tail(shown)
	if len(s) > maxErrorInfo { // an application name or id beyond any real one
		s = clipRunes(s, maxErrorInfo-3) + "..."
	}
	return s
}

// findingText is one finding as the refusal states it: [CODE message] in
// Class.method (hint: ...).
func findingText(f flinkplane.Finding, hint bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s %s]", f.Code, sanitizeCause(f.Message))
	if f.Class != "" {
		fmt.Fprintf(&b, " in %s", f.Class)
		if f.Method != "" {
			fmt.Fprintf(&b, ".%s", f.Method)
		}
	}
	if hint && f.Hint != "" {
		fmt.Fprintf(&b, " (hint: %s)", sanitizeCause(f.Hint))
	}
	return b.String()
}

// clipRunes returns the longest prefix of s of at most n bytes that ends
// on a rune boundary.
func clipRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
