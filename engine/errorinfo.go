package engine

import (
	"path"
	"regexp"
	"strings"
)

// What an operation's ErrorInfo shows API clients: the cause, as Flink or
// flinkplane states it, but no server paths, process ids or JVM output.
// Those stay in the logs, which the message names.

// logPointer ends an ErrorInfo whose cause was shortened.
const logPointer = "Details are in the server log and in the Flink logs of the application's cluster (jobmanager.log, taskmanager-N.log: flinkplane logs --application-name NAME)."

var (
	// An absolute path or file: URI, after a separator.
	pathRE = regexp.MustCompile(`(^|[\s'"(\[=,:])((?:file:)?/+[^\s'"()\[\],;]+)`)
	// A process id.
	pidRE = regexp.MustCompile(`\s*\(?\bpid:? ?\d+\)?|\bprocess \d+\b`)
)

// sanitizeCause returns the first line of msg with every absolute path
// replaced by its last element and process ids removed.
func sanitizeCause(msg string) string {
	msg = strings.TrimSpace(msg)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	msg = pathRE.ReplaceAllStringFunc(msg, func(m string) string {
		sub := pathRE.FindStringSubmatch(m)
		p := strings.TrimPrefix(sub[2], "file:")
		base := path.Base(strings.TrimRight(p, "/"))
		if base == "/" || base == "." {
			base = "…"
		}
		return sub[1] + base
	})
	msg = pidRE.ReplaceAllStringFunc(msg, func(m string) string {
		if strings.Contains(m, "process") {
			return "a process"
		}
		return ""
	})
	return strings.TrimSpace(msg)
}
