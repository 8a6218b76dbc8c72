package conversation

import (
	"context"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/twilio"
)

// areasTTL is how long the expertise areas of the pool's workers are
// reused before the pool is read again. Areas change when an
// administrator edits a worker's attributes, not from turn to turn; a
// menu turn then costs no extra Twilio request, and the numbers of the
// menu a customer answers stay the numbers they were shown.
const areasTTL = time.Minute

// fetchParallel bounds the worker fetches run at once to learn the areas
// of workers a list left without attributes.
const fetchParallel = 8

// areaCache holds the areas of the pool's workers, read at most once per
// areasTTL per instance.
type areaCache struct {
	mu    sync.Mutex
	at    time.Time
	keys  []string          // the areas present, sorted
	bySID map[string]string // each worker's attributes
}

// poolAreas returns the expertise areas present among the pool's workers
// (sorted), and each worker's attributes by SID. TaskRouter may leave a
// worker's attributes out of a list (null), so those workers are fetched
// one by one.
func (f *Flow) poolAreas(ctx context.Context) ([]string, map[string]string, error) {
	c := &f.areas
	c.mu.Lock()
	if c.bySID != nil && f.now().Sub(c.at) < areasTTL {
		defer c.mu.Unlock()
		return c.keys, c.bySID, nil
	}
	c.mu.Unlock()

	ws, err := f.twilio.ListWorkers(ctx, f.cfg.Workspace, f.cfg.PoolQueue)
	if err != nil {
		return nil, nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fetchParallel)
	for i := range ws {
		if ws[i].Attributes != "" {
			continue
		}
		g.Go(func() error {
			w, _, err := f.twilio.FetchWorker(gctx, f.cfg.Workspace, ws[i].SID)
			ws[i].Attributes = w.Attributes
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	bySID := make(map[string]string, len(ws))
	var keys []string
	for _, w := range ws {
		bySID[w.SID] = w.Attributes
		f.noteWorkers(w)
		for _, a := range workerAreas(w.Attributes) {
			if !slices.Contains(keys, a) {
				keys = append(keys, a)
			}
		}
	}
	slices.Sort(keys)
	f.warmNames(ctx, ws)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at, c.keys, c.bySID = f.now(), keys, bySID
	return keys, bySID, nil
}

// menu returns the expertise areas to offer, in menu order; none when the
// pool's workers have none, or the pool cannot be read (the customer then
// gets the menu without areas rather than no answer).
func (f *Flow) menu(ctx context.Context) []bot.Area {
	keys, _, err := f.poolAreas(ctx)
	if err != nil {
		f.log.WarnContext(ctx, "reading the pool's expertise areas failed; the menu goes without them", "err", err)
		return nil
	}
	return f.cfg.Areas.Menu(keys)
}

// decide reads a customer's message: against the advisor's offer when
// the bot's latest message made one, else against the menu. offer is the
// advisor when the reply asks the offer again, to mark it as open.
func (f *Flow) decide(ctx context.Context, msg twilio.Message, h *history) (d bot.Decision, offer string) {
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
		d.Reply = bot.OfferAgain(f.displayName(ctx, advisor))
		return d, advisor
	}
	return d, ""
}

// areaCandidates returns the available workers of the pool (in.pool)
// whose expertise includes area. A worker the list left without
// attributes gets those the pool's read found (or a fetch, for a worker
// who joined the pool since), which also carry their
// lastAcceptedTaskTime for the claim's ranking.
func (f *Flow) areaCandidates(ctx context.Context, area string, pool []twilio.Worker) ([]twilio.Worker, error) {
	_, bySID, err := f.poolAreas(ctx)
	if err != nil {
		return nil, err
	}
	var out []twilio.Worker
	for _, w := range pool {
		if w.Identity == "" || !w.Available {
			continue
		}
		if w.Attributes == "" {
			attrs, known := bySID[w.SID]
			if !known {
				fetched, _, err := f.twilio.FetchWorker(ctx, f.cfg.Workspace, w.SID)
				if err != nil {
					return nil, err
				}
				attrs = fetched.Attributes
			}
			w.Attributes = attrs
		}
		if workerHasArea(w, area) {
			out = append(out, w)
		}
	}
	return out, nil
}
