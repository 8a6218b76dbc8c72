package conversation

import (
	"context"
	"errors"
	"time"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/ledger"
)

// routed is what the routing policy decided for a new conversation.
type routed struct {
	note  string // added to the welcome
	add   string // the worker claimed, to add
	offer string // the worker (away advisor, last worker) the note offers to wait for
}

// advisor is the worker the CRM names as a customer's advisor.
type advisor struct {
	identity string // lower-cased; empty: none
	customer string // the customer's id
}

// advisorOf returns the advisor the CRM names for the customer at
// address, or none when there is none or the CRM cannot say: the welcome
// must not wait on it.
func (f *Flow) advisorOf(ctx context.Context, address string) advisor {
	if address == "" {
		return advisor{}
	}
	c, err := f.customers.CustomerByAddress(ctx, address)
	switch {
	case errors.Is(err, crm.ErrNotFound):
	case err != nil:
		f.log.WarnContext(ctx, "reading the customer's advisor failed; routing without", "err", err)
	default:
		return advisor{identity: c.Worker, customer: c.ID}
	}
	return advisor{}
}

// routes applies the routing policy to a new conversation: each step
// either decides or hands over to the next. adv is advisorOf's
// answer.
func (f *Flow) routes(ctx context.Context, conv, address string, adv advisor) (routed, error) {
	last := f.lastWorker(ctx, address)
	f.workers.PrefetchName(ctx, last)
	for _, step := range f.cfg.Policy {
		switch step {
		case assign.Advisor:
			r, decided, err := f.routeAdvisor(ctx, conv, address, adv)
			if err != nil || decided {
				return r, err
			}
		case assign.Last:
			if last == "" {
				continue
			}
			w, err := f.routeBack(ctx, conv, routingKey(conv), address, last)
			if err != nil {
				return routed{}, err
			}
			if w != "" {
				return routed{note: bot.ConnectingLast(f.workers.Name(ctx, w)), add: w}, nil
			}
		case assign.Bot:
			if last != "" && f.cfg.Returning == assign.ReturningOffer {
				// An offer the customer's next message answers, as the
				// away advisor's: they need not know the address.
				return routed{note: bot.OfferLastWorker(f.workers.Name(ctx, last)), offer: last}, nil
			}
			return routed{}, nil
		}
	}
	return routed{}, nil
}

// routeAdvisor adds the customer's advisor when they are available, and
// offers to wait for them when they are away; a stale advisor (no longer
// a Frontline worker) is skipped. decided is false when the next step of
// the policy should try.
func (f *Flow) routeAdvisor(ctx context.Context, conv, address string, adv advisor) (r routed, decided bool, err error) {
	identity, customerID := adv.identity, adv.customer
	if identity == "" {
		return routed{}, false, nil
	}
	f.workers.PrefetchName(ctx, identity)
	w, err := f.workers.Find(ctx, identity)
	if err != nil {
		return routed{}, false, err
	}
	if w.gone() {
		f.staleAdvisor(ctx, customerID, identity, w.Deactivated)
		return routed{}, false, nil
	}
	if !w.Available {
		return routed{note: bot.AdvisorAway(f.workers.Name(ctx, w.Identity)), offer: w.Identity}, true, nil
	}
	claimed, err := f.routeBack(ctx, conv, routingKey(conv), address, w.Identity)
	if err != nil || claimed == "" {
		// A message got there first: it routes the conversation.
		return routed{}, err == nil, err
	}
	return routed{note: bot.ConnectingAdvisor(f.workers.Name(ctx, claimed)), add: claimed}, true, nil
}

// staleAdvisor logs, once per customer and advisor on every instance
// (the ledger remembers), that the CRM names an advisor who is not a
// Frontline worker, or whose Frontline user is deactivated.
func (f *Flow) staleAdvisor(ctx context.Context, customerID, identity string, deactivated bool) {
	a := f.work.Begin(ctx, "stale-advisor:"+customerID+":"+identity, time.Minute)
	if a.Outcome == ledger.Done || a.Outcome == ledger.Busy {
		return
	}
	msg := "the customer's advisor is not a Frontline worker; skipping them (fix the CRM's worker field)"
	if deactivated {
		msg = "the customer's advisor is deactivated in Frontline; skipping them (fix the CRM's worker field)"
	}
	f.log.WarnContext(ctx, msg, "customer_id", customerID, "advisor", identity)
	if a.Owns() {
		f.work.Finish(ctx, a)
	}
}
