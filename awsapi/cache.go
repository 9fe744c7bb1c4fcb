package awsapi

import (
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/lru"
)

// rawJSON is a response body already encoded.
type rawJSON []byte

// responseCache keeps the encoded DescribeApplication response of each
// application, keyed by everything of the application head the response
// shows. The store stays the truth: every request reads the application
// (through the store's own cache) and an entry is used only if it was
// rendered from the same head.
//
// It keeps at most max entries (least recently used out; 0 means
// defaultCachedResponses).
type responseCache struct {
	mu      sync.Mutex
	max     int
	entries *lru.Cache[string, cacheEntry]
}

type cacheKey struct {
	version int64
	status  string
	token   string
	updated time.Time
	window  string
	runtime flinkplane.RuntimeID
}

type cacheEntry struct {
	key  cacheKey
	body rawJSON
}

const defaultCachedResponses = 10000

func keyOf(a *flinkplane.Application) cacheKey {
	return cacheKey{a.VersionID, a.Status, a.ConditionalToken, a.UpdateTime, a.MaintenanceWindow, a.RuntimeEnvironment}
}

func (c *responseCache) get(a *flinkplane.Application) rawJSON {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		return nil
	}
	if e, ok := c.entries.Get(a.Name); ok && e.key == keyOf(a) {
		return e.body
	}
	return nil
}

func (c *responseCache) put(a *flinkplane.Application, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		n := c.max
		if n == 0 {
			n = defaultCachedResponses
		}
		c.entries = lru.New[string, cacheEntry](n)
	}
	c.entries.Put(a.Name, cacheEntry{keyOf(a), body})
}
