// Package inmem is the in-process customer cache: the default for local
// runs and the reference the Firestore store is tested against.
package inmem

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"

	"github.com/experthub/experthub/internal/crm"
)

// Store keeps customers in memory. It is safe for concurrent use. Lookups
// by id and address are map reads; listing walks B-trees in (NameKey, ID)
// order, one over all customers and one per owner, so a page costs
// O(log n + limit) whatever the filter.
type Store struct {
	mu       sync.RWMutex
	byID     map[string]*record
	byAddr   map[string][]string // address → ids, sorted; usually one
	all      *btree.BTreeG[*record]
	byWorker map[string]*btree.BTreeG[*record] // folded owner → records; "" holds the unowned
	state    checkpoint
}

// record is a stored customer with the keys it is indexed under.
type record struct {
	nameKey string
	id      string
	worker  string // folded owner
	addrs   []string
	c       crm.Customer
}

func less(a, b *record) bool {
	return cmp.Or(strings.Compare(a.nameKey, b.nameKey), strings.Compare(a.id, b.id)) < 0
}

const degree = 32

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		byID:     make(map[string]*record),
		byAddr:   make(map[string][]string),
		all:      btree.NewG(degree, less),
		byWorker: make(map[string]*btree.BTreeG[*record]),
	}
}

// Get returns the customer with this id.
func (s *Store) Get(_ context.Context, id string) (crm.Customer, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.byID[id]
	if !ok {
		return crm.Customer{}, fmt.Errorf("get customer %q: %w", id, crm.ErrNotFound)
	}
	return clone(r.c), nil
}

// FindByAddress returns a customer one of whose channels normalises to
// address. When several share it, the one with the smallest id wins, like
// Firestore's default document order.
func (s *Store) FindByAddress(_ context.Context, address string) (crm.Customer, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.byAddr[address]
	if len(ids) == 0 {
		return crm.Customer{}, fmt.Errorf("find customer by address %q: %w", address, crm.ErrNotFound)
	}
	return clone(s.byID[ids[0]].c), nil
}

// List returns one page of customers in (NameKey, ID) order.
func (s *Store) List(_ context.Context, q crm.ListQuery) (crm.Page, error) {
	limit := max(q.Limit, 1)
	worker := foldWorker(q.Worker)

	s.mu.RLock()
	defer s.mu.RUnlock()
	var found []*record
	if worker == "" {
		found = collect(s.all, q, limit+1)
	} else {
		// An owner sees their customers and the unowned ones; each record
		// is in exactly one owner tree, so the two pages merge without
		// duplicates.
		found = merge(collect(s.byWorker[worker], q, limit+1), collect(s.byWorker[""], q, limit+1))
	}

	var page crm.Page
	if len(found) > limit {
		found = found[:limit]
		last := found[limit-1]
		page.Next = &crm.Cursor{NameKey: last.nameKey, ID: last.id}
	}
	page.Customers = make([]crm.Customer, len(found))
	for i, r := range found {
		page.Customers[i] = clone(r.c)
	}
	return page, nil
}

// collect returns up to n records of t matching q's prefix, after q's
// cursor.
func collect(t *btree.BTreeG[*record], q crm.ListQuery, n int) []*record {
	if t == nil {
		return nil
	}
	start := &record{nameKey: q.Prefix}
	if q.After != nil {
		if after := (&record{nameKey: q.After.NameKey, id: q.After.ID}); less(start, after) {
			start = after
		}
	}
	var out []*record
	t.AscendGreaterOrEqual(start, func(r *record) bool {
		if q.After != nil && r.nameKey == q.After.NameKey && r.id == q.After.ID {
			return true
		}
		// Keys with the prefix are contiguous and start at or after start,
		// so the first one without it ends the range.
		if !strings.HasPrefix(r.nameKey, q.Prefix) {
			return false
		}
		out = append(out, r)
		return len(out) < n
	})
	return out
}

func merge(a, b []*record) []*record {
	out := make([]*record, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if less(a[0], b[0]) {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// Upsert stores customers, replacing any with the same id; of several
// versions of one id the last wins. No customer is stored unless all have
// an id.
func (s *Store) Upsert(_ context.Context, customers ...crm.Customer) error {
	recs := make([]*record, len(customers))
	for i, c := range customers {
		if c.ID == "" {
			return errors.New("upsert customers: customer without id")
		}
		// Normalising is the costly part; do it before taking the lock.
		recs[i] = &record{nameKey: c.NameKey(), id: c.ID, worker: foldWorker(c.Worker), addrs: c.Addresses(), c: clone(c)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.remove(r.id)
		s.insert(r)
	}
	return nil
}

// Delete removes the customers with these ids; unknown ids are ignored.
func (s *Store) Delete(_ context.Context, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.remove(id)
	}
	return nil
}

// FindBySourceKey returns the customers with this CRM key, in id order.
// It scans: it runs once per CRM webhook, never on a lookup.
func (s *Store) FindBySourceKey(_ context.Context, key string) ([]crm.Customer, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []crm.Customer
	if key == "" {
		return nil, nil
	}
	for _, r := range s.byID {
		if r.c.SourceKey == key {
			out = append(out, clone(r.c))
		}
	}
	slices.SortFunc(out, func(a, b crm.Customer) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteSyncedBefore removes every customer whose SyncedAt is before t.
func (s *Store) DeleteSyncedBefore(_ context.Context, t time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var stale []string
	for id, r := range s.byID {
		if r.c.SyncedAt.Before(t) {
			stale = append(stale, id)
		}
	}
	for _, id := range stale {
		s.remove(id)
	}
	return len(stale), nil
}

// CountSyncedBefore returns how many customers have a SyncedAt before t.
func (s *Store) CountSyncedBefore(_ context.Context, t time.Time) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, r := range s.byID {
		if r.c.SyncedAt.Before(t) {
			n++
		}
	}
	return n, nil
}

// SyncState returns the last checkpoint, or the zero state if none was
// stored.
func (s *Store) SyncState(context.Context) (crm.SyncState, error) {
	return s.state.get(), nil
}

// PutSyncState stores the checkpoint.
func (s *Store) PutSyncState(_ context.Context, st crm.SyncState) error {
	s.state.put(st)
	return nil
}

// checkpoint is a full sync's checkpoint, safe for concurrent use.
type checkpoint struct {
	mu    sync.Mutex
	state crm.SyncState
}

func (c *checkpoint) get() crm.SyncState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *checkpoint) put(st crm.SyncState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = st
}

// Len returns the number of customers stored.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}

// insert indexes r; the caller holds the write lock and has removed any
// record with r's id.
func (s *Store) insert(r *record) {
	s.byID[r.id] = r
	s.all.ReplaceOrInsert(r)
	t := s.byWorker[r.worker]
	if t == nil {
		t = btree.NewG(degree, less)
		s.byWorker[r.worker] = t
	}
	t.ReplaceOrInsert(r)
	for _, a := range r.addrs {
		ids := s.byAddr[a]
		i, _ := slices.BinarySearch(ids, r.id)
		s.byAddr[a] = slices.Insert(ids, i, r.id)
	}
}

// remove drops the record with this id from every index; the caller holds
// the write lock.
func (s *Store) remove(id string) {
	r, ok := s.byID[id]
	if !ok {
		return
	}
	delete(s.byID, id)
	s.all.Delete(r)
	if t := s.byWorker[r.worker]; t != nil {
		t.Delete(r)
		if t.Len() == 0 {
			delete(s.byWorker, r.worker)
		}
	}
	for _, a := range r.addrs {
		ids := s.byAddr[a]
		if i, found := slices.BinarySearch(ids, id); found {
			ids = slices.Delete(ids, i, i+1)
		}
		if len(ids) == 0 {
			delete(s.byAddr, a)
		} else {
			s.byAddr[a] = ids
		}
	}
}

// foldWorker is how owners are compared (crm.ListQuery: lower-cased).
func foldWorker(w string) string { return strings.ToLower(strings.TrimSpace(w)) }

// clone copies c deeply enough that neither the caller nor the store can
// change the other's copy.
func clone(c crm.Customer) crm.Customer {
	c.Channels = slices.Clone(c.Channels)
	c.Links = slices.Clone(c.Links)
	if c.Details != nil {
		d := *c.Details
		c.Details = &d
	}
	return c
}
