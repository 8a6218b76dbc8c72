package conversation

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/waitline"
)

// turnKey is the claimant of a message's bot turn.
func turnKey(message string) string { return "turn:" + message }

// lookups is what a turn reads, besides the history, before deciding: the
// conversation's claim and the workers the decision needs, read in the
// same round trip as the history for the message being delivered, and on
// demand for an older message still waiting.
type lookups struct {
	claim   assign.Assignment
	claimed bool
	// named are the workers asked for by e-mail; absent means not read,
	// a zero Worker means not a Frontline worker.
	named map[string]Worker
	pool  []Worker // nil: not read
	// fallback is FALLBACK_WORKER's record, zero when there is none.
	fallback     Worker
	fallbackRead bool
	// line is the waiting line (lineOf); lineRead false: not read yet,
	// or stale since the turn put the customer in line.
	line     *lineView
	lineRead bool
}

// turn runs the bot on a customer's message while no worker is in the
// conversation: it replies and, when the customer asked for someone,
// claims a worker and adds them. It holds the conversation, reads what
// Twilio shows of it, and answers every customer message still waiting up
// to this one, oldest first.
func (f *Flow) turn(ctx context.Context, m Inbound) error {
	return f.exclusive(ctx, m.Conversation, func(ctx context.Context) error {
		h, in, err := f.read(ctx, m.Conversation, bot.Decide(m.Body))
		if err != nil {
			return err
		}
		if in.claimed && in.claim.Closed {
			return ErrClosed
		}
		left := in.forgetReleased()
		pending := h.pending(m.Message)
		if h.handedOff() {
			return nil // the contact center has the customer
		}
		if h.hasWorker() {
			// A worker has the conversation: the bot is silent, but for
			// the answer to the message whose claim brought them in.
			for _, msg := range pending {
				if in.claimed && in.claim.Claimant == turnKey(msg.SID) {
					_, err := f.answer(ctx, m.Conversation, msg, &h, &in)
					return err
				}
			}
			return nil
		}
		if sid, w, ok := h.openPromise(); ok && !sameWorker(w, left) {
			// A worker was promised and is not in yet: keep that promise
			// (a second add of one identity is refused by Twilio), and
			// let the worker answer what the customer wrote since.
			return f.keepPromise(ctx, m.Conversation, sid, &h)
		}
		for _, msg := range pending {
			if f.toContactCenter(msg, &h) {
				if err := f.handToFlex(ctx, m.Conversation, msg, &h); err != nil {
					return err
				}
				// Flex has the customer: no expert takes their place
				// in line (a drain also skips a handed-off one).
				f.leaveLine(ctx, m.Conversation)
				return nil
			}
			joined, err := f.answer(ctx, m.Conversation, msg, &h, &in)
			if err != nil || joined {
				return err
			}
		}
		return nil
	})
}

// read makes a turn's first round trip: the history, the claim, and the
// workers decision d needs, at once.
func (f *Flow) read(ctx context.Context, conv string, d bot.Decision) (history, lookups, error) {
	var (
		h  history
		in = lookups{named: map[string]Worker{}}
	)
	g, gctx := errgroup.WithContext(ctx)
	f.readHistory(gctx, g, conv, &h)
	g.Go(func() error {
		// With ctx, not gctx: a failed Twilio read must not cut a store
		// read in half and leave it logged as a store failure.
		in.claim, in.claimed = f.readClaim(ctx, conv)
		return nil
	})
	f.prefetch(gctx, g, d, &in)
	g.Go(func() error {
		// With ctx, as the claim: a store read cut short reads as a
		// store failure.
		in.line, in.lineRead = f.readLine(ctx, conv), true
		return nil
	})
	err := g.Wait()
	return h, in, err
}

// forgetReleased drops a released claim from in, which keeps nobody out,
// and returns the worker who left ("" when the claim is not released):
// the promise that brought them in was kept.
func (in *lookups) forgetReleased() string {
	if !in.claimed || !in.claim.Released {
		return ""
	}
	left := in.claim.Worker
	in.claim, in.claimed = assign.Assignment{}, false
	return left
}

func (f *Flow) readClaim(ctx context.Context, conv string) (assign.Assignment, bool) {
	a, err := f.assignments.Assignment(ctx, conv)
	switch {
	case errors.Is(err, assign.ErrNotFound):
	case err != nil:
		f.log.WarnContext(ctx, "reading the conversation's claim failed; going by participants", "conversation", conv, "err", err)
	default:
		return a, true
	}
	return assign.Assignment{}, false
}

// prefetch adds to g the worker reads decision d needs.
func (f *Flow) prefetch(ctx context.Context, g *errgroup.Group, d bot.Decision, in *lookups) {
	switch d.Route {
	case bot.RouteWorker:
		f.workers.PrefetchName(ctx, d.Worker)
		g.Go(func() error {
			w, err := f.workers.Find(ctx, d.Worker)
			in.named[d.Worker] = w
			return err
		})
	case bot.RouteNone:
		// The menu, or an answer to it: the pool's areas, read ahead
		// (and cached); a failure shows when they are needed.
		g.Go(func() error {
			_, _ = f.workers.Pool(ctx)
			return nil
		})
	case bot.RouteAgent:
		g.Go(func() (err error) {
			in.pool, err = f.workers.Available(ctx, taskqueue.Asked(ctx))
			return err
		})
		// The menu's areas too (see decide): "an agent for my watch"
		// asks for an area. On a new instance they are not cached yet.
		g.Go(func() error {
			_, _ = f.workers.Pool(ctx)
			return nil
		})
		if f.cfg.FallbackWorker != "" {
			g.Go(func() error {
				in.fallback, in.fallbackRead = f.fallbackWorker(ctx), true
				return nil
			})
		}
	}
}

// fallbackWorker returns FALLBACK_WORKER's record, or a zero Worker when
// it is not a worker or cannot be read: the pool may well have someone.
func (f *Flow) fallbackWorker(ctx context.Context) Worker {
	w, err := f.workers.Find(ctx, f.cfg.FallbackWorker)
	switch {
	case err != nil:
		f.log.WarnContext(ctx, "fallback worker lookup failed", "err", err)
	case w.SID == "":
		f.log.WarnContext(ctx, "FALLBACK_WORKER is not a Frontline worker", "worker", f.cfg.FallbackWorker)
	case w.Deactivated:
		f.log.WarnContext(ctx, "FALLBACK_WORKER is deactivated in Frontline", "worker", f.cfg.FallbackWorker)
		return Worker{}
	}
	return w
}

// keepPromise makes sure that a worker the bot promised in answer to sid
// joins: an attempt that posted "connecting you to X" and died before
// adding X is finished here. A promised worker who is no longer a
// Frontline worker is taken back with a correction.
func (f *Flow) keepPromise(ctx context.Context, conv, sid string, h *history) error {
	worker, ok := h.promise(sid)
	if !ok || h.hasParticipant(worker) {
		return nil
	}
	w, err := f.workers.Find(ctx, worker)
	if err != nil {
		return err
	}
	if w.gone() {
		f.log.WarnContext(ctx, "the promised worker is no longer an active Frontline worker; telling the customer", "conversation", conv, "worker", worker)
		return f.post(ctx, conv, bot.CouldNotConnect(f.workers.Name(ctx, worker)), mark{InReplyTo: sid, Correction: true})
	}
	return f.addWorker(ctx, conv, worker, h.participants)
}

// answer answers one waiting customer message and reports whether a
// worker joined (the bot is then silent).
func (f *Flow) answer(ctx context.Context, conv string, msg Message, h *history, in *lookups) (bool, error) {
	key := turnKey(msg.SID)
	d, offer := f.decide(ctx, msg, h)
	// mine: an earlier attempt at this very message claimed the
	// conversation and died before answering.
	mine := in.claimed && in.claim.Claimant == key
	if !mine && in.claimed && f.now().Sub(in.claim.ClaimedAt) < f.cfg.Lease {
		// Another piece of work claimed the conversation moments ago and
		// is still bringing its worker in.
		return false, nil
	}
	var (
		reply   string
		claimed *assign.Assignment
	)
	if mine {
		claimed = &in.claim
	} else {
		var done bool
		var err error
		if claimed, reply, done, err = f.route(ctx, conv, msg, h, in, d); err != nil || done {
			return false, err
		}
	}
	if claimed == nil {
		return false, f.post(ctx, conv, reply, mark{InReplyTo: msg.SID, Offer: offer})
	}
	// The customer asked for anyone (of an area): the assignment counts
	// in TaskRouter's record of who is idle longest.
	agent := d.Route == bot.RouteAgent || d.Route == bot.RouteArea
	// Second round trip: reply and add the worker at once. Only the reply
	// waits for the worker's name, whose lookup is under way or done
	// (names.go).
	var g errgroup.Group
	g.Go(func() error {
		reply := f.connecting(ctx, d, claimed.Worker, msg.Body)
		return f.post(ctx, conv, reply, mark{InReplyTo: msg.SID, Connect: claimed.Worker})
	})
	g.Go(func() error { return f.addWorker(ctx, conv, claimed.Worker, h.participants) })
	g.Go(func() error {
		f.leaveLine(ctx, conv)
		return nil
	})
	if err := g.Wait(); err != nil {
		return true, err
	}
	if agent {
		f.recordLater(ctx, *claimed)
	}
	return true, nil
}

// route decides msg, for which decision d was made, while nobody has
// claimed the conversation: it claims a worker (claimed), or returns the
// reply to post, or answers msg itself (done: the customer waits in
// line, or another piece of work won the conversation).
func (f *Flow) route(ctx context.Context, conv string, msg Message, h *history, in *lookups, d bot.Decision) (claimed *assign.Assignment, reply string, done bool, err error) {
	if d.Route == bot.RouteWait {
		return nil, "", true, f.waitIn(ctx, conv, msg, in, waitTarget{Worker: d.Worker})
	}
	cands, reply, target, err := f.candidates(ctx, d, in)
	if err != nil {
		return nil, "", false, err
	}
	if len(cands) > 0 {
		t := waitTargetOf(d)
		if cands, err = f.fair(ctx, conv, t, cands, in); err != nil {
			return nil, "", false, err
		}
		if len(cands) == 0 {
			f.log.InfoContext(ctx, "customers wait ahead for the workers available; the customer joins the line", "target", waitline.Target(t).Key())
			target = &t
		}
	}
	switch {
	case target != nil:
		return nil, "", true, f.waitIn(ctx, conv, msg, in, *target)
	case len(cands) == 0 && d.Route == bot.RouteArea:
		f.log.InfoContext(ctx, "no expert of the area available", "area", d.Area)
		return nil, "", true, f.waitIn(ctx, conv, msg, in, waitTarget{Area: d.Area})
	case len(cands) == 0:
		// The menu, or an e-mail that is no expert's: no new choice, a
		// waiting customer keeps their place and is told it.
		unknown := ""
		if d.Route == bot.RouteWorker {
			unknown = d.Worker
		}
		if _, waiting := f.lineOf(ctx, conv, in).place(); waiting {
			if told, err := f.tellPlace(ctx, conv, msg, unknown); told || err != nil {
				return nil, "", true, err
			}
		}
		return nil, reply, false, nil
	}
	key := turnKey(msg.SID)
	if claimed, err = f.claim(ctx, conv, key, h.customer(), cands); err != nil {
		return nil, "", false, err
	}
	if claimed.Claimant != key {
		return nil, "", true, nil // another piece of work won the conversation
	}
	return claimed, "", false, nil
}

// waitIn puts the customer in line for target (wait); the turn's view of
// the line is stale after it.
func (f *Flow) waitIn(ctx context.Context, conv string, msg Message, in *lookups, target waitTarget) error {
	in.lineRead = false
	return f.wait(ctx, conv, msg, target)
}

// waitTargetOf is whom a customer asking d waits for in line.
func waitTargetOf(d bot.Decision) waitTarget {
	switch d.Route {
	case bot.RouteWorker, bot.RouteWait:
		return waitTarget{Worker: d.Worker}
	case bot.RouteArea:
		return waitTarget{Area: d.Area}
	}
	return waitTarget{}
}

// candidates returns who may take a conversation for decision d, or,
// when nobody may, the reply or (wait set) whom the customer waits for in
// line.
//
// A named worker who is a Frontline worker but not available is waited
// for: adding them would leave the customer talking to nobody, with no
// word of it, until they come back; in line, the customer is told, and
// connected as soon as the worker is available again (or may write AGENT
// for anyone).
func (f *Flow) candidates(ctx context.Context, d bot.Decision, in *lookups) (cands []assign.Candidate, reply string, wait *waitTarget, err error) {
	switch d.Route {
	case bot.RouteWorker:
		w, err := memo(in.named, d.Worker, func() (Worker, error) { return f.workers.Find(ctx, d.Worker) })
		if err != nil {
			return nil, "", nil, err
		}
		if w.SID == "" {
			f.log.InfoContext(ctx, "customer asked for someone who is not a Frontline worker")
			return nil, bot.UnknownWorker(d.Worker), nil, nil
		}
		if w.Deactivated {
			f.log.InfoContext(ctx, "customer asked for a worker who is deactivated in Frontline", "worker", w.Identity)
			return nil, bot.NotAvailable(d.Worker), nil, nil
		}
		if !w.Available {
			f.log.InfoContext(ctx, "the worker asked for is not available; the customer waits for them", "worker", w.Identity)
			return nil, "", &waitTarget{Worker: w.Identity}, nil
		}
		return []assign.Candidate{candidate(w)}, "", nil, nil
	case bot.RouteArea:
		if err := f.ensurePool(ctx, in); err != nil {
			return nil, "", nil, err
		}
		ws, err := f.areaCandidates(ctx, d.Area, in.pool)
		if err != nil {
			return nil, "", nil, err
		}
		for _, w := range ws {
			cands = append(cands, candidate(w))
		}
		return cands, "", nil, nil
	case bot.RouteAgent:
		if err := f.ensurePool(ctx, in); err != nil {
			return nil, "", nil, err
		}
		cands = f.agentCandidates(ctx, in)
		if len(cands) == 0 {
			f.log.InfoContext(ctx, "no worker available in the pool")
			return nil, "", &waitTarget{}, nil
		}
		return cands, "", nil, nil
	}
	return nil, d.Reply, nil, nil
}

// ensurePool reads the pool's available workers into in, unless read.
func (f *Flow) ensurePool(ctx context.Context, in *lookups) error {
	if in.pool != nil {
		return nil
	}
	var err error
	in.pool, err = f.workers.Available(ctx, taskqueue.Asked(ctx))
	return err
}

// agentCandidates returns the pool's available workers (in.pool), or
// FALLBACK_WORKER when none is.
func (f *Flow) agentCandidates(ctx context.Context, in *lookups) []assign.Candidate {
	var cands []assign.Candidate
	for _, w := range in.pool {
		if w.Identity != "" && w.Available {
			cands = append(cands, candidate(w))
		}
	}
	if len(cands) == 0 && f.cfg.FallbackWorker != "" {
		if !in.fallbackRead {
			in.fallback, in.fallbackRead = f.fallbackWorker(ctx), true
		}
		if in.fallback.SID != "" {
			cands = append(cands, candidate(in.fallback))
		}
	}
	return cands
}

// claim claims the conversation for one of cands on behalf of key.
func (f *Flow) claim(ctx context.Context, conv, key string, customer *Participant, cands []assign.Candidate) (*assign.Assignment, error) {
	address := ""
	if customer != nil {
		// Unparseable: nothing to remember the customer by.
		address, _ = crm.NormalizeAddress(customer.Address)
	}
	taskqueue.AfterQueued(ctx)
	a, err := f.assignments.Claim(ctx, assign.Request{
		Conversation: conv,
		Claimant:     key,
		Address:      address,
		Candidates:   cands,
		Now:          f.now(),
		TTL:          f.cfg.Lease,
		Asked:        taskqueue.Asked(ctx),
	})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return &a, nil
}
