// Package waitline is the waiting line: customers nobody could take when
// they asked, kept in arrival order until a worker of what they wait for
// becomes available. The rules live here, once (Apply, Order, Position);
// the stores (internal/inmem, internal/fsstore) only keep entries and
// make a change to one entry atomic.
//
// A customer has at most one place: the line is keyed by conversation.
// Joining again for the same target keeps the place (writing again does
// not queue the customer twice); joining for another target moves the
// customer to the end of that target's line.
package waitline

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// ErrNotFound is returned when a conversation is not in the line.
var ErrNotFound = errors.New("waitline: not in line")

// Retention is how long an entry is kept at most: a customer still
// waiting after a day has long been told (Entry.Told) and their
// conversation is cold; the store forgets them (Firestore's TTL on
// expire_at), so a line never grows forever.
const Retention = 24 * time.Hour

// Target is whom a customer waits for: a named worker, an expertise
// area, or (both empty) anyone of the pool.
type Target struct {
	Worker string // a worker's identity
	Area   string // an expertise area's key
}

// Normalize returns t compared case-insensitively, as identities and
// areas are.
func (t Target) Normalize() Target {
	return Target{Worker: strings.ToLower(strings.TrimSpace(t.Worker)), Area: strings.ToLower(strings.TrimSpace(t.Area))}
}

// Key is t as one string: "" for anyone, "worker:<identity>" or
// "area:<key>".
func (t Target) Key() string {
	t = t.Normalize()
	switch {
	case t.Worker != "":
		return "worker:" + t.Worker
	case t.Area != "":
		return "area:" + t.Area
	}
	return ""
}

// Entry is one customer's place in the line.
type Entry struct {
	Conversation string
	Target       Target
	// Message is the customer's message that put them in line for
	// Target: the bot's later messages about this place (the connection,
	// the overdue notice) answer it.
	Message string
	// JoinedAt is when they joined the line for Target: their place.
	JoinedAt time.Time
	// Told is set once the customer was told they wait longer than
	// expected.
	Told bool
}

// Line is a store of the waiting line. Implementations are safe for
// concurrent use; every method is one atomic step.
type Line interface {
	// Join puts e in line and returns the entry that stands: the
	// conversation's existing one when it waits for the same target
	// already (its place kept), else e (a new place, or a move to the
	// end of another target's line).
	Join(ctx context.Context, e Entry) (Entry, error)
	// Position returns the conversation's entry and its place among
	// those waiting for the same target: 1 is next. ErrNotFound when
	// it is not in line.
	Position(ctx context.Context, conversation string) (Entry, int, error)
	// Waiting returns up to limit entries, all targets, in arrival order
	// (Order).
	Waiting(ctx context.Context, limit int) ([]Entry, error)
	// Next returns the first entry waiting for target; ErrNotFound when
	// none does.
	Next(ctx context.Context, target Target) (Entry, error)
	// Take removes e's conversation from the line if it still holds the
	// place e describes (same target, same JoinedAt), and reports
	// whether it did: a customer who moved meanwhile keeps their new
	// place.
	Take(ctx context.Context, e Entry) (bool, error)
	// Remove takes the conversation out of the line, whatever it waits
	// for; no error when it was not in line.
	Remove(ctx context.Context, conversation string) error
	// Overdue returns, in arrival order, the entries that joined before
	// before and were not told yet.
	Overdue(ctx context.Context, before time.Time) ([]Entry, error)
	// MarkTold records that e's customer was told they wait long. It
	// does nothing when the conversation no longer holds e's place.
	MarkTold(ctx context.Context, e Entry) error
}

// Apply decides a Join: current is the conversation's entry (ok false
// when it has none). It returns the entry that stands and whether the
// store must write it.
func Apply(e Entry, current Entry, ok bool) (Entry, bool) {
	e.Target = e.Target.Normalize()
	if ok && current.Target.Normalize() == e.Target {
		return current, false
	}
	e.Told = false
	return e, true
}

// Same reports whether a and b describe the same place.
func Same(a, b Entry) bool {
	return a.Conversation == b.Conversation && a.Target.Key() == b.Target.Key() && a.JoinedAt.Equal(b.JoinedAt)
}

// Compare orders entries by arrival; ties (two joins in the same
// instant) go by conversation SID, so every store agrees.
func Compare(a, b Entry) int {
	if c := a.JoinedAt.Compare(b.JoinedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.Conversation, b.Conversation)
}

// Order sorts entries in arrival order.
func Order(entries []Entry) { slices.SortFunc(entries, Compare) }

// Position returns e's place among entries waiting for the same target
// (1 is next).
func Position(e Entry, entries []Entry) int {
	n := 1
	for _, o := range entries {
		if o.Conversation != e.Conversation && o.Target.Key() == e.Target.Key() && Compare(o, e) < 0 {
			n++
		}
	}
	return n
}
