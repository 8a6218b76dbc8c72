// Package crmsync copies customers from the CRM (Strapi) into the
// customer cache: a resumable full sync that also removes what the CRM no
// longer has, and incremental updates from Strapi's webhooks.
package crmsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/strapi"
)

// Source is the CRM: every customer page by page, and one by id.
type Source interface {
	// Pages calls fn with each page and the cursor to resume after it;
	// after = "" starts at the beginning.
	Pages(ctx context.Context, after string, fn func(page []crm.Customer, cursor string) error) error
	CustomerByID(ctx context.Context, id string) (crm.Customer, error)
}

// Cache is the part of the customer store the sync writes, with the
// checkpoint of the full sync.
type Cache interface {
	Upsert(ctx context.Context, customers ...crm.Customer) error
	Delete(ctx context.Context, ids ...string) error
	DeleteSyncedBefore(ctx context.Context, t time.Time) (int, error)
	SyncState(ctx context.Context) (crm.SyncState, error)
	PutSyncState(ctx context.Context, s crm.SyncState) error
}

// Options tunes a Syncer; the zero value is usable.
type Options struct {
	// Model is the singular name of the customer content type in webhook
	// payloads; default "customer".
	Model string
	// Progress, if set, is called after every page of a full sync and once
	// at its end.
	Progress func(Progress)
	Logger   *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Progress reports a full sync.
type Progress struct {
	Synced  int           // customers written by this call
	Deleted int           // customers removed by the final sweep
	Elapsed time.Duration // since this call started
	Rate    float64       // customers written per second
	// Resumed is set when this call continued a run an earlier call did
	// not finish.
	Resumed bool
	Done    bool // the run completed, sweep included
}

// ErrRunning is returned by Full while another full sync runs in this
// process.
var ErrRunning = errors.New("a full sync is already running")

// Syncer keeps a Cache in step with a Source.
type Syncer struct {
	src      Source
	cache    Cache
	model    string
	progress func(Progress)
	log      *slog.Logger
	now      func() time.Time
	running  sync.Mutex
}

// New returns a Syncer copying src into cache.
func New(src Source, cache Cache, opts Options) *Syncer {
	s := &Syncer{src: src, cache: cache, model: opts.Model, progress: opts.Progress, log: opts.Logger, now: opts.Now}
	if s.model == "" {
		s.model = "customer"
	}
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
func (s *Syncer) stamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Full copies every customer from the source and then deletes the cached
// customers the run did not write, so the cache ends equal to the CRM.
//
// Each page is written with SyncedAt = the run's start, then the cursor
// is saved. If a run stops (timeout, CRM or store failure), the next call
// resumes after the saved cursor with the same start, so nothing written
// is lost and the final sweep still removes exactly what the CRM no longer
// has. Records the CRM deleted during the interruption but that the run
// had already written stay until a webhook or the next run removes them.
//
// Memory stays at one page whatever the number of customers.
func (s *Syncer) Full(ctx context.Context) (Progress, error) {
	if !s.running.TryLock() {
		return Progress{}, ErrRunning
	}
	defer s.running.Unlock()

	began := s.now()
	st, err := s.cache.SyncState(ctx)
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
		if err := s.cache.PutSyncState(ctx, st); err != nil {
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

	err = s.src.Pages(ctx, st.After, func(page []crm.Customer, cursor string) error {
		for i := range page {
			page[i].SyncedAt = st.RunStart
		}
		if err := s.cache.Upsert(ctx, page...); err != nil {
			return fmt.Errorf("write cache: %w", err)
		}
		st.After = cursor
		if err := s.cache.PutSyncState(ctx, st); err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		p.Synced += len(page)
		report()
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("full sync: %w", err)
	}

	if st.After == "" {
		// Not one customer in the whole run. An empty CRM is far more
		// often a wrong collection, filter or permission than a real
		// state, and sweeping would empty the cache: keep it, and let
		// webhooks remove customers one by one.
		s.log.WarnContext(ctx, "full sync found no customers; cache left as is")
	} else {
		n, err := s.cache.DeleteSyncedBefore(ctx, st.RunStart)
		if err != nil {
			return p, fmt.Errorf("full sync: remove stale customers: %w", err)
		}
		p.Deleted = n
	}
	st.Done = true
	if err := s.cache.PutSyncState(ctx, st); err != nil {
		return p, fmt.Errorf("full sync: save checkpoint: %w", err)
	}
	p.Done = true
	report()
	return p, nil
}

// Action is what Apply did with an event.
type Action string

const (
	Upserted Action = "upsert"
	Deleted  Action = "delete"
	Ignored  Action = "ignore"
)

// Applied describes the outcome of a webhook.
type Applied struct {
	Event      string `json:"applied"`
	CustomerID string `json:"customer_id,omitempty"`
	Action     Action `json:"action"`
	// Reason says why an event was ignored.
	Reason string `json:"reason,omitempty"`
}

// Apply updates the cache from one webhook event (strapi.md §6): the
// customer is stored on entry.publish, and on entry.create/update when
// published (a type without Draft & Publish); it is removed on
// entry.unpublish, and on entry.delete of the published row. Draft saves
// and other content types are ignored.
//
// Webhooks can be lost (Strapi never retries) and arrive out of order;
// the full sync repairs what they miss.
func (s *Syncer) Apply(ctx context.Context, ev strapi.Event) (Applied, error) {
	a := Applied{Event: ev.Name, CustomerID: ev.Customer.ID, Action: Ignored}
	if !strings.EqualFold(ev.Model, s.model) {
		a.Reason = "not a " + s.model
		return a, nil
	}
	if ev.Customer.ID == "" {
		return a, errors.New("apply webhook: entry has no id")
	}
	upsert, remove := false, false
	switch ev.Name {
	case "entry.publish":
		upsert = true
	case "entry.create", "entry.update":
		upsert = ev.Published
	case "entry.unpublish":
		remove = true
	case "entry.delete":
		remove = ev.Published
	default:
		a.Reason = "event not handled"
		return a, nil
	}
	switch {
	case remove:
		if err := s.cache.Delete(ctx, ev.Customer.ID); err != nil {
			return a, fmt.Errorf("apply %s: %w", ev.Name, err)
		}
		a.Action = Deleted
	case upsert:
		c := ev.Customer
		if !ev.Populated {
			// The payload left the components out (v4 on some write
			// paths); caching it would drop the customer's channels.
			fresh, err := s.src.CustomerByID(ctx, c.ID)
			if errors.Is(err, crm.ErrNotFound) {
				a.Reason = "not published in the CRM"
				return a, nil
			}
			if err != nil {
				return a, fmt.Errorf("apply %s: re-read customer: %w", ev.Name, err)
			}
			c = fresh
		}
		c.SyncedAt = s.stamp()
		if err := s.cache.Upsert(ctx, c); err != nil {
			return a, fmt.Errorf("apply %s: %w", ev.Name, err)
		}
		a.Action = Upserted
	default:
		a.Reason = "draft"
	}
	return a, nil
}
