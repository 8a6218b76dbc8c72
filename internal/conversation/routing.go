package conversation

import (
	"context"
	"errors"
	"net/http"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/ledger"
	"github.com/experthub/experthub/internal/twilio"
)

// routingKey is the ledger key, and the claimant, of a conversation's
// welcome.
func routingKey(conversation string) string { return "routing:" + conversation }

// routing answers Frontline's custom routing callback for a new inbound
// conversation: it posts the welcome and, for a returning customer in
// "route" mode, adds their last worker.
func (f *Flow) routing(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	params := form(r)
	conv := get(params, "ConversationSid")
	if !isSID(conv, "CH") {
		f.log.WarnContext(ctx, "routing callback without a valid ConversationSid", "conversation", conv)
		fail(w, http.StatusBadRequest, "ConversationSid is required")
		return
	}
	key := routingKey(conv)
	a := f.begin(ctx, key)
	if !a.Owns() {
		f.log.InfoContext(ctx, "duplicate routing callback ignored", "conversation", conv, "outcome", a.Outcome.String())
		ok(w)
		return
	}
	if err := f.welcome(ctx, conv, get(params, "MessagingBinding.Address"), a); err != nil {
		f.release(ctx, a)
		f.failed(ctx, w, "routing failed", err, "conversation", conv)
		return
	}
	f.finish(ctx, a)
	ok(w)
}

// welcome posts the welcome and, for a returning customer, offers or adds
// the worker they last spoke with.
func (f *Flow) welcome(ctx context.Context, conv, address string, a ledger.Attempt) error {
	text := f.cfg.WelcomeMessage
	var add string
	if last := f.lastWorker(ctx, address); last != "" {
		switch f.cfg.Returning {
		case config.ReturningOffer:
			text += "\n\n" + bot.OfferLastWorker(last)
		case config.ReturningRoute:
			w, err := f.routeBack(ctx, conv, a.Key, address, last)
			if err != nil {
				return err
			}
			if w != "" {
				text += "\n\n" + bot.Connecting(w)
				add = w
			}
		}
	}
	var g errgroup.Group
	g.Go(func() error { return f.postOnce(ctx, conv, text, conv, a.Outcome == ledger.Resume) })
	if add != "" {
		g.Go(func() error { return f.addWorker(ctx, conv, add, nil) })
	}
	return g.Wait()
}

// lastWorker returns who the customer at address last spoke with, or ""
// when the mode is off, the customer is new or the store fails (the
// welcome must not wait on it).
func (f *Flow) lastWorker(ctx context.Context, address string) string {
	if f.cfg.Returning == config.ReturningOff || address == "" {
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
// they are still a Frontline worker, and returns their identity ("" when
// not).
func (f *Flow) routeBack(ctx context.Context, conv, key, address, last string) (string, error) {
	w, err := f.twilio.FindWorker(ctx, f.cfg.Workspace, last)
	if errors.Is(err, twilio.ErrWorkerNotFound) {
		f.log.InfoContext(ctx, "returning customer's last worker is no longer a worker", "worker", last)
		return "", nil
	}
	if err != nil {
		return "", err
	}
	norm, _ := crm.NormalizeAddress(address)
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
