// Package lru is a small least-recently-used cache with a bound on the
// number of entries. It is not safe for concurrent use: callers hold their
// own lock.
package lru

import "container/list"

// Cache keeps up to Max entries; adding one more evicts the least recently
// used. Max <= 0 means no bound.
type Cache[K comparable, V any] struct {
	Max int
	// OnEvict, if set, is called with each entry evicted to make room
	// (not with those removed by Delete).
	OnEvict func(K, V)
	ll      *list.List
	m       map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key K
	val V
}

// New returns a cache of at most max entries.
func New[K comparable, V any](max int) *Cache[K, V] {
	return &Cache[K, V]{Max: max, ll: list.New(), m: map[K]*list.Element{}}
}

// Get returns the value of k and marks it recently used.
func (c *Cache[K, V]) Get(k K) (v V, ok bool) {
	if e, hit := c.m[k]; hit {
		c.ll.MoveToFront(e)
		return e.Value.(*entry[K, V]).val, true
	}
	return v, false
}

// Put sets the value of k, evicting the least recently used entry if the
// cache is full.
func (c *Cache[K, V]) Put(k K, v V) {
	if e, hit := c.m[k]; hit {
		c.ll.MoveToFront(e)
		e.Value.(*entry[K, V]).val = v
		return
	}
	c.m[k] = c.ll.PushFront(&entry[K, V]{k, v})
	if c.Max > 0 && c.ll.Len() > c.Max {
		last := c.ll.Back()
		c.ll.Remove(last)
		e := last.Value.(*entry[K, V])
		delete(c.m, e.key)
		if c.OnEvict != nil {
			c.OnEvict(e.key, e.val)
		}
	}
}

// Delete removes k.
func (c *Cache[K, V]) Delete(k K) {
	if e, hit := c.m[k]; hit {
		c.ll.Remove(e)
		delete(c.m, k)
	}
}

// DeleteFunc removes every entry whose key satisfies f.
func (c *Cache[K, V]) DeleteFunc(f func(K) bool) {
	for k, e := range c.m {
		if f(k) {
			c.ll.Remove(e)
			delete(c.m, k)
		}
	}
}

// Len returns the number of entries.
func (c *Cache[K, V]) Len() int { return c.ll.Len() }
