package conversation

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/ledger"
	"github.com/experthub/experthub/internal/twilio"
)

// inbound is a published message (onMessageAdded).
type inbound struct {
	conversation, message, participant string
	author, body                       string
	source, clientIdentity             string
}

// fromApp reports whether a worker typed the message in the Frontline app.
func (m inbound) fromApp() bool { return m.source == "SDK" || m.clientIdentity != "" }

// turnKey is the ledger key, and the claimant, of a message's bot turn.
func turnKey(message string) string { return "turn:" + message }

// lookups is what a turn reads before deciding, all at once.
type lookups struct {
	attempt      ledger.Attempt
	participants []twilio.Participant
	claim        assign.Assignment
	claimed      bool
	named        twilio.Worker // RouteWorker
	namedFound   bool
	pool         []twilio.Worker // RouteAgent
	fallback     twilio.Worker
	hasFallback  bool
}

// turn runs the bot on a customer's message while no worker is in the
// conversation: it replies and, when the customer asked for someone,
// claims a worker and adds them.
func (f *Flow) turn(ctx context.Context, m inbound) error {
	if m.fromApp() || m.author == "" || m.author == systemAuthor {
		return nil
	}
	key := turnKey(m.message)
	d := bot.Decide(m.body)
	in, err := f.lookup(ctx, m, key, d)
	if err != nil {
		f.release(ctx, in.attempt)
		return err
	}
	if !in.attempt.Owns() {
		f.log.InfoContext(ctx, "duplicate delivery ignored", "key", key, "outcome", in.attempt.Outcome.String())
		return nil
	}
	if err := f.answer(ctx, m, key, d, in); err != nil {
		f.release(ctx, in.attempt)
		return err
	}
	f.finish(ctx, in.attempt)
	return nil
}

// lookup reads, concurrently, everything a turn decides on: one Twilio
// round trip and the store, with the ledger entry taken alongside.
func (f *Flow) lookup(ctx context.Context, m inbound, key string, d bot.Decision) (lookups, error) {
	var in lookups
	// The ledger and the claim are read with ctx, not gctx: a failed
	// Twilio read must not cut a ledger write in half.
	ledgerDone := make(chan struct{})
	go func() {
		defer close(ledgerDone)
		in.attempt = f.begin(ctx, key)
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		a, err := f.assignments.Assignment(ctx, m.conversation)
		switch {
		case errors.Is(err, assign.ErrNotFound):
		case err != nil:
			f.log.WarnContext(ctx, "reading the conversation's claim failed; going by participants", "conversation", m.conversation, "err", err)
		default:
			in.claim, in.claimed = a, true
		}
		return nil
	})
	g.Go(func() (err error) {
		in.participants, err = f.twilio.ListParticipants(gctx, m.conversation)
		return err
	})
	switch d.Route {
	case bot.RouteWorker:
		g.Go(func() error {
			w, err := f.twilio.FindWorker(gctx, f.cfg.Workspace, d.Worker)
			if errors.Is(err, twilio.ErrWorkerNotFound) {
				return nil
			}
			in.named, in.namedFound = w, err == nil
			return err
		})
	case bot.RouteAgent:
		g.Go(func() (err error) {
			in.pool, err = f.twilio.ListAvailableWorkers(gctx, f.cfg.Workspace, f.cfg.PoolQueue)
			return err
		})
		if f.cfg.FallbackWorker != "" {
			g.Go(func() error {
				w, err := f.twilio.FindWorker(gctx, f.cfg.Workspace, f.cfg.FallbackWorker)
				switch {
				case errors.Is(err, twilio.ErrWorkerNotFound):
					f.log.WarnContext(ctx, "FALLBACK_WORKER is not a Frontline worker", "worker", f.cfg.FallbackWorker)
					return nil
				case err != nil:
					// The pool may well have someone: carry on without.
					f.log.WarnContext(ctx, "fallback worker lookup failed", "err", err)
					return nil
				}
				in.fallback, in.hasFallback = w, true
				return nil
			})
		}
	}
	err := g.Wait()
	<-ledgerDone
	return in, err
}

// answer decides and acts on what lookup read.
func (f *Flow) answer(ctx context.Context, m inbound, key string, d bot.Decision, in lookups) error {
	sender := senderOf(in.participants, m)
	// mine: an earlier attempt at this very turn claimed the conversation
	// and died; the worker in the conversation may be the one it added.
	mine := in.claimed && in.claim.Claimant == key
	switch {
	case sender == nil:
		f.log.DebugContext(ctx, "message not from a customer participant", "conversation", m.conversation, "message", m.message)
		return nil
	case mine:
	case hasWorker(in.participants):
		return nil // a worker has the conversation: the bot is silent
	case in.claimed && f.now().Sub(in.claim.ClaimedAt) < f.cfg.Lease:
		// Another message of this conversation is adding a worker now.
		return nil
	}

	var (
		reply   string
		claimed *assign.Assignment
		agent   bool
	)
	switch {
	case mine:
		claimed, agent = &in.claim, d.Route == bot.RouteAgent
	case d.Route == bot.RouteWorker && !in.namedFound:
		f.log.InfoContext(ctx, "customer asked for someone who is not a Frontline worker", "conversation", m.conversation)
		reply = bot.UnknownWorker(d.Worker)
	case d.Route == bot.RouteWorker:
		cands := []assign.Candidate{candidate(in.named)}
		a, err := f.claim(ctx, m, key, sender, cands)
		if err != nil {
			return err
		}
		claimed = a
	case d.Route == bot.RouteAgent:
		cands := in.agentCandidates()
		if len(cands) == 0 {
			f.log.InfoContext(ctx, "no worker available", "conversation", m.conversation, "queue", f.cfg.PoolQueue)
			reply = bot.NoAgentAvailable
			break
		}
		a, err := f.claim(ctx, m, key, sender, cands)
		if err != nil {
			return err
		}
		claimed, agent = a, true
	default:
		reply = d.Reply
	}
	if claimed != nil {
		if claimed.Claimant != key {
			return nil // another message won the conversation
		}
		reply = bot.Connecting(claimed.Worker)
		if agent {
			reply = bot.ConnectingAgent(claimed.Worker)
		}
	}

	// Second round trip: reply, add the worker and read their TaskRouter
	// record, at once.
	var g errgroup.Group
	resume := in.attempt.Outcome == ledger.Resume
	g.Go(func() error { return f.postOnce(ctx, m.conversation, reply, m.message, resume) })
	if claimed != nil {
		g.Go(func() error { return f.addWorker(ctx, m.conversation, claimed.Worker, in.participants) })
		if agent {
			g.Go(func() error {
				if err := f.recordAccepted(ctx, claimed.WorkerSID, claimed.ClaimedAt); err != nil {
					// The claim store ranks workers already; TaskRouter's
					// copy is for other tools, and can lag.
					f.log.WarnContext(ctx, "recording lastAcceptedTaskTime failed", "worker", claimed.Worker, "err", err)
				}
				return nil
			})
		}
	}
	return g.Wait()
}

// agentCandidates are the workers who may take an "any agent" request:
// the pool's available workers, or else the fallback worker.
func (in lookups) agentCandidates() []assign.Candidate {
	cands := make([]assign.Candidate, 0, len(in.pool))
	for _, w := range in.pool {
		if w.Identity != "" && w.Available {
			cands = append(cands, candidate(w))
		}
	}
	if len(cands) == 0 && in.hasFallback {
		cands = append(cands, candidate(in.fallback))
	}
	return cands
}

// claim claims the conversation for one of cands.
func (f *Flow) claim(ctx context.Context, m inbound, key string, sender *twilio.Participant, cands []assign.Candidate) (*assign.Assignment, error) {
	address, err := crm.NormalizeAddress(sender.Address)
	if err != nil {
		address = "" // nothing to remember the customer by
	}
	a, err := f.assignments.Claim(ctx, assign.Request{
		Conversation: m.conversation,
		Claimant:     key,
		Address:      address,
		Candidates:   cands,
		Now:          f.now(),
		TTL:          f.cfg.Lease,
	})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return &a, nil
}

// senderOf returns the customer participant who wrote m, or nil when the
// author is not an SMS/WhatsApp participant of the conversation (a
// worker, or a message posted through the API).
func senderOf(ps []twilio.Participant, m inbound) *twilio.Participant {
	for i := range ps {
		p := &ps[i]
		if (m.participant != "" && p.SID == m.participant) || (m.participant == "" && p.Address != "" && p.Address == m.author) {
			if p.Identity != "" || p.Address == "" {
				return nil
			}
			return p
		}
	}
	return nil
}

// hasWorker reports whether a chat user (a Frontline worker) is in the
// conversation.
func hasWorker(ps []twilio.Participant) bool {
	for _, p := range ps {
		if p.Identity != "" {
			return true
		}
	}
	return false
}
