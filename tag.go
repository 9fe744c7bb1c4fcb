package flinkplane

// MaxTags is the number of user-defined tags an application may carry.
const MaxTags = 50

// Tag is a key/value pair on an application.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Tags understood by flinkplane itself.
const (
	// TagCompatCheck selects what a compatibility finding of ERROR severity
	// does to an UpdateApplication that changes the runtime or the code:
	// "enforce" (default) rejects the update, "warn" records the findings
	// and proceeds.
	TagCompatCheck = "flinkplane:compat-check"
)
