package conversation

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/waitline"
)

// Naming workers to customers
//
// Every message of a conversation reaches the customer's phone, so the bot
// never names a worker by their identity, a staff e-mail address, unless
// the customer typed it. It names them by their Frontline display name
// (the Frontline Users API's friendly_name), else by the full_name in
// their TaskRouter attributes, else neutrally ("one of our experts").
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
	pending chan struct{}
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

// displayName returns the name a customer message may call the worker
// identity by: their Frontline display name, else the full_name of their
// TaskRouter worker, else "" (the reply's neutral wording). It starts a
// lookup unless one is fresh or under way, and, when no lookup of
// identity ever ended, waits for it at most nameWait: a slow or failing
// Users API costs the reply its name, never the reply.
func (f *Flow) displayName(ctx context.Context, identity string) string {
	if identity == "" {
		return ""
	}
	if done, first := f.lookupName(ctx, identity); first {
		t := time.NewTimer(nameWait)
		select {
		case <-done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	c := &f.names
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(identity, f.now())
	if e.user.FriendlyName != "" {
		return e.user.FriendlyName
	}
	return e.fullName
}

// prefetchName starts the lookup of identity's name, so that a reply
// made later finds it.
func (f *Flow) prefetchName(ctx context.Context, identity string) {
	if identity != "" {
		f.lookupName(ctx, identity)
	}
}

// lookupName starts a lookup of identity's name unless one is fresh or
// under way. It returns the channel closed when the one under way ends
// (nil: none is), and whether it is the first lookup of identity, which
// has nothing to fall back on but the full_name.
func (f *Flow) lookupName(ctx context.Context, identity string) (done <-chan struct{}, first bool) {
	c := &f.names
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(identity, f.now())
	first = e.looked.IsZero()
	if e.pending != nil || e.fresh(f.now()) {
		return e.pending, first && e.pending != nil
	}
	ch := make(chan struct{})
	e.pending = ch
	// Detached: the lookup serves later replies too, whatever becomes of
	// the request that started it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), nameTimeout)
	go func() {
		defer cancel()
		f.readName(ctx, identity, e, ch)
	}()
	return ch, first
}

// needsLookup reports whether identity's name is neither fresh nor being
// read.
func (f *Flow) needsLookup(identity string) bool {
	c := &f.names
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(identity, f.now())
	return e.pending == nil && !e.fresh(f.now())
}

// readName reads identity's Frontline user into e and closes done; when
// the user, or the lookup, gives no display name and the worker's
// attributes were never seen, it reads them for a full_name. Frontline
// knows every worker as a user: an unknown user (an address a customer
// made up, say) is not looked for in TaskRouter.
func (f *Flow) readName(ctx context.Context, identity string, e *nameEntry, done chan struct{}) {
	u, err := f.twilio.FetchFrontlineUser(ctx, identity)
	found := err == nil
	switch {
	case errors.Is(err, twilio.ErrNotFound):
		err = nil // an answer: no such user, remembered as one
	case err != nil:
		f.log.WarnContext(ctx, "reading the worker's Frontline display name failed; naming them by full_name or neutrally",
			"worker", identity, "err", err)
	}
	u.FriendlyName = bot.SafeName(u.FriendlyName)
	c := &f.names
	c.mu.Lock()
	name := u.FriendlyName
	if err != nil {
		name = e.user.FriendlyName // kept: an earlier lookup's
	}
	needFull := name == "" && !e.attrsSeen && (found || err != nil)
	c.mu.Unlock()
	if needFull {
		f.readFullName(ctx, identity)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		e.user, e.found = u, found
	}
	e.failed = err != nil
	e.looked = f.now()
	e.pending = nil
	close(done)
}

// readFullName notes the full_name of identity's worker, fetching the
// worker when the list left its attributes out.
func (f *Flow) readFullName(ctx context.Context, identity string) {
	w, err := f.findWorker(ctx, identity)
	if err == nil && w.SID != "" && w.Attributes == "" {
		w, _, err = f.twilio.FetchWorker(ctx, f.cfg.Workspace, w.SID)
	}
	if err != nil {
		f.log.WarnContext(ctx, "reading the worker's full_name failed; naming them neutrally", "worker", identity, "err", err)
		return
	}
	f.noteWorkers(w)
}

// noteWorkers keeps the full_name attribute of workers read for other
// purposes: the fallback then costs no request.
func (f *Flow) noteWorkers(ws ...twilio.Worker) {
	c := &f.names
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range ws {
		if w.Identity == "" || w.Attributes == "" {
			continue
		}
		m, err := parseObject(w.Attributes)
		if err != nil {
			continue
		}
		full, _ := m[fullNameKey].(string)
		e := c.entry(w.Identity, f.now())
		e.fullName, e.attrsSeen = bot.SafeName(full), true
	}
}

// warmNames notes the workers' full names and starts, in the background,
// the lookups of up to warmBatch available ones' names that are neither
// fresh nor under way, those a claim is likeliest to pick (idle longest)
// first: a claim among them then finds its worker named.
func (f *Flow) warmNames(ctx context.Context, ws []twilio.Worker) {
	f.noteWorkers(ws...)
	var cands []assign.Candidate
	for _, w := range ws {
		if w.Available && w.Identity != "" {
			cands = append(cands, candidate(w))
		}
	}
	n := 0
	for _, c := range assign.Rank(cands, nil) {
		if n == warmBatch {
			return
		}
		if f.needsLookup(c.Identity) {
			f.prefetchName(ctx, c.Identity)
			n++
		}
	}
}

// askedName is how a reply names the worker identity the customer asked
// for in text: their display name, else the address itself when the
// customer typed it, else "".
func (f *Flow) askedName(ctx context.Context, identity, text string) string {
	if name := f.displayName(ctx, identity); name != "" {
		return name
	}
	if identity != "" && strings.Contains(strings.ToLower(text), strings.ToLower(identity)) {
		return identity
	}
	return ""
}

// connecting is a turn's reply once worker was claimed for decision d,
// which answered the customer's text.
func (f *Flow) connecting(ctx context.Context, d bot.Decision, worker, text string) string {
	switch d.Route {
	case bot.RouteAgent:
		return bot.ConnectingAgent(f.displayName(ctx, worker))
	case bot.RouteArea:
		return bot.ConnectingExpert(f.displayName(ctx, worker), f.cfg.Areas.Label(d.Area))
	}
	return bot.Connecting(f.askedName(ctx, worker, text))
}

// lineConnecting is the reply once worker was claimed for the customer
// waiting at e; h is the conversation, which holds what they wrote.
func (f *Flow) lineConnecting(ctx context.Context, e waitline.Entry, worker string, h *history) string {
	if e.Target.Worker == "" || !strings.EqualFold(e.Target.Worker, worker) {
		return bot.ConnectingAgent(f.displayName(ctx, worker))
	}
	text := ""
	for _, m := range h.messages {
		if m.SID == e.Message {
			text = m.Body
		}
	}
	return bot.Connecting(f.askedName(ctx, worker, text))
}

// waitedName is how InLine names the worker identity the customer, who
// wrote text, waits for; "" when they wait for anyone.
func (f *Flow) waitedName(ctx context.Context, identity, text string) string {
	if identity == "" {
		return ""
	}
	if name := f.askedName(ctx, identity, text); name != "" {
		return name
	}
	return bot.NamedExpert
}
