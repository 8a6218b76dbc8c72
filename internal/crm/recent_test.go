package crm

import (
	"runtime"
	"strconv"
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

// TestRecentCacheGrowsWithUse: a cache sized for a million entries
// reserves almost nothing until used, and holds what it is given.
func TestRecentCacheGrowsWithUse(t *testing.T) {
	const size = 1_000_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newRecentCache(size, time.Minute)
	runtime.ReadMemStats(&after)
	// TotalAlloc only grows: what the constructor allocated, whatever the
	// collector did meanwhile.
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("newRecentCache(%d) allocated %d bytes, want under 1 MiB", size, got)
	}
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i := range 5000 {
		c.put(strconv.Itoa(i), lookupResult{found: true, customer: Customer{ID: strconv.Itoa(i)}}, t0)
	}
	for _, i := range []int{0, 1024, 4999} {
		if r, ok := c.get(strconv.Itoa(i), t0); !ok || r.customer.ID != strconv.Itoa(i) {
			t.Errorf("entry %d missed after growth", i)
		}
	}
}
