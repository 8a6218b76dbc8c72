package crm

import (
	"testing"
	"time"
)

func TestRecentCacheExpiresAndBounds(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c := newRecentCache(2, 10*time.Second)
	c.put("a", lookupResult{found: true, customer: Customer{ID: "a"}}, t0)
	if r, ok := c.get("a", t0.Add(9*time.Second)); !ok || r.customer.ID != "a" {
		t.Fatalf("fresh entry missed")
	}
	if _, ok := c.get("a", t0.Add(10*time.Second)); ok {
		t.Fatalf("expired entry served")
	}
	if n := c.order.Len(); n != 0 {
		t.Fatalf("expired entry kept, len = %d", n)
	}
	c.put("a", lookupResult{}, t0)
	c.put("b", lookupResult{}, t0)
	c.get("a", t0) // a is now the most recent
	c.put("c", lookupResult{}, t0)
	if _, ok := c.get("b", t0); ok {
		t.Error("least recently used entry not evicted")
	}
	if _, ok := c.get("a", t0); !ok {
		t.Error("recently used entry evicted")
	}
	var none *recentCache
	none.put("x", lookupResult{}, t0)
	if _, ok := none.get("x", t0); ok {
		t.Error("disabled cache hit")
	}
}
