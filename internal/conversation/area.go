package conversation

import (
	"context"
	"slices"
	"strings"

	"github.com/experthub/experthub/internal/bot"
)

// Expertise areas: a worker's TaskRouter attributes list theirs, e.g.
// {"expertise": ["watches", "bridal"]} (read by the adapter into
// Worker.Areas); the menu offers the areas present among the pool's
// workers, labelled by Config.Areas.

// menu returns the expertise areas to offer, in menu order; none when the
// pool's workers have none, or the pool cannot be read (the customer then
// gets the menu without areas rather than no answer).
func (f *Flow) menu(ctx context.Context) []bot.Area {
	ws, err := f.workers.Pool(ctx)
	if err != nil {
		f.log.WarnContext(ctx, "reading the pool's expertise areas failed; the menu goes without them", "err", err)
		return nil
	}
	var keys []string
	for _, w := range ws {
		for _, a := range w.Areas {
			if !slices.Contains(keys, a) {
				keys = append(keys, a)
			}
		}
	}
	slices.Sort(keys)
	return f.cfg.Areas.Menu(keys)
}

// decide reads a customer's message: against the advisor's offer when
// the bot's latest message made one, else against the menu. offer is the
// advisor when the reply asks the offer again, to mark it as open.
func (f *Flow) decide(ctx context.Context, msg Message, h *history) (d bot.Decision, offer string) {
	d = bot.Decide(msg.Body)
	if d.Route == bot.RouteWorker {
		return d, ""
	}
	menu := f.menu(ctx)
	advisor := h.openOffer(msg.SID)
	if advisor == "" {
		return bot.DecideMenu(msg.Body, menu), ""
	}
	d = bot.DecideOffer(msg.Body, advisor, menu)
	switch {
	case d.Route == bot.RouteOther && len(menu) > 0:
		// Someone else: let the customer choose among the areas.
		return bot.Decision{Route: bot.RouteNone, Reply: bot.AreaMenu(menu)}, ""
	case d.Route == bot.RouteOther:
		return bot.Decision{Route: bot.RouteAgent}, ""
	case d.Route == bot.RouteNone:
		d.Reply = bot.OfferAgain(f.workers.Name(ctx, advisor))
		return d, advisor
	}
	return d, ""
}

// hasArea reports whether w lists area (compared case-insensitively)
// among its expertise. An empty area is anyone's.
func hasArea(w Worker, area string) bool {
	area = strings.ToLower(strings.TrimSpace(area))
	return area == "" || slices.Contains(w.Areas, area)
}

// areaCandidates returns the available workers of pool whose expertise
// includes area. A worker the list left undescribed gets what the pool's
// read found (or a fetch, for a worker who joined the pool since), which
// also carries their lastAcceptedTaskTime for the claim's ranking.
func (f *Flow) areaCandidates(ctx context.Context, area string, pool []Worker) ([]Worker, error) {
	var described map[string]Worker
	var out []Worker
	for _, w := range pool {
		if w.Identity == "" || !w.Available {
			continue
		}
		if !w.Described {
			if described == nil {
				all, err := f.workers.Pool(ctx)
				if err != nil {
					return nil, err
				}
				described = make(map[string]Worker, len(all))
				for _, d := range all {
					described[d.SID] = d
				}
			}
			d, known := described[w.SID]
			if !known {
				var err error
				if d, err = f.workers.Fetch(ctx, w.SID); err != nil {
					return nil, err
				}
			}
			w.Described, w.Areas, w.LastAccepted = true, d.Areas, d.LastAccepted
		}
		if hasArea(w, area) {
			out = append(out, w)
		}
	}
	return out, nil
}
