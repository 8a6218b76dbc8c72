package conversation

import (
	"context"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/assign"
)

// The experts function: what a contact-center agent chooses from when
// handing a customer over (the Flex plugin's panel). It lists the
// expertise areas of the pool and its available experts, each by display
// name and areas only: no phone number, no customer, nothing a customer
// wrote.

// Expert is an available expert of the pool.
type Expert struct {
	// Identity is the Frontline identity handoff's worker names.
	Identity string
	// Name is the display name, "" when Frontline has none.
	Name  string
	Areas []string
}

// Experts is the pool as the contact center's panel shows it.
type Experts struct {
	// Areas are the keys of the pool's workers' areas, available or
	// not, in the bot's menu order (EXPERTISE_AREAS first).
	Areas []string
	// Experts are the pool's available workers whose Frontline user is
	// not deactivated, longest idle first, as a handoff to "the first
	// available" would pick them.
	Experts []Expert
}

// Experts returns the pool's areas and available experts. It reads what
// the bot reads (the pool's available workers, the cached areas and
// names), so it costs Twilio no more than a menu turn.
func (f *Flow) Experts(ctx context.Context) (Experts, error) {
	avail, err := f.workers.Available(ctx, f.now())
	if err != nil {
		return Experts{}, err
	}
	described, err := f.areaCandidates(ctx, "", avail)
	if err != nil {
		return Experts{}, err
	}
	out := Experts{Areas: []string{}, Experts: []Expert{}}
	for _, a := range f.menu(ctx) {
		out.Areas = append(out.Areas, a.Key)
	}
	cands := make([]assign.Candidate, len(described))
	byIdentity := make(map[string]Worker, len(described))
	for i, w := range described {
		cands[i], byIdentity[w.Identity] = candidate(w), w
	}
	for _, c := range assign.Rank(cands, nil) {
		areas := byIdentity[c.Identity].Areas
		if areas == nil {
			areas = []string{}
		}
		out.Experts = append(out.Experts, Expert{Identity: c.Identity, Areas: areas})
	}
	// Names are looked up at once: each waits at most for a first
	// lookup (Workers.Name), and the pool read started them already.
	// The lookup also says whether the user is deactivated.
	var wg sync.WaitGroup
	for i := range out.Experts {
		wg.Go(func() { out.Experts[i].Name = f.workers.Name(ctx, out.Experts[i].Identity) })
	}
	wg.Wait()
	out.Experts = slices.DeleteFunc(out.Experts, func(e Expert) bool { return f.workers.Deactivated(e.Identity) })
	return out, nil
}

// HandoffExpert returns the expert the customer of conversation conv is
// with once handoff id's work is done: the one it promised them, else,
// when it promised none because the customer's expert was there already,
// that expert. "" when there is none, or it cannot be read now.
func (f *Flow) HandoffExpert(ctx context.Context, conv, id string) string {
	var h history
	g, gctx := errgroup.WithContext(ctx)
	f.readHistory(gctx, g, conv, &h)
	if err := g.Wait(); err != nil {
		f.log.WarnContext(ctx, "handoff: reading its expert failed; answered without", "handoff_id", id, "err", err)
		return ""
	}
	if w, ok := h.promise(handoffKey(id)); ok {
		return w
	}
	if !h.answered(handoffKey(id)) {
		return ""
	}
	for _, p := range h.participants {
		if p.Identity != "" {
			return p.Identity
		}
	}
	return ""
}

// ExpertName is the display name of the expert identity; "" when
// Frontline has none.
func (f *Flow) ExpertName(ctx context.Context, identity string) string {
	return f.workers.Name(ctx, identity)
}
