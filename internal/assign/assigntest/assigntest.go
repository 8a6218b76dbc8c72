// Package assigntest is the conformance suite of assignment stores: every
// store (in memory, Firestore) must pass it, races included.
package assigntest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/conformance"
)

// Store is what the suite exercises.
type Store interface {
	Claim(ctx context.Context, req assign.Request) (assign.Assignment, error)
	Assignment(ctx context.Context, conversation string) (assign.Assignment, error)
	LastWorker(ctx context.Context, address string) (string, error)
	Release(ctx context.Context, conversation, worker string) error
	CloseConversation(ctx context.Context, conversation string, at time.Time) error
}

// Racers is how many claims the race subtests run at once.
const Racers = 24

// TestStore runs the suite. Every subtest calls newStore once, runs in
// parallel with the others and expects an empty store.
func TestStore(t *testing.T, newStore func(t *testing.T) Store) {
	conformance.Run(t, newStore, map[string]func(*testing.T, Store){
		"FirstClaim":               testFirstClaim,
		"ClaimIsIdempotent":        testClaimIsIdempotent,
		"FreshClaimKeepsOthersOut": testFreshClaimKeepsOthersOut,
		"StaleClaimIsReplaced":     testStaleClaimIsReplaced,
		"LongestIdle":              testLongestIdle,
		"NotFound":                 testNotFound,
		"Release":                  testRelease,
		"CloseConversation":        testCloseConversation,
		"UnusualKeys":              testUnusualKeys,
		"RaceConversations":        testRaceConversations,
		"BurstOutlastingTTL":       testBurstOutlastingTTL,
		"RaceOneConversation":      testRaceOneConversation,
		"RaceNamedWorker":          testRaceNamedWorker,
		"Burst":                    func(t *testing.T, s Store) { TestBurst(t, []Store{s}, Racers, Racers) },
		"BurstLargePool":           func(t *testing.T, s Store) { TestBurst(t, []Store{s}, Racers, 3*Racers) },
	})
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

// testRelease: a released claim keeps nobody out and names who left,
// and the customer's last worker stays known; only the claim's own
// worker releases it.
func testRelease(t *testing.T, s Store) {
	ctx := t.Context()
	ws := workers(2)
	first := claim(t, s, assign.Request{Conversation: "CH1", Claimant: "IM1", Address: "+33679500001", Candidates: ws[:1], Now: t0})
	if err := s.Release(ctx, "CH1", ws[1].Identity); err != nil {
		t.Fatalf("Release by another worker: %v", err)
	}
	if a, err := s.Assignment(ctx, "CH1"); err != nil || a.Released {
		t.Errorf("Assignment after another worker's Release = %+v, %v; want it held", a, err)
	}
	if err := s.Release(ctx, "CH1", strings.ToUpper(first.Worker)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if a, err := s.Assignment(ctx, "CH1"); err != nil || !a.Released || a.Worker != first.Worker {
		t.Errorf("Assignment after Release = %+v, %v; want released, naming %s", a, err, first.Worker)
	}
	if w, err := s.LastWorker(ctx, "+33679500001"); err != nil || w != first.Worker {
		t.Errorf("LastWorker after Release = %q, %v; want %q", w, err, first.Worker)
	}
	// Within what was the first claim's TTL, another claimant gets in.
	next := claim(t, s, assign.Request{Conversation: "CH1", Claimant: "IM2", Candidates: ws[1:], Now: t0.Add(time.Second), TTL: time.Minute})
	if next.Claimant != "IM2" || next.Worker != ws[1].Identity || next.Released {
		t.Errorf("claim after Release = %+v, want IM2's for %s", next, ws[1].Identity)
	}
	if err := s.Release(ctx, "CH-never-claimed", first.Worker); err != nil {
		t.Errorf("Release of a conversation never claimed: %v", err)
	}
	if _, err := s.Assignment(ctx, "CH-never-claimed"); !errors.Is(err, assign.ErrNotFound) {
		t.Errorf("Assignment of a conversation never claimed, after Release: err = %v, want ErrNotFound", err)
	}
}

// testCloseConversation: a closed conversation's claim stands against
// every later claimant, records no assignment, and leaves the customer's
// last worker as it was.
func testCloseConversation(t *testing.T, s Store) {
	ctx := t.Context()
	ws := workers(2)
	first := claim(t, s, assign.Request{Conversation: "CH1", Claimant: "IM1", Address: "+33679500001", Candidates: ws[:1], Now: t0})
	if err := s.CloseConversation(ctx, "CH1", t0.Add(time.Minute)); err != nil {
		t.Fatalf("CloseConversation: %v", err)
	}
	later := t0.Add(24 * time.Hour)
	got := claim(t, s, assign.Request{Conversation: "CH1", Claimant: "IM2", Address: "+33679500001", Candidates: ws[1:], Now: later})
	if !got.Closed || got.Claimant == "IM2" {
		t.Errorf("claim of a closed conversation = %+v, want the closed claim", got)
	}
	if w, err := s.LastWorker(ctx, "+33679500001"); err != nil || w != first.Worker {
		t.Errorf("LastWorker after a refused claim = %q, %v; want %q", w, err, first.Worker)
	}
	// The refused claim did not count as an assignment of its candidate.
	if a := claim(t, s, assign.Request{Conversation: "CH2", Claimant: "IM3", Candidates: ws, Now: later}); a.Worker != ws[1].Identity {
		t.Errorf("next pick = %s, want %s, never assigned", a.Worker, ws[1].Identity)
	}
	// A conversation closed before anyone claimed it stays closed too.
	if err := s.CloseConversation(ctx, "CH3", t0); err != nil {
		t.Fatalf("CloseConversation of an unclaimed conversation: %v", err)
	}
	if a, err := s.Assignment(ctx, "CH3"); err != nil || !a.Closed {
		t.Errorf("Assignment of a conversation closed unclaimed = %+v, %v; want closed", a, err)
	}
	if a := claim(t, s, assign.Request{Conversation: "CH3", Claimant: "IM4", Candidates: ws, Now: later}); a.Claimant == "IM4" {
		t.Errorf("claim of a conversation closed unclaimed = %+v, want refused", a)
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
	got, errs := race(t, s, Racers, func(i int) assign.Request {
		return assign.Request{
			Conversation: fmt.Sprintf("CH%02d", i), Claimant: fmt.Sprintf("IM%02d", i),
			Candidates: ws, Now: t0, TTL: ttl,
		}
	})
	distinctWorkers(t, map[string]string{}, got, errs, 0)
}

// race makes the claims req(0) … req(n-1) at once, all released together,
// and returns their answers.
func race(t *testing.T, s Store, n int, req func(i int) assign.Request) ([]assign.Assignment, []error) {
	got := make([]assign.Assignment, n)
	errs := make([]error, n)
	conformance.Race(n, func(i int) { got[i], errs[i] = s.Claim(t.Context(), req(i)) })
	return got, errs
}

// distinctWorkers fails the test for a claim that failed and for a worker
// given two conversations; seen maps the workers already taken to their
// conversation. first numbers the first claim in messages.
func distinctWorkers(t *testing.T, seen map[string]string, got []assign.Assignment, errs []error, first int) {
	t.Helper()
	for i, a := range got {
		if errs[i] != nil {
			t.Errorf("claim %d: %v", first+i, errs[i])
			continue
		}
		if prev, dup := seen[a.Worker]; dup {
			t.Errorf("%s assigned to both %s and %s", a.Worker, prev, a.Conversation)
		}
		seen[a.Worker] = a.Conversation
	}
}

// testBurstOutlastingTTL: a pool in use (every worker assigned hours
// before: not a fresh store) and a burst whose claims outlast the TTL:
// 2·Racers customers asked at t0; half of them were given workers at t0,
// the other half's claims race at t0+30 s (the turns the queue finishes).
// Every customer gets a worker of their own: no claim spreads to a worker
// the burst already took while one it could take has none.
func testBurstOutlastingTTL(t *testing.T, s Store) {
	ws := workers(2 * Racers)
	for i := range ws {
		ws[i].LastAccepted = t0.Add(-time.Duration(len(ws)-i) * time.Hour)
	}
	req := func(i int, now time.Time) assign.Request {
		return assign.Request{
			Conversation: fmt.Sprintf("CH%02d", i), Claimant: fmt.Sprintf("IM%02d", i),
			Candidates: ws, Now: now, TTL: ttl, Asked: t0,
		}
	}
	seen := map[string]string{}
	for i := range Racers {
		a := claim(t, s, req(i, t0))
		seen[a.Worker] = a.Conversation
	}
	got, errs := race(t, s, Racers, func(i int) assign.Request { return req(Racers+i, t0.Add(30*time.Second)) })
	distinctWorkers(t, seen, got, errs, Racers)
}

// testRaceOneConversation: messages racing in one conversation agree on
// one worker.
func testRaceOneConversation(t *testing.T, s Store) {
	ws := workers(Racers)
	got, errs := race(t, s, Racers, func(i int) assign.Request {
		// Each message asked for someone else.
		return assign.Request{
			Conversation: "CH1", Claimant: fmt.Sprintf("IM%02d", i),
			Candidates: ws[i : i+1], Now: t0, TTL: ttl,
		}
	})
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
	got, errs := race(t, s, Racers, func(i int) assign.Request {
		return assign.Request{
			Conversation: fmt.Sprintf("CH%02d", i), Claimant: fmt.Sprintf("IM%02d", i),
			Candidates: ann, Now: t0, TTL: ttl,
		}
	})
	for i, a := range got {
		if errs[i] == nil && a.Worker != ann[0].Identity {
			errs[i] = fmt.Errorf("got %s", a.Worker)
		}
		if errs[i] != nil {
			t.Errorf("claim %d: %v", i, errs[i])
		}
	}
}

// burstTimeout bounds a burst: generous, for a slow machine; the suite
// checks outcomes, never how long they took.
const burstTimeout = 2 * time.Minute

// TestBurst claims n conversations at once for "any agent" over a pool
// of workers (pool ≥ n), each claim sent twice at once (a redelivered
// webhook) through different stores when there are several (app
// instances sharing one database), then once more after the burst. Every
// conversation must get one worker, the same in every answer, no worker
// two conversations, and every worker must be one of the 2n−1 longest
// idle: each claim may lose the longest idle to a concurrent one, but
// not wander off down the pool.
func TestBurst(t *testing.T, stores []Store, n, pool int) {
	if n > pool {
		t.Fatalf("TestBurst: %d claims over %d workers would share workers", n, pool)
	}
	ctx, cancel := context.WithTimeout(t.Context(), burstTimeout)
	defer cancel()
	ws := workers(pool)
	rank := map[string]int{}
	for i := range ws {
		// w0 has been idle longest, then w1, and so on.
		ws[i].LastAccepted = t0.Add(-time.Duration(pool-i) * time.Minute)
		rank[ws[i].Identity] = i
	}
	req := func(i int) assign.Request {
		return assign.Request{
			Conversation: fmt.Sprintf("CH%04d", i), Claimant: fmt.Sprintf("IM%04d", i),
			Address: fmt.Sprintf("+3361000%04d", i), Candidates: ws, Now: t0, TTL: ttl,
		}
	}
	store := func(i int) Store { return stores[i%len(stores)] }

	got := make([][2]assign.Assignment, n)
	errs := make([][2]error, n)
	// Each claim is delivered twice, d 0 and 1.
	conformance.Race(2*n, func(k int) {
		i, d := k/2, k%2
		// A store that did not answer in time is retried, as the queue
		// retries a turn: on a saturated machine the emulator may not,
		// and the outcome is what counts.
		for attempt := 0; attempt < 5; attempt++ {
			got[i][d], errs[i][d] = store(k).Claim(ctx, req(i))
			if errs[i][d] == nil || errors.Is(errs[i][d], assign.ErrNoCandidate) || ctx.Err() != nil {
				break
			}
		}
	})

	taken := map[string]string{}
	for i := range n {
		if errs[i][0] != nil || errs[i][1] != nil {
			t.Errorf("claims of conversation %d: %v; %v", i, errs[i][0], errs[i][1])
			continue
		}
		a := got[i][0]
		if !sameAssignment(a, got[i][1]) {
			t.Errorf("the two deliveries of claim %d got %+v and %+v", i, a, got[i][1])
		}
		if want := req(i); a.Conversation != want.Conversation || a.Claimant != want.Claimant {
			t.Errorf("claim %d = %+v, want its own claim of %s", i, a, want.Conversation)
		}
		r, ok := rank[a.Worker]
		switch {
		case !ok:
			t.Errorf("%s got %q, not in the pool", a.Conversation, a.Worker)
		case r > 2*(n-1):
			t.Errorf("%s got %s, the %d-th longest idle; want one of the %d longest idle", a.Conversation, a.Worker, r+1, 2*n-1)
		}
		if prev, dup := taken[a.Worker]; dup {
			t.Errorf("%s assigned to both %s and %s", a.Worker, prev, a.Conversation)
		}
		taken[a.Worker] = a.Conversation
	}
	if !t.Failed() {
		testRedelivered(ctx, t, store, req, got)
	}
}

// testRedelivered claims each of a burst's conversations again, later
// and with a pool that has changed: each claim gets its own claim back
// and changes nothing.
func testRedelivered(ctx context.Context, t *testing.T, store func(int) Store, req func(int) assign.Request, got [][2]assign.Assignment) {
	errs := make([]error, len(got))
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			r := req(i)
			r.Now, r.Candidates = r.Now.Add(time.Hour), r.Candidates[len(r.Candidates)-1:]
			a, err := store(2*i+1).Claim(ctx, r)
			switch {
			case err != nil:
				errs[i] = fmt.Errorf("claim again: %w", err)
			case !sameAssignment(a, got[i][0]):
				errs[i] = fmt.Errorf("claim again = %+v, want %+v", a, got[i][0])
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("conversation %d: %v", i, err)
			continue
		}
		s, r := store(2*i+2), req(i)
		if a, err := s.Assignment(ctx, r.Conversation); err != nil || !sameAssignment(a, got[i][0]) {
			t.Errorf("Assignment(%s) = %+v, %v; want %+v", r.Conversation, a, err, got[i][0])
		}
		if w, err := s.LastWorker(ctx, r.Address); err != nil || w != got[i][0].Worker {
			t.Errorf("LastWorker(%s) = %q, %v; want %q", r.Address, w, err, got[i][0].Worker)
		}
	}
}
