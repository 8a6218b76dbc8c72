package inmem

import (
	"context"
	"sync"
	"time"

	"github.com/experthub/experthub/internal/waitline"
)

// Line is an in-memory waiting line (waitline.Line): local runs and
// tests. It does not survive a restart.
type Line struct {
	mu      sync.Mutex
	entries map[string]waitline.Entry // by conversation
}

// NewLine returns an empty line.
func NewLine() *Line { return &Line{entries: map[string]waitline.Entry{}} }

// Join puts e in line (see waitline.Line).
func (l *Line) Join(_ context.Context, e waitline.Entry) (waitline.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.entries[e.Conversation]
	next, write := waitline.Apply(e, cur, ok)
	if write {
		l.entries[e.Conversation] = next
	}
	return next, nil
}

// Position returns the conversation's place (see waitline.Line).
func (l *Line) Position(_ context.Context, conversation string) (waitline.Entry, int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[conversation]
	if !ok {
		return waitline.Entry{}, 0, waitline.ErrNotFound
	}
	return e, waitline.Position(e, l.all()), nil
}

// Waiting returns the line in arrival order.
func (l *Line) Waiting(_ context.Context, limit int) ([]waitline.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := l.all()
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

// Next returns the first entry waiting for target.
func (l *Line) Next(_ context.Context, target waitline.Target) (waitline.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.all() {
		if e.Target.Key() == target.Key() {
			return e, nil
		}
	}
	return waitline.Entry{}, waitline.ErrNotFound
}

// Take removes e's place if it still stands.
func (l *Line) Take(_ context.Context, e waitline.Entry) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.entries[e.Conversation]; ok && waitline.Same(cur, e) {
		delete(l.entries, e.Conversation)
		return true, nil
	}
	return false, nil
}

// Remove takes the conversation out of the line.
func (l *Line) Remove(_ context.Context, conversation string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, conversation)
	return nil
}

// Overdue returns the entries joined before before and not told yet.
func (l *Line) Overdue(_ context.Context, before time.Time) ([]waitline.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []waitline.Entry
	for _, e := range l.all() {
		if !e.Told && e.JoinedAt.Before(before) {
			out = append(out, e)
		}
	}
	return out, nil
}

// MarkTold records the overdue notice of e's place.
func (l *Line) MarkTold(_ context.Context, e waitline.Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.entries[e.Conversation]; ok && waitline.Same(cur, e) {
		cur.Told = true
		l.entries[e.Conversation] = cur
	}
	return nil
}

// all returns every entry in arrival order; callers hold l.mu.
func (l *Line) all() []waitline.Entry {
	out := make([]waitline.Entry, 0, len(l.entries))
	for _, e := range l.entries {
		out = append(out, e)
	}
	waitline.Order(out)
	return out
}
