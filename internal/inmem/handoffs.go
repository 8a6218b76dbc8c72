package inmem

import (
	"context"
	"slices"
	"sync"

	"github.com/experthub/experthub/internal/handoff"
)

// Handoffs keeps the contact center's handoff bindings and notes, and the
// conversations handed to Flex, in memory (handoff.Bindings,
// handoff.Notes, handoff.OpenHandoffs): local runs and tests. Nothing
// expires; it does not survive a restart.
type Handoffs struct {
	mu       sync.Mutex
	bindings map[string]handoff.Binding // by handoff id
	notes    map[string][]handoff.Note  // by customer id, latest first
	toFlex   map[string]handoff.ToFlex  // by ConversationSid
}

// NewHandoffs returns empty stores.
func NewHandoffs() *Handoffs {
	return &Handoffs{bindings: map[string]handoff.Binding{}, notes: map[string][]handoff.Note{}, toFlex: map[string]handoff.ToFlex{}}
}

// Binding returns the binding of id (see handoff.Bindings).
func (h *Handoffs) Binding(_ context.Context, id string) (handoff.Binding, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.bindings[id]
	if !ok {
		return handoff.Binding{}, handoff.ErrNotFound
	}
	return b, nil
}

// Bind binds b.ID unless it is bound (see handoff.Bindings).
func (h *Handoffs) Bind(_ context.Context, b handoff.Binding) (handoff.Binding, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur, ok := h.bindings[b.ID]; ok {
		return cur, nil
	}
	h.bindings[b.ID] = b
	return b, nil
}

// Notes returns the customer's notes (see handoff.Notes).
func (h *Handoffs) Notes(_ context.Context, customer string) ([]handoff.Note, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.notes[customer]), nil
}

// AddNote adds n to the customer's notes (see handoff.Add).
func (h *Handoffs) AddNote(_ context.Context, customer string, n handoff.Note) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if next, changed := handoff.Add(h.notes[customer], n); changed {
		h.notes[customer] = next
	}
	return nil
}
