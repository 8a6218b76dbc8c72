// Package assigntest is the conformance suite of assignment stores: every
// store (in memory, Firestore) must pass it, races included.
package assigntest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/assign"
)

// Store is what the suite exercises.
type Store interface {
	Claim(ctx context.Context, req assign.Request) (assign.Assignment, error)
	Assignment(ctx context.Context, conversation string) (assign.Assignment, error)
	LastWorker(ctx context.Context, address string) (string, error)
}

// Racers is how many claims the race subtests run at once.
const Racers = 24

// TestStore runs the suite. Every subtest calls newStore once, runs in
// parallel with the others and expects an empty store.
func TestStore(t *testing.T, newStore func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"FirstClaim", testFirstClaim},
		{"ClaimIsIdempotent", testClaimIsIdempotent},
		{"FreshClaimKeepsOthersOut", testFreshClaimKeepsOthersOut},
		{"StaleClaimIsReplaced", testStaleClaimIsReplaced},
		{"LongestIdle", testLongestIdle},
		{"NotFound", testNotFound},
		{"UnusualKeys", testUnusualKeys},
		{"RaceConversations", testRaceConversations},
		{"RaceOneConversation", testRaceOneConversation},
		{"RaceNamedWorker", testRaceNamedWorker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const ttl = 4 * time.Second

func workers(n int) []assign.Candidate {
	out := make([]assign.Candidate, n)
	for i := range out {
		out[i] = assign.Candidate{Identity: fmt.Sprintf("w%02d@example.com", i), SID: fmt.Sprintf("WK%032d", i)}
	}
	return out
}

func claim(t *testing.T, s Store, req assign.Request) assign.Assignment {
	t.Helper()
	if req.TTL == 0 {
		req.TTL = ttl
	}
	a, err := s.Claim(t.Context(), req)
	if err != nil {
		t.Fatalf("Claim(%s by %s): %v", req.Conversation, req.Claimant, err)
	}
	return a
}

func sameAssignment(a, b assign.Assignment) bool {
	return a.Conversation == b.Conversation && a.Worker == b.Worker && a.WorkerSID == b.WorkerSID &&
		a.Claimant == b.Claimant && a.ClaimedAt.Equal(b.ClaimedAt)
}

func testFirstClaim(t *testing.T, s Store) {
	ws := workers(2)
	ws[0].LastAccepted = t0.Add(-time.Hour)
	got := claim(t, s, assign.Request{Conversation: "CH1", Claimant: "IM1", Address: "+33679500001", Candidates: ws, Now: t0})
	want := assign.Assignment{Conversation: "CH1", Worker: ws[1].Identity, WorkerSID: ws[1].SID, Claimant: "IM1", ClaimedAt: t0}
	if !sameAssignment(got, want) {
		t.Errorf("Claim = %+v, want the never-assigned worker: %+v", got, want)
	}
	stored, err := s.Assignment(t.Context(), "CH1")
	if err != nil || !sameAssignment(stored, want) {
		t.Errorf("Assignment(CH1) = %+v, %v; want %+v", stored, err, want)
	}
	if w, err := s.LastWorker(t.Context(), "+33679500001"); err != nil || w != ws[1].Identity {
		t.Errorf("LastWorker = %q, %v; want %q", w, err, ws[1].Identity)
	}
}

func testClaimIsIdempotent(t *testing.T, s Store) {
	ws := workers(3)
	first := claim(t, s, assign.Request{Conversation: "CH1", Claimant: "IM1", Candidates: ws, Now: t0})
	// A retry, long after, with another pool: the claim stands.
	again := claim(t, s, assign.Request{Conversation: "CH1", Claimant: "IM1", Candidates: ws[1:], Now: t0.Add(time.Hour)})
	if !sameAssignment(first, again) {
		t.Errorf("second claim by the same claimant = %+v, want %+v", again, first)
	}
	// Its retry did not count as another assignment of anyone.
	next := claim(t, s, assign.Request{Conversation: "CH2", Claimant: "IM2", Candidates: ws, Now: t0.Add(time.Hour)})
	if next.Worker != ws[1].Identity {
		t.Errorf("next conversation got %s, want %s", next.Worker, ws[1].Identity)
	}
}

func testFreshClaimKeepsOthersOut(t *testing.T, s Store) {
	ws := workers(2)
	first := claim(t, s, assign.Request{Conversation: "CH1", Claimant: "IM1", Candidates: ws[:1], Now: t0})
	other := claim(t, s, assign.Request{Conversation: "CH1", Claimant: "IM2", Candidates: ws[1:], Now: t0.Add(ttl - time.Millisecond)})
	if !sameAssignment(first, other) {
		t.Errorf("rival claim within the TTL = %+v, want the first claim %+v", other, first)
	}
	// The rival did not assign its candidate.
	if a := claim(t, s, assign.Request{Conversation: "CH2", Claimant: "IM3", Candidates: ws, Now: t0}); a.Worker != ws[1].Identity {
		t.Errorf("worker of the losing claim was recorded as assigned: next pick = %s", a.Worker)
	}
}

func testStaleClaimIsReplaced(t *testing.T, s Store) {
	ws := workers(2)
	claim(t, s, assign.Request{Conversation: "CH1", Claimant: "IM1", Candidates: ws[:1], Now: t0})
	got := claim(t, s, assign.Request{Conversation: "CH1", Claimant: "IM2", Candidates: ws[1:], Now: t0.Add(ttl)})
	if got.Claimant != "IM2" || got.Worker != ws[1].Identity || !got.ClaimedAt.Equal(t0.Add(ttl)) {
		t.Errorf("claim after the TTL = %+v, want a new claim by IM2 for %s", got, ws[1].Identity)
	}
	if stored, _ := s.Assignment(t.Context(), "CH1"); !sameAssignment(stored, got) {
		t.Errorf("stored %+v, want %+v", stored, got)
	}
}

func testLongestIdle(t *testing.T, s Store) {
	ws := workers(3) // all unknown to TaskRouter: the store ranks them
	var got []string
	for i := range 5 {
		a := claim(t, s, assign.Request{
			Conversation: fmt.Sprintf("CH%d", i), Claimant: fmt.Sprintf("IM%d", i),
			Candidates: ws, Now: t0.Add(time.Duration(i) * time.Second),
		})
		got = append(got, a.Worker)
	}
	want := []string{ws[0].Identity, ws[1].Identity, ws[2].Identity, ws[0].Identity, ws[1].Identity}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("successive picks = %v, want round robin %v", got, want)
	}
	// A named-worker claim counts too.
	claim(t, s, assign.Request{Conversation: "CHn", Claimant: "IMn", Candidates: ws[2:], Now: t0.Add(10 * time.Second)})
	if a := claim(t, s, assign.Request{Conversation: "CHx", Claimant: "IMx", Candidates: []assign.Candidate{ws[2], ws[0]}, Now: t0.Add(11 * time.Second)}); a.Worker != ws[0].Identity {
		t.Errorf("after a named claim of %s, pick = %s; want %s", ws[2].Identity, a.Worker, ws[0].Identity)
	}
}

func testNotFound(t *testing.T, s Store) {
	ctx := t.Context()
	if _, err := s.Claim(ctx, assign.Request{Conversation: "CH1", Claimant: "IM1", Now: t0, TTL: ttl}); !errors.Is(err, assign.ErrNoCandidate) {
		t.Errorf("Claim without candidates: err = %v, want ErrNoCandidate", err)
	}
	if _, err := s.Assignment(ctx, "CH1"); !errors.Is(err, assign.ErrNotFound) {
		t.Errorf("Assignment of a conversation never claimed: err = %v, want ErrNotFound", err)
	}
	if _, err := s.LastWorker(ctx, "+33679500001"); !errors.Is(err, assign.ErrNotFound) {
		t.Errorf("LastWorker of a new customer: err = %v, want ErrNotFound", err)
	}
}

func testUnusualKeys(t *testing.T, s Store) {
	ws := []assign.Candidate{{Identity: "o'brien/x@example.com", SID: "WK/1"}}
	for _, key := range []string{"a/b", ".", "__x__", "%2F"} {
		a := claim(t, s, assign.Request{Conversation: key, Claimant: key, Address: key, Candidates: ws, Now: t0})
		if a.Conversation != key || a.Worker != ws[0].Identity {
			t.Errorf("Claim(%q) = %+v", key, a)
		}
		if got, err := s.Assignment(t.Context(), key); err != nil || got.Worker != ws[0].Identity {
			t.Errorf("Assignment(%q) = %+v, %v", key, got, err)
		}
		if w, err := s.LastWorker(t.Context(), key); err != nil || w != ws[0].Identity {
			t.Errorf("LastWorker(%q) = %q, %v", key, w, err)
		}
	}
}

// testRaceConversations: Racers conversations ask for an agent at once
// with as many workers available; each must get a different one.
func testRaceConversations(t *testing.T, s Store) {
	ws := workers(Racers)
	got := make([]assign.Assignment, Racers)
	errs := make([]error, Racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range Racers {
		wg.Go(func() {
			<-start
			got[i], errs[i] = s.Claim(t.Context(), assign.Request{
				Conversation: fmt.Sprintf("CH%02d", i), Claimant: fmt.Sprintf("IM%02d", i),
				Candidates: ws, Now: t0, TTL: ttl,
			})
		})
	}
	close(start)
	wg.Wait()
	seen := map[string]string{}
	for i, a := range got {
		if errs[i] != nil {
			t.Errorf("claim %d: %v", i, errs[i])
			continue
		}
		if prev, dup := seen[a.Worker]; dup {
			t.Errorf("%s assigned to both %s and %s", a.Worker, prev, a.Conversation)
		}
		seen[a.Worker] = a.Conversation
	}
}

// testRaceOneConversation: messages racing in one conversation agree on
// one worker.
func testRaceOneConversation(t *testing.T, s Store) {
	ws := workers(Racers)
	got := make([]assign.Assignment, Racers)
	errs := make([]error, Racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range Racers {
		wg.Go(func() {
			<-start
			// Each message asked for someone else.
			got[i], errs[i] = s.Claim(t.Context(), assign.Request{
				Conversation: "CH1", Claimant: fmt.Sprintf("IM%02d", i),
				Candidates: ws[i : i+1], Now: t0, TTL: ttl,
			})
		})
	}
	close(start)
	wg.Wait()
	winners := map[string]bool{}
	for i, a := range got {
		if errs[i] != nil {
			t.Fatalf("claim %d: %v", i, errs[i])
		}
		if !sameAssignment(a, got[0]) {
			t.Errorf("claim %d saw %+v, claim 0 saw %+v", i, a, got[0])
		}
		winners[a.Claimant] = true
	}
	if len(winners) != 1 {
		t.Errorf("%d winners, want 1", len(winners))
	}
	// Only the winner's worker counts as assigned.
	next := claim(t, s, assign.Request{Conversation: "CH2", Claimant: "IMnext", Candidates: ws, Now: t0.Add(time.Second)})
	if next.Worker == got[0].Worker {
		t.Errorf("next conversation got the worker just assigned, %s", next.Worker)
	}
}

// testRaceNamedWorker: one worker asked for by name in many conversations
// at once takes them all.
func testRaceNamedWorker(t *testing.T, s Store) {
	ann := workers(1)
	errs := make([]error, Racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range Racers {
		wg.Go(func() {
			<-start
			a, err := s.Claim(t.Context(), assign.Request{
				Conversation: fmt.Sprintf("CH%02d", i), Claimant: fmt.Sprintf("IM%02d", i),
				Candidates: ann, Now: t0, TTL: ttl,
			})
			if err == nil && a.Worker != ann[0].Identity {
				err = fmt.Errorf("got %s", a.Worker)
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("claim %d: %v", i, err)
		}
	}
}
