// Package crmsync copies records from the CRM into the cache: a resumable
// full sync that also removes what the CRM no longer has, and incremental
// changes from the CRM's webhooks. It knows no particular CRM: the CRM
// package (strapi) lists and reads records as a crm.Source, and
// authenticates and decodes its own webhooks into crm.Change values.
//
// The machinery, Syncer[T], works on any record type T through a
// Collection[T]. Customers are the one collection today (Customers makes
// a crm.Source and a crm.Store into one). A second collection, such as
// message templates kept in Strapi and cached in Firestore, plugs in
// without copying the machinery:
//
//   - the CRM package lists and reads the new records (a Pages and a
//     by-id method, on a view of its client since the customer methods
//     already use those names);
//   - a store caches them with a checkpoint of their own (a Firestore
//     collection and sync-state document of their own);
//   - an adapter like customers makes that pair a Collection[Template],
//     and New gives its Syncer: Full for the scheduler, Apply for
//     changes;
//   - the CRM's webhook decoder decodes the new model into
//     crm.Change[Template] values too, and the handler hands each kind of
//     change to its Syncer.
package crmsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/experthub/experthub/internal/crm"
)

// Collection is one kind of record, T, as the sync sees it: read from the
// CRM, and kept in a cache with the checkpoint of its full sync.
type Collection[T any] interface {
	// Pages calls fn with each page of the CRM's records and the cursor to
	// resume after it, as crm.Source.Pages does.
	Pages(ctx context.Context, after string, fn func(page []T, cursor string) error) error
	// Fetch reads one record again from the CRM; crm.ErrNotFound when the
	// CRM does not have it (or has not published it).
	Fetch(ctx context.Context, id string) (T, error)
	// Put writes records to the cache, stamped as synced at t.
	Put(ctx context.Context, t time.Time, records ...T) error
	// Delete removes records from the cache; unknown ids are ignored.
	Delete(ctx context.Context, ids ...string) error
	// DeleteSyncedBefore removes the cached records stamped before t and
	// returns how many went.
	DeleteSyncedBefore(ctx context.Context, t time.Time) (int, error)
	// CountSyncedBefore returns how many records DeleteSyncedBefore(t)
	// would remove.
	CountSyncedBefore(ctx context.Context, t time.Time) (int, error)
	// SyncState returns the checkpoint, or the zero state if none was
	// stored.
	SyncState(ctx context.Context) (crm.SyncState, error)
	PutSyncState(ctx context.Context, s crm.SyncState) error
}

// Options tunes a Syncer; the zero value is usable.
type Options struct {
	// Name names the collection in log lines ("customers").
	Name string
	// Progress, if set, is called after every page of a full sync and once
	// at its end.
	Progress func(Progress)
	Logger   *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Progress reports a full sync.
type Progress struct {
	Synced  int           // records written by this call
	Deleted int           // records removed by the final sweep
	Kept    int           // records the empty-CRM guard kept (see Full)
	Elapsed time.Duration // since this call started
	Rate    float64       // records written per second
	// Resumed is set when this call continued a run an earlier call did
	// not finish.
	Resumed bool
	Done    bool // the run completed, sweep included
}

// ErrRunning is returned when Full is called while another full sync of
// the same Syncer runs.
var ErrRunning = errors.New("crmsync: a full sync is already running")

// Syncer keeps the cached copy of a Collection in step with the CRM.
type Syncer[T any] struct {
	name     string
	coll     Collection[T]
	progress func(Progress)
	log      *slog.Logger
	now      func() time.Time
	running  sync.Mutex
	applied  func(ctx context.Context, rec T, a Applied)
}

// Replacer is a Collection whose records can stay cached under an old id
// when the CRM changes a record's id (a customer's customer_id edited in
// Strapi): Apply calls DeleteReplaced after storing a record, and it
// removes the copies of the same CRM record under other ids, returning
// their ids.
type Replacer[T any] interface {
	DeleteReplaced(ctx context.Context, rec T) ([]string, error)
}

// OnApplied makes Apply call fn after each change it applied to the cache
// (upsert or delete, not ignored), with the record as stored (on a
// delete, the webhook's record, which may have only its id): the app
// drops what its in-process layer knew about it.
func (s *Syncer[T]) OnApplied(fn func(ctx context.Context, rec T, a Applied)) { s.applied = fn }

// New returns a Syncer for the collection c.
func New[T any](c Collection[T], opts Options) *Syncer[T] {
	s := &Syncer[T]{name: opts.Name, coll: c, progress: opts.Progress, log: opts.Logger, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// stamp is a SyncedAt time. Stores keep micro- or milliseconds (Firestore:
// µs); a nanosecond RunStart would sweep records stamped with its own
// truncated value, so stamps are whole milliseconds.
func (s *Syncer[T]) stamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Full copies every record from the CRM and then deletes the cached
// records the run did not write, so the cache ends equal to the CRM.
//
// Each page is written with SyncedAt = the run's start, then the cursor
// is saved. If a run stops (timeout, CRM or store failure), the next call
// resumes after the saved cursor with the same start, so nothing written
// is lost and the final sweep still removes exactly what the CRM no longer
// has. Records the CRM deleted during the interruption but that the run
// had already written stay until a webhook or the next run removes them.
//
// Memory stays at one page whatever the number of records.
//
// A run that reads not one record deletes nothing: an empty CRM is far
// more often a wrong collection, filter or permission than a real state,
// and sweeping would empty the cache. That guard is logged at WARN with
// the number of records it kept, and recorded in the checkpoint
// (crm.SyncState.Kept) for doctor to report; FullAllowEmpty trusts the
// CRM and empties the cache instead.
func (s *Syncer[T]) Full(ctx context.Context) (Progress, error) { return s.full(ctx, false) }

// FullAllowEmpty is Full trusting an empty CRM: a run that reads no
// record deletes every cached one (`experthub sync --allow-empty`, once
// the records were indeed all deleted in the CRM).
func (s *Syncer[T]) FullAllowEmpty(ctx context.Context) (Progress, error) { return s.full(ctx, true) }

// AllowEmptyHint tells an operator how to drop the records the
// empty-CRM guard kept.
const AllowEmptyHint = "run experthub sync --allow-empty if they were deleted"

func (s *Syncer[T]) full(ctx context.Context, allowEmpty bool) (Progress, error) {
	if !s.running.TryLock() {
		return Progress{}, ErrRunning
	}
	defer s.running.Unlock()

	began := s.now()
	st, err := s.coll.SyncState(ctx)
	if errors.Is(err, crm.ErrNotFound) {
		st, err = crm.SyncState{}, nil
	}
	if err != nil {
		return Progress{}, fmt.Errorf("full sync: read checkpoint: %w", err)
	}
	var p Progress
	if st.Done || st.RunStart.IsZero() {
		st = crm.SyncState{RunStart: s.stamp()}
		// Saved before the first page, so a run that dies early resumes
		// with this start rather than a new one.
		if err := s.coll.PutSyncState(ctx, st); err != nil {
			return p, fmt.Errorf("full sync: save checkpoint: %w", err)
		}
	} else {
		p.Resumed = true
		s.log.InfoContext(ctx, "resuming full sync", "run_start", st.RunStart, "after", st.After)
	}
	report := func() {
		p.Elapsed = s.now().Sub(began)
		if secs := p.Elapsed.Seconds(); secs > 0 {
			p.Rate = float64(p.Synced) / secs
		}
		if s.progress != nil {
			s.progress(p)
		}
	}

	err = s.coll.Pages(ctx, st.After, func(page []T, cursor string) error {
		if err := s.coll.Put(ctx, st.RunStart, page...); err != nil {
			return fmt.Errorf("write cache: %w", err)
		}
		st.After = cursor
		if err := s.coll.PutSyncState(ctx, st); err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		p.Synced += len(page)
		report()
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("full sync: %w", err)
	}

	if st.After == "" && !allowEmpty {
		// Not one record in the whole run: the guard (see Full).
		n, err := s.coll.CountSyncedBefore(ctx, st.RunStart)
		if err != nil {
			return p, fmt.Errorf("full sync: count the records kept: %w", err)
		}
		p.Kept, st.Kept = n, n
		if n > 0 {
			s.log.WarnContext(ctx, "full sync found no records in the CRM: the empty-CRM guard kept the cache; "+AllowEmptyHint,
				"collection", s.name, "guard", "empty-crm", "kept", n)
		}
	} else {
		n, err := s.coll.DeleteSyncedBefore(ctx, st.RunStart)
		if err != nil {
			return p, fmt.Errorf("full sync: remove stale records: %w", err)
		}
		p.Deleted = n
	}
	st.Done = true
	if err := s.coll.PutSyncState(ctx, st); err != nil {
		return p, fmt.Errorf("full sync: save checkpoint: %w", err)
	}
	p.Done = true
	report()
	return p, nil
}

// Action is what Apply did with a change.
type Action string

const (
	Upserted Action = "upsert"
	Deleted  Action = "delete"
	Ignored  Action = "ignore"
)

// Applied describes the outcome of a change.
type Applied struct {
	Event  string // the CRM's event name
	ID     string // the record's id, when the event had a record
	Action Action
	// Reason says why a change was ignored.
	Reason string
	// Replaced are the ids of copies of the same CRM record the upsert
	// removed (see Replacer).
	Replaced []string
}

// Apply updates the cache from one change a CRM webhook reported: an
// Upsert stores the record, read again from the CRM first when the
// webhook sent only part of it; a Delete removes it; a Skip is ignored.
//
// Webhooks can be lost (Strapi never retries) and arrive out of order;
// the full sync repairs what they miss.
func (s *Syncer[T]) Apply(ctx context.Context, ch crm.Change[T]) (Applied, error) {
	a := Applied{Event: ch.Event, ID: ch.ID, Action: Ignored}
	switch {
	case ch.Op == crm.Skip:
		a.Reason = ch.Reason
		return a, nil
	case ch.Op != crm.Upsert && ch.Op != crm.Delete:
		return a, fmt.Errorf("apply %s: unknown op %d", ch.Event, ch.Op)
	case ch.ID == "":
		return a, fmt.Errorf("apply %s: change has no id", ch.Event)
	case ch.Op == crm.Delete:
		if err := s.coll.Delete(ctx, ch.ID); err != nil {
			return a, fmt.Errorf("apply %s: %w", ch.Event, err)
		}
		a.Action = Deleted
		if s.applied != nil {
			s.applied(ctx, ch.Record, a)
		}
		return a, nil
	}
	rec := ch.Record
	if ch.Partial {
		// Caching what the webhook sent would drop the fields it left out
		// (a customer's channels).
		fresh, err := s.coll.Fetch(ctx, ch.ID)
		if errors.Is(err, crm.ErrNotFound) {
			a.Reason = "not published in the CRM"
			return a, nil
		}
		if err != nil {
			return a, fmt.Errorf("apply %s: read again: %w", ch.Event, err)
		}
		rec = fresh
	}
	if err := s.coll.Put(ctx, s.stamp(), rec); err != nil {
		return a, fmt.Errorf("apply %s: %w", ch.Event, err)
	}
	a.Action = Upserted
	if r, ok := s.coll.(Replacer[T]); ok {
		// After the write, so a failure here leaves the new copy cached
		// and an error makes the CRM's webhook (or the full sync's sweep)
		// try again.
		ids, err := r.DeleteReplaced(ctx, rec)
		a.Replaced = ids
		if err != nil {
			return a, fmt.Errorf("apply %s: remove the copy under the old id: %w", ch.Event, err)
		}
	}
	if s.applied != nil {
		s.applied(ctx, rec, a)
	}
	return a, nil
}
