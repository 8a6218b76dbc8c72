package inmem

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/experthub/experthub/internal/handoff"
)

// Track records t (see handoff.OpenHandoffs).
func (h *Handoffs) Track(_ context.Context, t handoff.ToFlex) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.toFlex[t.Conversation] = t
	return nil
}

// MarkAccepted marks the conversation's record accepted if it names task.
func (h *Handoffs) MarkAccepted(_ context.Context, conv, task string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.toFlex[conv]; ok && t.Task == task && !t.Accepted {
		t.Accepted = true
		h.toFlex[conv] = t
	}
	return nil
}

// Untrack removes the conversation's record if it names task.
func (h *Handoffs) Untrack(_ context.Context, conv, task string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.toFlex[conv]; ok && t.Task == task {
		delete(h.toFlex, conv)
	}
	return nil
}

// Tracked returns up to limit records, oldest first.
func (h *Handoffs) Tracked(_ context.Context, limit int) ([]handoff.ToFlex, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := slices.SortedFunc(maps.Values(h.toFlex), func(a, b handoff.ToFlex) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Conversation, b.Conversation))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
