package conversation

import (
	"context"
	"errors"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/taskqueue"
)

// routingKey is the claimant of a conversation's welcome.
func routingKey(conversation string) string { return "routing:" + conversation }

// welcome posts the welcome, once whatever the number of attempts: the
// welcome is marked as the answer to the conversation, and every attempt
// looks for it first. It follows the routing policy (Config.Policy): it
// may add the customer's advisor or last worker, or offer to wait for an
// advisor who is away (routes).
func (f *Flow) welcome(ctx context.Context, conv, address string) error {
	return f.exclusive(ctx, conv, func(ctx context.Context) error {
		var (
			h   history
			adv advisor
		)
		g, gctx := errgroup.WithContext(ctx)
		f.readHistory(gctx, g, conv, &h)
		if slices.Contains(f.cfg.Policy, assign.Advisor) {
			g.Go(func() error {
				// With ctx: a failed Twilio read must not cut the CRM's.
				adv = f.advisorOf(ctx, address)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if h.answered(conv) {
			return f.keepPromise(ctx, conv, conv, &h)
		}
		if h.full() || h.hasWorker() {
			// Far past its welcome, or already with a worker.
			return nil
		}
		r, err := f.routes(ctx, conv, address, adv)
		if err != nil {
			return err
		}
		text := f.cfg.WelcomeMessage
		if r.note != "" {
			text += "\n\n" + r.note
		}
		g = &errgroup.Group{}
		g.Go(func() error {
			return f.post(ctx, conv, text, mark{InReplyTo: conv, Connect: r.add, Offer: r.offer})
		})
		if r.add != "" {
			g.Go(func() error { return f.addWorker(ctx, conv, r.add, h.participants) })
		}
		return g.Wait()
	})
}

// lastWorker returns who the customer at address last spoke with, or ""
// when neither the policy nor RETURNING_CUSTOMER=offer asks, the customer is new or the store fails (the
// welcome must not wait on it).
func (f *Flow) lastWorker(ctx context.Context, address string) string {
	if !slices.Contains(f.cfg.Policy, assign.Last) && f.cfg.Returning != assign.ReturningOffer || address == "" {
		return ""
	}
	norm, err := crm.NormalizeAddress(address)
	if err != nil {
		return ""
	}
	w, err := f.assignments.LastWorker(ctx, norm)
	if err != nil && !errors.Is(err, assign.ErrNotFound) {
		f.log.WarnContext(ctx, "reading the customer's last worker failed", "err", err)
	}
	return w
}

// routeBack claims the conversation for the customer's last worker if
// they are still an active Frontline worker, and returns their identity
// ("" when not).
func (f *Flow) routeBack(ctx context.Context, conv, key, address, last string) (string, error) {
	w, err := f.workers.Find(ctx, last)
	if err != nil {
		return "", err
	}
	if w.gone() {
		f.log.InfoContext(ctx, "returning customer's last worker is no longer an active Frontline worker", "worker", last)
		return "", nil
	}
	norm, _ := crm.NormalizeAddress(address)
	taskqueue.AfterQueued(ctx)
	a, err := f.assignments.Claim(ctx, assign.Request{
		Conversation: conv,
		Claimant:     key,
		Address:      norm,
		Candidates:   []assign.Candidate{candidate(w)},
		Now:          f.now(),
		TTL:          f.cfg.Lease,
	})
	if err != nil {
		return "", err
	}
	if a.Claimant != key {
		return "", nil // a message got there first
	}
	return a.Worker, nil
}
