package crmsync_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crmsync"
)

// note stands for a second kind of record, as message templates would be.
type note struct {
	ID       string
	Text     string
	SyncedAt time.Time
}

// notes is a Collection[note]: a CRM listing its notes in pages of two,
// and a cache. failAt, when > 0, fails the listing at that page.
type notes struct {
	crm    map[string]note
	cache  map[string]note
	state  crm.SyncState
	failAt int
}

var errCRMDown = errors.New("crm down")

func (n *notes) Pages(_ context.Context, after string, fn func([]note, string) error) error {
	ids := slices.Sorted(maps.Keys(n.crm))
	var page []note
	pages := 0
	for _, id := range ids {
		if id <= after {
			continue
		}
		if page = append(page, n.crm[id]); len(page) == 2 || id == ids[len(ids)-1] {
			if pages++; pages == n.failAt {
				return errCRMDown
			}
			if err := fn(page, id); err != nil {
				return err
			}
			page = nil
		}
	}
	return nil
}

func (n *notes) Fetch(_ context.Context, id string) (note, error) {
	if r, ok := n.crm[id]; ok {
		return r, nil
	}
	return note{}, crm.ErrNotFound
}

func (n *notes) Put(_ context.Context, t time.Time, rs ...note) error {
	for _, r := range rs {
		r.SyncedAt = t
		n.cache[r.ID] = r
	}
	return nil
}

func (n *notes) Delete(_ context.Context, ids ...string) error {
	for _, id := range ids {
		delete(n.cache, id)
	}
	return nil
}

func (n *notes) DeleteSyncedBefore(_ context.Context, t time.Time) (int, error) {
	gone := 0
	for id, r := range n.cache {
		if r.SyncedAt.Before(t) {
			delete(n.cache, id)
			gone++
		}
	}
	return gone, nil
}

func (n *notes) CountSyncedBefore(_ context.Context, t time.Time) (int, error) {
	count := 0
	for _, r := range n.cache {
		if r.SyncedAt.Before(t) {
			count++
		}
	}
	return count, nil
}

func (n *notes) SyncState(context.Context) (crm.SyncState, error) { return n.state, nil }

func (n *notes) PutSyncState(_ context.Context, s crm.SyncState) error {
	n.state = s
	return nil
}

// TestSyncerOtherCollection runs the sync machinery on a record type other
// than crm.Customer: a full sync resumed after a failure, its sweep, and
// webhook changes.
func TestSyncerOtherCollection(t *testing.T) {
	ctx := context.Background()
	n := &notes{
		crm:    map[string]note{"a": {ID: "a", Text: "A"}, "b": {ID: "b", Text: "B"}, "c": {ID: "c", Text: "C"}},
		cache:  map[string]note{"gone": {ID: "gone", SyncedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
		failAt: 2,
	}
	sy := crmsync.New(n, crmsync.Options{Now: newClock().Now})
	if p, err := sy.Full(ctx); !errors.Is(err, errCRMDown) || p.Synced != 2 {
		t.Fatalf("interrupted run = %+v, %v; want 2 synced and the CRM's error", p, err)
	}
	n.failAt = 0
	p, err := sy.Full(ctx)
	if err != nil || !p.Resumed || p.Synced != 1 || p.Deleted != 1 || !p.Done {
		t.Fatalf("resumed run = %+v, %v; want resumed, 1 synced, 1 deleted", p, err)
	}
	if got := slices.Sorted(maps.Keys(n.cache)); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("cache = %q after the full sync", got)
	}

	n.crm["b"] = note{ID: "b", Text: "B2"}
	for _, ch := range []crm.Change[note]{
		{Event: "edit", Op: crm.Upsert, ID: "b", Record: note{ID: "b"}, Partial: true},
		{Event: "remove", Op: crm.Delete, ID: "a"},
		{Event: "add", Op: crm.Upsert, ID: "d", Record: note{ID: "d", Text: "D"}},
	} {
		if _, err := sy.Apply(ctx, ch); err != nil {
			t.Fatalf("Apply(%+v): %v", ch, err)
		}
	}
	if got := slices.Sorted(maps.Keys(n.cache)); !slices.Equal(got, []string{"b", "c", "d"}) {
		t.Errorf("cache = %q after the changes", got)
	}
	if b := n.cache["b"]; b.Text != "B2" || b.SyncedAt.IsZero() {
		t.Errorf("partial change cached %+v, want the CRM's record, stamped", b)
	}
}
