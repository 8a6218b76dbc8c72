package crm

import (
	"container/list"
	"sync"
	"time"
)

// recentCache is a bounded, expiring LRU of lookup results. A nil
// *recentCache is a cache that never hits.
type recentCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	size    int
	order   *list.List // front = most recently used
	entries map[string]*list.Element
}

type recentEntry struct {
	key     string
	result  lookupResult
	expires time.Time
}

// recentReserve bounds the map a cache reserves at start: it grows with
// use up to its size, so a large CACHE_SIZE costs memory only once that
// many customers were looked up (a map reserved for 1e6 entries takes
// 56 MB at once; 1024 take 55 KB).
const recentReserve = 1024

func newRecentCache(size int, ttl time.Duration) *recentCache {
	return &recentCache{ttl: ttl, size: size, order: list.New(), entries: make(map[string]*list.Element, min(size, recentReserve))}
}

func (c *recentCache) get(key string, now time.Time) (lookupResult, bool) {
	if c == nil {
		return lookupResult{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return lookupResult{}, false
	}
	e := el.Value.(*recentEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.entries, key)
		return lookupResult{}, false
	}
	c.order.MoveToFront(el)
	return e.result, true
}

func (c *recentCache) put(key string, r lookupResult, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*recentEntry)
		e.result, e.expires = r, now.Add(c.ttl)
		c.order.MoveToFront(el)
		return
	}
	c.entries[key] = c.order.PushFront(&recentEntry{key: key, result: r, expires: now.Add(c.ttl)})
	for c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*recentEntry).key)
	}
}

// forget drops the entries under keys and every entry holding a customer
// match says is stale (its id or CRM key changed). A scan of the whole
// cache is a few microseconds for its default size, and it runs only on
// a CRM webhook.
func (c *recentCache) forget(keys []string, match func(Customer) bool) int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	drop := func(el *list.Element) {
		c.order.Remove(el)
		delete(c.entries, el.Value.(*recentEntry).key)
		n++
	}
	for _, k := range keys {
		if el, ok := c.entries[k]; ok {
			drop(el)
		}
	}
	for el := c.order.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*recentEntry); e.result.found && match(e.result.customer) {
			drop(el)
		}
		el = next
	}
	return n
}
