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
	// TagProbationWindow overrides the server's probation window for the
	// application: seconds ("30") or a duration ("90s", "2m"); "0" checks
	// only that all tasks run and a checkpoint completes.
	TagProbationWindow = "flinkplane:probation-window"
	// TagAutoRollback overrides the server's automatic rollback policy:
	// "off" or "<restarts>/<window>" ("3/5m": three restarts within five
	// minutes after an update roll it back).
	TagAutoRollback = "flinkplane:auto-rollback"
	// TagMigrateState overrides the server's state migration setting for
	// the application: "on" lets an UpdateApplication whose only
	// compatibility errors are state the migration can move migrate that
	// state (step MIGRATE_STATE) instead of being rejected; "off" does not.
	TagMigrateState = "flinkplane:migrate-state"
)

// TagValue returns the value of the tag key, if present.
func TagValue(tags []Tag, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}
