package lru_test

import (
	"testing"

	"github.com/flinkplane/flinkplane/internal/lru"
)

func TestCache(t *testing.T) {
	c := lru.New[string, int](2)
	var evicted []string
	c.OnEvict = func(k string, _ int) { evicted = append(evicted, k) }
	c.Put("a", 1)
	c.Put("b", 2)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatal("a")
	}
	c.Put("c", 3) // evicts b, the least recently used
	if _, ok := c.Get("b"); ok || len(evicted) != 1 || evicted[0] != "b" {
		t.Fatalf("b not evicted: %v", evicted)
	}
	if c.Len() != 2 {
		t.Fatalf("len %d", c.Len())
	}
	c.Put("a", 10)
	if v, _ := c.Get("a"); v != 10 {
		t.Fatal("update")
	}
	c.DeleteFunc(func(k string) bool { return k == "a" })
	c.Delete("c")
	if c.Len() != 0 {
		t.Fatalf("len %d after deletes", c.Len())
	}
	u := lru.New[int, int](0)
	for i := 0; i < 1000; i++ {
		u.Put(i, i)
	}
	if u.Len() != 1000 {
		t.Fatal("unbounded")
	}
}
