package inmem

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/experthub/experthub/internal/assign"
)

// Assignments records which worker took which conversation, when each
// worker was last given one and each customer's last worker. One mutex
// makes a claim atomic, as a transaction does in Firestore: it is the
// store for local runs, where one process serves every function.
//
// Claims take the mutex in turn and each sees every claim before it, so
// none ever loses a race: each takes strictly the longest idle
// (assign.Request.Spread stays zero), within the guarantee the package
// assign documentation gives for stores that race, and never fails with
// assign.ErrContended.
type Assignments struct {
	mu           sync.Mutex
	convs        map[string]assign.Assignment
	lastAssigned map[string]time.Time // worker SID → last claim
	lastWorker   map[string]string    // customer address → identity
}

// NewAssignments returns an empty store.
func NewAssignments() *Assignments {
	return &Assignments{
		convs:        make(map[string]assign.Assignment),
		lastAssigned: make(map[string]time.Time),
		lastWorker:   make(map[string]string),
	}
}

// Claim claims req.Conversation (see assign.Decide).
func (s *Assignments) Claim(_ context.Context, req assign.Request) (assign.Assignment, error) {
	req.Spread = 0
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.convs[req.Conversation]
	a, isNew, err := assign.Decide(req, cur, ok, func(sid string) time.Time { return s.lastAssigned[sid] })
	if err != nil {
		return assign.Assignment{}, fmt.Errorf("claim %s: %w", req.Conversation, err)
	}
	if isNew {
		s.convs[a.Conversation] = a
		s.lastAssigned[a.WorkerSID] = a.ClaimedAt
		if req.Address != "" {
			s.lastWorker[req.Address] = a.Worker
		}
	}
	return a, nil
}

// Assignment returns the conversation's assignment, or assign.ErrNotFound.
func (s *Assignments) Assignment(_ context.Context, conversation string) (assign.Assignment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.convs[conversation]
	if !ok {
		return assign.Assignment{}, fmt.Errorf("assignment of %s: %w", conversation, assign.ErrNotFound)
	}
	return a, nil
}

// Release marks the conversation's claim released when it is worker's
// (ignoring case): worker left (see assign, "Ending a claim"). The
// customer's last worker stays.
func (s *Assignments) Release(_ context.Context, conversation, worker string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.convs[conversation]
	if ok && !a.Closed && strings.EqualFold(a.Worker, worker) {
		a.Released = true
		s.convs[conversation] = a
	}
	return nil
}

// CloseConversation replaces the conversation's claim, if any, by a
// closed one, which no later claim replaces (see assign, "Ending a
// claim").
func (s *Assignments) CloseConversation(_ context.Context, conversation string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.convs[conversation]
	if !ok {
		a = assign.Assignment{Conversation: conversation, ClaimedAt: at}
	}
	a.Closed = true
	s.convs[conversation] = a
	return nil
}

// LastWorker returns the identity of the worker the customer at address
// was last assigned, or assign.ErrNotFound.
func (s *Assignments) LastWorker(_ context.Context, address string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.lastWorker[address]
	if !ok {
		return "", fmt.Errorf("last worker: %w", assign.ErrNotFound)
	}
	return w, nil
}
