package twilioflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/twilio"
)

// Workers serves the flow's Workers port: Frontline's workers in
// TaskRouter, and their names in the Frontline Users API.
type Workers struct {
	c   Client
	cfg Config

	// names caches the workers' display names.
	names nameCache
	// pool merges concurrent reads of the pool's available workers.
	pool poolReads
	// areas caches the pool's workers, described.
	areas areaCache
}

// NewWorkers returns the Workers of c.
func NewWorkers(c Client, cfg Config) *Workers { return &Workers{c: c, cfg: cfg.withDefaults()} }

var _ conversation.Workers = (*Workers)(nil)

// expertiseKey is the worker attribute listing a worker's areas, e.g.
// {"expertise": ["watches", "bridal"]}. TaskRouter leaves attributes to
// the account, so this is our convention, documented in the README.
const expertiseKey = "expertise"

// worker converts a TaskRouter worker. One listed without attributes is
// not described.
func worker(w twilio.Worker) conversation.Worker {
	out := conversation.Worker{Identity: w.Identity, SID: w.SID, Available: w.Available, Described: w.Attributes != ""}
	m, err := twilio.ParseAttributes(w.Attributes)
	if err != nil {
		return out
	}
	out.Areas = workerAreas(m)
	if ms, ok := twilio.Millis(m["lastAcceptedTaskTime"]); ok {
		out.LastAccepted = time.UnixMilli(ms)
	}
	return out
}

// workerAreas returns the expertise areas in a worker's attributes m,
// lower-cased and trimmed; none when they carry no list of strings under
// expertiseKey.
func workerAreas(m map[string]any) []string {
	list, _ := m[expertiseKey].([]any)
	var out []string
	for _, v := range list {
		s, ok := v.(string)
		if s = strings.ToLower(strings.TrimSpace(s)); ok && s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Available returns the pool's available workers, read at some moment
// after since (concurrent reads merged, see poolReads). A worker whose
// Frontline user the names' cache knows as deactivated is left out: no
// customer goes to them (the pool read warms the cache for the likeliest
// picks, see warmNames).
func (a *Workers) Available(ctx context.Context, since time.Time) ([]conversation.Worker, error) {
	ws, err := a.available(ctx, since)
	out := make([]conversation.Worker, 0, len(ws))
	for _, w := range ws {
		if !a.Deactivated(w.Identity) {
			out = append(out, worker(w))
		}
	}
	return out, mapErr(err)
}

// find returns the Frontline worker identity, or a zero Worker when there
// is none.
func (a *Workers) find(ctx context.Context, identity string) (twilio.Worker, error) {
	w, err := a.c.FindWorker(ctx, a.cfg.Workspace, identity)
	if errors.Is(err, twilio.ErrWorkerNotFound) {
		return twilio.Worker{}, nil
	}
	a.noteWorkers(w)
	return w, err
}

// Find returns the worker identity; a zero Worker when there is none.
// Deactivated is their Frontline user's state, which the names' cache
// holds (see "Workers' names"): when it is not fresh, it is read at the
// same time as the worker, and waited for at most nameWait; a lookup that
// fails or is late leaves the state last read (active when never read).
func (a *Workers) Find(ctx context.Context, identity string) (conversation.Worker, error) {
	if identity != "" {
		a.lookupName(ctx, identity)
	}
	w, err := a.find(ctx, identity)
	out := worker(w)
	if err == nil && w.Identity != "" {
		// The worker's own spelling: Frontline identities are
		// case-sensitive, a customer's e-mail is not.
		if done, _ := a.lookupName(ctx, w.Identity); done != nil {
			waitName(ctx, done)
		}
		out.Deactivated = a.Deactivated(w.Identity)
	}
	return out, mapErr(err)
}

// Fetch returns the worker sid, described.
func (a *Workers) Fetch(ctx context.Context, sid string) (conversation.Worker, error) {
	w, _, err := a.c.FetchWorker(ctx, a.cfg.Workspace, sid)
	a.noteWorkers(w)
	out := worker(w)
	out.Described = err == nil
	return out, mapErr(err)
}

// updateAttempts bounds the read-merge-writes of one worker update that
// keeps losing to other writers. Failed Twilio calls are retried by the
// twilio client, not here.
const updateAttempts = 5

// RecordAccepted writes the worker's lastAcceptedTaskTime in TaskRouter,
// merged into their other attributes, unless a later time is there
// already. If-Match makes the read-merge-write safe against other
// writers; losing to one means reading again.
func (a *Workers) RecordAccepted(ctx context.Context, sid string, at time.Time) error {
	ms := at.UnixMilli()
	for range updateAttempts {
		w, etag, err := a.c.FetchWorker(ctx, a.cfg.Workspace, sid)
		if err != nil {
			return mapErr(err)
		}
		m, err := twilio.ParseAttributes(w.Attributes)
		if err != nil {
			// Never replace attributes we cannot read.
			return fmt.Errorf("worker %s: %w", sid, err)
		}
		if last, ok := twilio.Millis(m["lastAcceptedTaskTime"]); ok && last >= ms {
			return nil
		}
		m["lastAcceptedTaskTime"] = ms
		s, err := twilio.EncodeAttributes(m)
		if err != nil {
			return err
		}
		err = a.c.UpdateWorkerAttributes(ctx, a.cfg.Workspace, sid, s, etag)
		if !errors.Is(err, twilio.ErrPreconditionFailed) {
			return mapErr(err)
		}
	}
	return fmt.Errorf("worker %s kept changing", sid)
}

// Workers' names
//
// A worker is named to customers by their Frontline display name (the
// Frontline Users API's friendly_name), else by the full_name in their
// TaskRouter attributes, else not at all (the flow's neutral wording):
// never by their identity, a staff e-mail address.
//
// Names are read once per nameTTL per instance and kept in a bounded
// cache, unknown users included. A lookup starts as soon as the identity
// is known: with the turn's first reads for a worker asked for by e-mail
// or waited for, in the background for the available workers of a pool
// the flow reads (the menu turn reads it, an "agent" turn too, before its
// claim), so that the worker a claim picks is usually named already. A
// reply waits for a lookup only when the instance never named that worker
// yet, and at most nameWait; an older name serves while it is read again.
// A failed lookup (the Users API down, slow or refusing) falls back, and
// is remembered for nameFailTTL: an outage costs no turn a wait.

const (
	// nameTTL is how long a display name read from Frontline is used
	// before it is read again; an older one still serves while the new
	// read is under way. Names change when an administrator edits a
	// user, not from turn to turn.
	nameTTL = 5 * time.Minute
	// nameFailTTL is how long a failed lookup is remembered.
	nameFailTTL = 30 * time.Second
	// nameWait bounds how long a reply waits for a lookup under way.
	nameWait = 500 * time.Millisecond
	// nameTimeout bounds one lookup, its retries and the fallback's reads
	// included.
	nameTimeout = 3 * time.Second
	// maxNames bounds the cache: far more than the workers of a pool.
	maxNames = 2000
	// warmBatch bounds the lookups one pool read starts, the likeliest
	// picks first: a large pool is named over a few reads, not all at
	// once against Twilio's concurrency limit.
	warmBatch = 4
	// fullNameKey is the worker attribute the fallback reads.
	fullNameKey = "full_name"
)

// nameCache is the per-instance cache of workers' names, by identity
// (Frontline identities are case-sensitive). The zero value is ready.
type nameCache struct {
	mu      sync.Mutex
	entries map[string]*nameEntry
}

type nameEntry struct {
	user   twilio.User // FriendlyName cleaned by bot.SafeName
	found  bool        // Frontline knows the user
	failed bool        // the last lookup failed: user is what an earlier one read
	looked time.Time   // when the last lookup ended; zero: never
	// pending is closed when the lookup under way ends; nil: none.
	// started is when it started.
	pending chan struct{}
	started time.Time
	// fullName is the full_name attribute last seen on the worker;
	// attrsSeen says the worker's attributes were seen at all.
	fullName  string
	attrsSeen bool
	touched   time.Time // last use, for eviction
}

// fresh reports whether e's lookup needs no repeating at now.
func (e *nameEntry) fresh(now time.Time) bool {
	ttl := nameTTL
	if e.failed {
		ttl = nameFailTTL
	}
	return !e.looked.IsZero() && now.Sub(e.looked) < ttl
}

// entry returns identity's entry, made if new. Callers hold c.mu.
func (c *nameCache) entry(identity string, now time.Time) *nameEntry {
	if c.entries == nil {
		c.entries = map[string]*nameEntry{}
	}
	e := c.entries[identity]
	if e == nil {
		if len(c.entries) >= maxNames {
			c.evict()
		}
		e = &nameEntry{}
		c.entries[identity] = e
	}
	e.touched = now
	return e
}

// evict drops the least recently used entry with no lookup under way.
// Callers hold c.mu.
func (c *nameCache) evict() {
	var (
		oldest string
		at     time.Time
	)
	for id, e := range c.entries {
		if e.pending == nil && (oldest == "" || e.touched.Before(at)) {
			oldest, at = id, e.touched
		}
	}
	delete(c.entries, oldest)
}

// Name returns the name a customer message may call the worker
// identity by: their Frontline display name, else the full_name of their
// TaskRouter worker, else "" (the reply's neutral wording). It starts a
// lookup unless one is fresh or under way, and, when no lookup of
// identity ever ended, waits for it at most nameWait: a slow or failing
// Users API costs the reply its name, never the reply.
func (a *Workers) Name(ctx context.Context, identity string) string {
	if identity == "" {
		return ""
	}
	if done, first := a.lookupName(ctx, identity); first {
		waitName(ctx, done)
	}
	return a.cached(identity)
}

// NameKnownBefore is Name for a worker who was chosen only after the
// turn's first reads (the claim of "agent" or an area): it waits only for
// a lookup that started before t, when the work began — an earlier turn's
// or pool read's. Waiting for one this work started would add a round
// trip to the reply; the reply then names the worker by their full_name
// or neutrally, and the next one by name.
func (a *Workers) NameKnownBefore(ctx context.Context, identity string, t time.Time) string {
	if identity == "" {
		return ""
	}
	done, first := a.lookupName(ctx, identity)
	a.names.mu.Lock()
	e := a.names.entry(identity, a.cfg.Now())
	earlier := done != nil && !t.IsZero() && e.started.Before(t)
	a.names.mu.Unlock()
	if first && earlier {
		waitName(ctx, done)
	}
	return a.cached(identity)
}

// waitName waits for a name lookup to end (done closed), at most
// nameWait.
func waitName(ctx context.Context, done <-chan struct{}) {
	t := time.NewTimer(nameWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
}

// cached is identity's name as the cache has it: the display name, else
// the full_name, else "".
func (a *Workers) cached(identity string) string {
	c := &a.names
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(identity, a.cfg.Now())
	if e.user.FriendlyName != "" {
		return e.user.FriendlyName
	}
	return e.fullName
}

// Deactivated reports whether the last lookup of identity's name found
// a deactivated Frontline user; false when none ended.
func (a *Workers) Deactivated(identity string) bool {
	c := &a.names
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[identity]
	return e != nil && e.found && e.user.State == twilio.UserDeactivated
}

// PrefetchName starts the lookup of identity's name, so that a reply
// made later finds it.
func (a *Workers) PrefetchName(ctx context.Context, identity string) {
	if identity != "" {
		a.lookupName(ctx, identity)
	}
}

// lookupName starts a lookup of identity's name unless one is fresh or
// under way. It returns the channel closed when the one under way ends
// (nil: none is), and whether it is the first lookup of identity, which
// has nothing to fall back on but the full_name.
func (a *Workers) lookupName(ctx context.Context, identity string) (done <-chan struct{}, first bool) {
	c := &a.names
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(identity, a.cfg.Now())
	first = e.looked.IsZero()
	if e.pending != nil || e.fresh(a.cfg.Now()) {
		return e.pending, first && e.pending != nil
	}
	ch := make(chan struct{})
	e.pending, e.started = ch, a.cfg.Now()
	// Detached: the lookup serves later replies too, whatever becomes of
	// the request that started it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), nameTimeout)
	go func() {
		defer cancel()
		a.readName(ctx, identity, e, ch)
	}()
	return ch, first
}

// needsLookup reports whether identity's name is neither fresh nor being
// read.
func (a *Workers) needsLookup(identity string) bool {
	c := &a.names
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(identity, a.cfg.Now())
	return e.pending == nil && !e.fresh(a.cfg.Now())
}

// readName reads identity's Frontline user into e and closes done; when
// the user, or the lookup, gives no display name and the worker's
// attributes were never seen, it reads them for a full_name. Frontline
// knows every worker as a user: an unknown user (an address a customer
// made up, say) is not looked for in TaskRouter.
func (a *Workers) readName(ctx context.Context, identity string, e *nameEntry, done chan struct{}) {
	u, err := a.c.FetchFrontlineUser(ctx, identity)
	found := err == nil
	switch {
	case errors.Is(err, twilio.ErrNotFound):
		err = nil // an answer: no such user, remembered as one
	case err != nil:
		a.cfg.Logger.WarnContext(ctx, "reading the worker's Frontline display name failed; naming them by full_name or neutrally",
			"worker", identity, "err", err)
	}
	u.FriendlyName = bot.SafeName(u.FriendlyName)
	c := &a.names
	c.mu.Lock()
	name := u.FriendlyName
	if err != nil {
		name = e.user.FriendlyName // kept: an earlier lookup's
	}
	needFull := name == "" && !e.attrsSeen && (found || err != nil)
	c.mu.Unlock()
	if needFull {
		a.readFullName(ctx, identity)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		e.user, e.found = u, found
	}
	e.failed = err != nil
	e.looked = a.cfg.Now()
	e.pending = nil
	close(done)
}

// readFullName notes the full_name of identity's worker, fetching the
// worker when the list left its attributes out.
func (a *Workers) readFullName(ctx context.Context, identity string) {
	w, err := a.find(ctx, identity)
	if err == nil && w.SID != "" && w.Attributes == "" {
		w, _, err = a.c.FetchWorker(ctx, a.cfg.Workspace, w.SID)
	}
	if err != nil {
		a.cfg.Logger.WarnContext(ctx, "reading the worker's full_name failed; naming them neutrally", "worker", identity, "err", err)
		return
	}
	a.noteWorkers(w)
}

// noteWorkers keeps the full_name attribute of workers read for other
// purposes: the fallback then costs no request.
func (a *Workers) noteWorkers(ws ...twilio.Worker) {
	c := &a.names
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range ws {
		if w.Identity == "" || w.Attributes == "" {
			continue
		}
		m, err := twilio.ParseAttributes(w.Attributes)
		if err != nil {
			continue
		}
		full, _ := m[fullNameKey].(string)
		e := c.entry(w.Identity, a.cfg.Now())
		e.fullName, e.attrsSeen = bot.SafeName(full), true
	}
}

// warmNames notes the workers' full names and starts, in the background,
// the lookups of up to warmBatch available ones' names that are neither
// fresh nor under way, those a claim is likeliest to pick (idle longest)
// first: a claim among them then finds its worker named.
func (a *Workers) warmNames(ctx context.Context, ws []twilio.Worker) {
	a.noteWorkers(ws...)
	var cands []assign.Candidate
	for _, w := range ws {
		if w.Available && w.Identity != "" {
			cands = append(cands, assign.Candidate{Identity: w.Identity, SID: w.SID, LastAccepted: worker(w).LastAccepted})
		}
	}
	n := 0
	for _, c := range assign.Rank(cands, nil) {
		if n == warmBatch {
			return
		}
		if a.needsLookup(c.Identity) {
			a.PrefetchName(ctx, c.Identity)
			n++
		}
	}
}

// poolReads merges the reads of the pool's available workers that run at
// once in one instance. An "agent" turn reads the whole pool (a page of
// up to 200 workers per round trip, which twilio-go decodes twice), and
// in a burst of N such turns N reads of one list cost more CPU than the
// rest of the turns together.
//
// A read joins the one in flight only if that one started after the work
// it serves was asked for (since, when its webhook arrived): it then shows the pool as it was at
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

// available returns the pool's available workers, read at some moment
// after since (see poolReads). The slice is the caller's own.
func (a *Workers) available(ctx context.Context, since time.Time) ([]twilio.Worker, error) {
	now := a.cfg.Now()
	if since.IsZero() {
		since = now
	}
	p := &a.pool
	p.mu.Lock()
	r := p.latest
	if r == nil || r.start.Before(since) {
		r = &poolRead{start: now, done: make(chan struct{})}
		p.latest = r
		go a.readPool(context.WithoutCancel(ctx), r)
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
func (a *Workers) readPool(ctx context.Context, r *poolRead) {
	ctx, cancel := context.WithTimeout(ctx, poolReadTimeout)
	defer cancel()
	ws, err := a.c.ListAvailableWorkers(ctx, a.cfg.Workspace, a.cfg.PoolQueue)
	if ws == nil && err == nil {
		ws = []twilio.Worker{}
	}
	r.ws, r.err = ws, err
	a.warmNames(ctx, ws)
	a.pool.mu.Lock()
	if a.pool.latest == r {
		a.pool.latest = nil
	}
	a.pool.mu.Unlock()
	close(r.done)
}

// areasTTL is how long the expertise areas of the pool's workers are
// reused before the pool is read again. Areas change when an
// administrator edits a worker's attributes, not from turn to turn; a
// menu turn then costs no extra Twilio request, and the numbers of the
// menu a customer answers stay the numbers they were shown.
const areasTTL = time.Minute

// fetchParallel bounds the worker fetches run at once to learn the areas
// of workers a list left without attributes.
const fetchParallel = 8

// areaCache holds the pool's workers, described, read at most once per
// areasTTL per instance.
type areaCache struct {
	mu sync.Mutex
	at time.Time
	ws []conversation.Worker // nil: not read
}

// Pool returns every worker of the pool, described: their areas and
// lastAcceptedTaskTime. TaskRouter may leave a worker's attributes out of
// a list (null), so those workers are fetched one by one. The pool is
// read at most once per areasTTL; the slice is the caller's own, its
// workers' Areas shared.
func (a *Workers) Pool(ctx context.Context) ([]conversation.Worker, error) {
	c := &a.areas
	c.mu.Lock()
	if c.ws != nil && a.cfg.Now().Sub(c.at) < areasTTL {
		defer c.mu.Unlock()
		return slices.Clone(c.ws), nil
	}
	c.mu.Unlock()

	ws, err := a.c.ListWorkers(ctx, a.cfg.Workspace, a.cfg.PoolQueue)
	if err != nil {
		return nil, mapErr(err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fetchParallel)
	for i := range ws {
		if ws[i].Attributes != "" {
			continue
		}
		g.Go(func() error {
			w, _, err := a.c.FetchWorker(gctx, a.cfg.Workspace, ws[i].SID)
			ws[i].Attributes = w.Attributes
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, mapErr(err)
	}
	out := make([]conversation.Worker, len(ws))
	for i, w := range ws {
		out[i] = worker(w)
	}
	a.warmNames(ctx, ws)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at, c.ws = a.cfg.Now(), out
	return slices.Clone(out), nil
}
