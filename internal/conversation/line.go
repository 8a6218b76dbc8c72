package conversation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/waitline"
)

// The waiting line
//
// A customer nobody can take when they ask (nobody of the pool is
// available, the named worker is away, nobody of the area is free) is put
// in line (package waitline) and told their place. The line is served by
// a drain: on each TaskRouter worker event (the taskrouter-events
// function, which queues a drain job) and on a sweep every minute (Cloud
// Scheduler), so that a missed event, or a workspace whose event callback
// belongs to another system, costs at most a minute. A drain walks the
// line in arrival order and gives each available worker at most one
// customer: a worker who comes back is not handed the whole line at once,
// and the next trigger hands out the next ones. A customer who waits
// longer than Config.MaxWait is told so once, and FallbackWorker, if set,
// takes them.
//
// A new request never takes a worker owed to someone waiting ahead of
// it, and a waiting customer is told their place whatever they write
// that makes no new choice: see "A fair line" (place.go).
//
// Every step of serving one customer is checked before it is made, as a
// turn's are: the claim is the same race-free claim (package assign) with
// the place as claimant, the connecting message carries the mark
// {"in_reply_to": <the message that put them in line>, "connect": worker},
// and the customer leaves the line only once the worker is added. A drain
// that dies half way is finished by the next.

// waitTarget says whom a customer waits for: a named worker, an expertise
// area, or (both empty) anyone of the pool.
type waitTarget struct {
	Worker string // a worker's identity
	Area   string // an expertise area's key
}

// noticeOverdue marks the bot's message telling a customer they wait
// longer than expected.
const noticeOverdue = "line-overdue"

// drainBatch bounds the customers one drain looks at: far more than the
// workers that can become available between two sweeps.
const drainBatch = 200

// drainTrigger is the job parameter naming what started a drain: its
// task's name, so that one event queues one drain however often
// TaskRouter delivers it.
const drainTrigger = "Trigger"

// wait answers msg, which asked for target while nobody of it can take
// the conversation: the customer joins the line (or keeps their place)
// and is told their place. Without a line, or when the line's store
// fails, they are told to write again later, as before the line.
func (f *Flow) wait(ctx context.Context, conv string, msg Message, target waitTarget) error {
	if f.line == nil {
		return f.post(ctx, conv, bot.NoAgentAvailable, mark{InReplyTo: msg.SID})
	}
	taskqueue.AfterQueued(ctx)
	e, err := f.line.Join(ctx, waitline.Entry{
		Conversation: conv,
		Target:       waitline.Target(target),
		Message:      msg.SID,
		JoinedAt:     f.now(),
	})
	var place int
	if err == nil {
		e, place, err = f.line.Position(ctx, conv)
	}
	if err != nil {
		f.log.WarnContext(ctx, "the waiting line is unavailable; telling the customer to write again", "conversation", conv, "err", err)
		return f.post(ctx, conv, bot.NoAgentAvailable, mark{InReplyTo: msg.SID})
	}
	f.log.InfoContext(ctx, "customer waits in line", "conversation", conv, "target", e.Target.Key(), "place", place)
	// A worker may have become available between the read of the pool
	// and the join, their event served before the customer was in line:
	// a drain now closes that gap (the sweep would, a minute later).
	f.queueDrain(ctx, "join-"+msg.SID)
	again := e.Message != msg.SID
	area := ""
	if e.Target.Area != "" {
		area = f.cfg.Areas.Label(e.Target.Area)
	}
	who := f.waitedName(ctx, e.Target.Worker, msg.Body)
	return f.post(ctx, conv, bot.InLine(place, who, area, again), mark{InReplyTo: msg.SID, Notice: noticePlace, Place: place})
}

// leaveLine takes a customer a worker joined out of the line, if there.
// It is bookkeeping: a drain that finds the worker in the conversation
// removes the place itself.
func (f *Flow) leaveLine(ctx context.Context, conv string) {
	if f.line == nil {
		return
	}
	if err := f.line.Remove(ctx, conv); err != nil {
		f.log.WarnContext(ctx, "leaving the waiting line failed; the next drain removes the place", "conversation", conv, "err", err)
	}
}

// queueDrain queues a drain of the line, named after trigger.
func (f *Flow) queueDrain(ctx context.Context, trigger string) {
	j := taskqueue.Job{Kind: kindDrain, Params: map[string]string{drainTrigger: trigger}, Received: f.now()}
	if err := f.work.Enqueue(ctx, j); err != nil && !errors.Is(err, taskqueue.ErrNoQueue) {
		f.log.WarnContext(ctx, "queueing a drain of the waiting line failed; the sweep serves the line", "trigger", trigger, "err", err)
	}
}

// WorkerEvent is a TaskRouter worker event (the workspace's event
// callback).
type WorkerEvent struct {
	// Trigger names the event once, however often TaskRouter delivers it.
	Trigger string
	// Type, WorkerSID and Activity are for the logs.
	Type, WorkerSID, Activity string
}

// OnWorkerEvent queues a drain of the line: a worker may have become
// available.
func (f *Flow) OnWorkerEvent(ctx context.Context, e WorkerEvent) {
	if f.line == nil {
		return
	}
	f.log.InfoContext(ctx, "worker event: draining the waiting line", "event", e.Type, "worker_sid", e.WorkerSID, "activity", e.Activity)
	f.queueDrain(ctx, e.Trigger)
}

// Drain serves the line now: the scheduler's sweep calls it every minute,
// in case an event was missed or the workspace's event callback is
// another system's.
func (f *Flow) Drain(ctx context.Context) error { return f.drain(ctx) }

// drain serves the line: in arrival order, each customer gets an
// available worker of their target not given one by this drain, and a
// customer waiting past Config.MaxWait is told so (once) and handed to
// FallbackWorker. One drain runs at a time.
func (f *Flow) drain(ctx context.Context) error {
	if f.line == nil {
		return nil
	}
	return f.work.Hold(ctx, "line", func(ctx context.Context) error {
		entries, err := f.line.Waiting(ctx, drainBatch)
		if err != nil || len(entries) == 0 {
			return err
		}
		pool := &drainPool{f: f, used: map[string]bool{}, named: map[string]Worker{}, described: map[string]Worker{}}
		var errs []error
		for _, e := range entries {
			cands, err := pool.candidates(ctx, e.Target)
			if err != nil {
				return err
			}
			overdue := !e.Told && f.now().Sub(e.JoinedAt) >= f.cfg.MaxWait
			if len(cands) == 0 && !overdue {
				continue
			}
			worker, err := f.serve(ctx, e, cands, overdue)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", e.Conversation, err))
				continue
			}
			if worker != "" {
				pool.used[strings.ToLower(worker)] = true
			}
		}
		return errors.Join(errs...)
	})
}

// drainPool is what one drain knows of the workers, read once.
type drainPool struct {
	f         *Flow
	available []Worker
	read      bool
	used      map[string]bool   // identities given a customer by this drain
	named     map[string]Worker // by identity; zero: not a worker
	described map[string]Worker // by SID: workers fetched, as lists leave attributes out
}

// candidates returns the available workers target's customer may get.
func (p *drainPool) candidates(ctx context.Context, target waitline.Target) ([]assign.Candidate, error) {
	target = target.Normalize()
	if target.Worker != "" {
		if p.used[target.Worker] {
			return nil, nil
		}
		w, err := memo(p.named, target.Worker, func() (Worker, error) { return p.f.workers.Find(ctx, target.Worker) })
		if err != nil {
			return nil, err
		}
		if w.gone() || !w.Available {
			return nil, nil
		}
		return []assign.Candidate{candidate(w)}, nil
	}
	if !p.read {
		var err error
		if p.available, err = p.f.workers.Available(ctx, taskqueue.Asked(ctx)); err != nil {
			return nil, err
		}
		p.read = true
	}
	var out []assign.Candidate
	for _, w := range p.available {
		if w.Identity == "" || !w.Available || p.used[strings.ToLower(w.Identity)] {
			continue
		}
		if target.Area != "" {
			if !w.Described {
				// TaskRouter lists workers without their attributes.
				d, err := memo(p.described, w.SID, func() (Worker, error) { return p.f.workers.Fetch(ctx, w.SID) })
				if err != nil {
					return nil, err
				}
				w.Areas, w.LastAccepted = d.Areas, d.LastAccepted
			}
			if !hasArea(w, target.Area) {
				continue
			}
		}
		out = append(out, candidate(w))
	}
	return out, nil
}

// memo returns m[key], read with read and kept in m the first time.
func memo[V any](m map[string]V, key string, read func() (V, error)) (V, error) {
	if v, ok := m[key]; ok {
		return v, nil
	}
	v, err := read()
	if err != nil {
		return v, err
	}
	m[key] = v
	return v, nil
}

// lineKey is the claimant of a customer's place in line: the same place
// served twice claims once.
func lineKey(e waitline.Entry) string {
	return "line:" + e.Conversation + ":" + strconv.FormatInt(e.JoinedAt.UnixMicro(), 10)
}

// claimPlace claims the conversation of e for one of cands (overdue:
// after telling the customer so, FallbackWorker when cands is empty) and
// returns the claim, nil when there is none to act on: no candidate, or
// other work holds the conversation.
func (f *Flow) claimPlace(ctx context.Context, e waitline.Entry, h *history, cands []assign.Candidate, overdue bool) (*assign.Assignment, error) {
	key := lineKey(e)
	claim, claimed := f.readClaim(ctx, e.Conversation)
	switch {
	case claimed && claim.Claimant == key:
		return &claim, nil // an earlier drain claimed and died before the worker joined
	case claimed && f.now().Sub(claim.ClaimedAt) < f.cfg.Lease:
		return nil, nil // another piece of work is bringing a worker in
	}
	if overdue {
		if err := f.post(ctx, e.Conversation, bot.LineOverdue, mark{InReplyTo: e.Message, Notice: noticeOverdue}); err != nil {
			return nil, err
		}
		if err := f.line.MarkTold(ctx, e); err != nil {
			return nil, err
		}
		if len(cands) == 0 && f.cfg.FallbackWorker != "" {
			if fb := f.fallbackWorker(ctx); fb.SID != "" {
				cands = []assign.Candidate{candidate(fb)}
			}
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	a, err := f.claim(ctx, e.Conversation, key, h.customer(), cands)
	if err != nil || a.Claimant != key {
		return nil, err // a.Claimant != key: a turn won the conversation
	}
	return a, nil
}

// serve gives the customer of e one of cands (or, overdue, tells them so
// and gives them FallbackWorker) and returns the worker who joined, ""
// when none did.
func (f *Flow) serve(ctx context.Context, e waitline.Entry, cands []assign.Candidate, overdue bool) (string, error) {
	var joined string
	err := f.exclusive(ctx, e.Conversation, func(ctx context.Context) error {
		var h history
		g, gctx := errgroup.WithContext(ctx)
		f.readHistory(gctx, g, e.Conversation, &h)
		if err := g.Wait(); err != nil {
			if errors.Is(err, ErrNotFound) {
				// The conversation is gone: so is the customer's place.
				_, err = f.line.Take(ctx, e)
			}
			return err
		}
		if h.hasWorker() || h.handedOff() {
			// Someone joined meanwhile: the customer asked again and got
			// a worker, or a worker came in from the app; or the bot
			// handed the customer to the contact center.
			_, err := f.line.Take(ctx, e)
			return err
		}
		a, err := f.claimPlace(ctx, e, &h, cands, overdue)
		if err != nil || a == nil {
			return err
		}
		g = &errgroup.Group{}
		g.Go(func() error {
			reply := f.lineConnecting(ctx, e, a.Worker, &h)
			return f.post(ctx, e.Conversation, reply, mark{InReplyTo: e.Message, Connect: a.Worker})
		})
		g.Go(func() error { return f.addWorker(ctx, e.Conversation, a.Worker, h.participants) })
		g.Go(func() error {
			f.recordAccepted(ctx, *a)
			return nil
		})
		if err := g.Wait(); err != nil {
			return err
		}
		joined = a.Worker
		f.log.InfoContext(ctx, "customer in line connected", "conversation", e.Conversation, "worker", a.Worker,
			"waited", f.now().Sub(e.JoinedAt).Round(time.Millisecond).String())
		_, err = f.line.Take(ctx, e)
		return err
	})
	return joined, err
}
