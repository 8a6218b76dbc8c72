package conversation

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/waitline"
)

// A fair line
//
// The line is fair among customers: a turn never gives a customer a
// worker whom the drain could give someone already waiting ahead of
// them. A Frontline worker stays available in TaskRouter while serving
// conversations, so an available worker and a non-empty line are normal
// (the drain hands each available worker one customer per event or
// sweep): a new request for anyone or an area that would take a worker
// owed to someone in line joins the line behind them instead, and the
// drain its join queues serves the line in arrival order. A customer
// who names a worker waits only behind those waiting for that worker:
// nobody else can serve them, and a customer waiting for anyone or an
// area has the rest of the pool.
//
// A waiting customer keeps their place whatever they write, and is told
// it, unless they make a new choice (an e-mail, another area, the
// contact center), which is honoured as from anyone.

// noticePlace marks the bot's message telling a customer their place in
// line.
const noticePlace = "line-place"

// lineView is the waiting line as a turn read it.
type lineView struct {
	entries []waitline.Entry // in arrival order, at most drainBatch
	own     waitline.Entry   // the conversation's place, if waiting
	waiting bool
}

// readLine reads the line for a turn in conv: nil without a line or when
// the line cannot be read (the turn then goes on as before the line: a
// customer is not kept from a worker by a store failure).
func (f *Flow) readLine(ctx context.Context, conv string) *lineView {
	if f.line == nil {
		return nil
	}
	es, err := f.line.Waiting(ctx, drainBatch)
	if err != nil {
		f.log.WarnContext(ctx, "reading the waiting line failed; answering as if nobody waits", "conversation", conv, "err", err)
		return nil
	}
	v := &lineView{entries: es}
	if i := slices.IndexFunc(es, func(e waitline.Entry) bool { return e.Conversation == conv }); i >= 0 {
		v.own, v.waiting = es[i], true
		return v
	}
	if len(es) < drainBatch {
		return v
	}
	// A long line: the customer may wait further back.
	e, _, err := f.line.Position(ctx, conv)
	switch {
	case err == nil:
		v.own, v.waiting = e, true
	case !errors.Is(err, waitline.ErrNotFound):
		f.log.WarnContext(ctx, "reading the waiting line failed; answering as if nobody waits", "conversation", conv, "err", err)
		return nil
	}
	return v
}

// lineOf returns the line as the turn knows it, read now if it was not
// or is stale.
func (f *Flow) lineOf(ctx context.Context, conv string, in *lookups) *lineView {
	if !in.lineRead {
		in.line, in.lineRead = f.readLine(ctx, conv), true
	}
	return in.line
}

// place returns the conversation's place in line, if it waits.
func (v *lineView) place() (waitline.Entry, bool) {
	if v == nil {
		return waitline.Entry{}, false
	}
	return v.own, v.waiting
}

// ahead returns the customers waiting ahead of conv's customer asking
// for target: ahead of their place when they wait for target already
// (they keep it), else everyone (they would join at the end).
func (v *lineView) ahead(conv string, target waitline.Target) []waitline.Entry {
	if v == nil {
		return nil
	}
	keep := v.waiting && v.own.Target.Key() == target.Key()
	var out []waitline.Entry
	for _, e := range v.entries {
		if e.Conversation == conv || keep && waitline.Compare(e, v.own) >= 0 {
			continue
		}
		out = append(out, e)
	}
	return out
}

// fair returns the candidates of cands whom nobody waiting ahead of
// conv's customer, asking for target, could be given by the drain: a
// customer waiting for anyone could be given any worker of the pool,
// one waiting for an area any worker of that area, one waiting for a
// named worker that worker. Asking for a named worker, only those
// waiting for the same worker are ahead (see "A fair line").
func (f *Flow) fair(ctx context.Context, conv string, target waitTarget, cands []assign.Candidate, in *lookups) ([]assign.Candidate, error) {
	t := waitline.Target(target).Normalize()
	owed := map[string]bool{}
	var areas []string
	for _, e := range f.lineOf(ctx, conv, in).ahead(conv, t) {
		w := e.Target.Normalize()
		switch {
		case w.Worker != "":
			owed[w.Worker] = true
		case t.Worker != "":
		case w.Area == "":
			return nil, nil // someone waits for anyone: every worker is theirs first
		case !slices.Contains(areas, w.Area):
			areas = append(areas, w.Area)
		}
	}
	for _, area := range areas {
		ws, err := f.areaCandidates(ctx, area, in.pool)
		if err != nil {
			return nil, err
		}
		for _, w := range ws {
			owed[strings.ToLower(w.Identity)] = true
		}
	}
	return slices.DeleteFunc(slices.Clone(cands), func(c assign.Candidate) bool {
		return owed[strings.ToLower(c.Identity)]
	}), nil
}

// tellPlace answers msg, from a customer waiting in line that makes no
// new choice, with their place: unknown is an e-mail they wrote that is
// no expert's, "" for none. A drain is queued: a worker may be free for
// them already. It reports false, having said nothing, when the customer
// left the line meanwhile.
func (f *Flow) tellPlace(ctx context.Context, conv string, msg Message, unknown string) (bool, error) {
	e, place, err := f.line.Position(ctx, conv)
	if errors.Is(err, waitline.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		f.log.WarnContext(ctx, "the waiting line is unavailable; answering as if the customer did not wait", "conversation", conv, "err", err)
		return false, nil
	}
	f.log.InfoContext(ctx, "customer in line told their place", "conversation", conv, "target", e.Target.Key(), "place", place)
	f.queueDrain(ctx, "place-"+msg.SID)
	return true, f.post(ctx, conv, bot.StillInLine(place, unknown), mark{InReplyTo: msg.SID, Notice: noticePlace, Place: place})
}
