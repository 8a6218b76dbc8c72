package conversation

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/twilio"
)

// poolReads merges the reads of the pool's available workers that run at
// once in one instance. An "agent" turn reads the whole pool (a page of
// up to 200 workers per round trip, which twilio-go decodes twice), and
// in a burst of N such turns N reads of one list cost more CPU than the
// rest of the turns together.
//
// A read joins the one in flight only if that one started after the work
// it serves was asked for (asked): it then shows the pool as it was at
// some moment after the customer wrote, as a read of its own would. A
// drain started by a worker's event so never takes a list read before
// the event. Otherwise it starts a read of its own, which later reads may
// join.
type poolReads struct {
	mu     sync.Mutex
	latest *poolRead // the newest read in flight; nil when none
}

// poolRead is one read of the pool, shared by whoever joined it.
type poolRead struct {
	start time.Time
	done  chan struct{}
	ws    []twilio.Worker
	err   error
}

// poolReadTimeout bounds a shared read, which must not end with the
// context of whichever attempt started it: each attempt stops waiting at
// its own deadline.
const poolReadTimeout = 10 * time.Second

// availableWorkers returns the pool's available workers, read at some
// moment after the work under ctx was asked for (see poolReads). The
// slice is the caller's own.
func (f *Flow) availableWorkers(ctx context.Context) ([]twilio.Worker, error) {
	return f.availableSince(ctx, taskqueue.Asked(ctx))
}

// availableSince returns the pool's available workers, read at some
// moment after since.
func (f *Flow) availableSince(ctx context.Context, since time.Time) ([]twilio.Worker, error) {
	now := f.now()
	if since.IsZero() {
		since = now
	}
	p := &f.pool
	p.mu.Lock()
	r := p.latest
	if r == nil || r.start.Before(since) {
		r = &poolRead{start: now, done: make(chan struct{})}
		p.latest = r
		go f.readPool(context.WithoutCancel(ctx), r)
	}
	p.mu.Unlock()
	select {
	case <-r.done:
		return slices.Clone(r.ws), r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readPool makes read r.
func (f *Flow) readPool(ctx context.Context, r *poolRead) {
	ctx, cancel := context.WithTimeout(ctx, poolReadTimeout)
	defer cancel()
	ws, err := f.twilio.ListAvailableWorkers(ctx, f.cfg.Workspace, f.cfg.PoolQueue)
	if ws == nil && err == nil {
		ws = []twilio.Worker{}
	}
	r.ws, r.err = ws, err
	f.warmNames(ctx, ws)
	f.pool.mu.Lock()
	if f.pool.latest == r {
		f.pool.latest = nil
	}
	f.pool.mu.Unlock()
	close(r.done)
}
