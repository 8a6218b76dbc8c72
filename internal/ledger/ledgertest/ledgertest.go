// Package ledgertest is the conformance suite of ledger stores.
package ledgertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/conformance"
	"github.com/experthub/experthub/internal/ledger"
)

// Store is what the suite exercises.
type Store interface {
	Begin(ctx context.Context, key string, now time.Time, lease time.Duration) (ledger.Attempt, error)
	Finish(ctx context.Context, a ledger.Attempt, now time.Time) error
	Release(ctx context.Context, a ledger.Attempt, now time.Time) error
}

// TestStore runs the suite. Every subtest calls newStore once, runs in
// parallel with the others and expects an empty store.
func TestStore(t *testing.T, newStore func(t *testing.T) Store) {
	conformance.Run(t, newStore, map[string]func(*testing.T, Store){
		"Lifecycle":              testLifecycle,
		"LeaseExpiry":            testLeaseExpiry,
		"ReleaseLetsRetryResume": testRelease,
		"KeysAreIndependent":     testKeys,
		"RaceOneKey":             testRace,
	})
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const lease = 4 * time.Second

func begin(t *testing.T, s Store, key string, now time.Time, want ledger.Outcome) ledger.Attempt {
	t.Helper()
	a, err := s.Begin(t.Context(), key, now, lease)
	if err != nil {
		t.Fatalf("Begin(%q): %v", key, err)
	}
	if a.Outcome != want || a.Key != key {
		t.Fatalf("Begin(%q) at +%v = %+v, want %v", key, now.Sub(t0), a, want)
	}
	return a
}

func testLifecycle(t *testing.T, s Store) {
	a := begin(t, s, "turn:IM1", t0, ledger.Fresh)
	busy := begin(t, s, "turn:IM1", t0.Add(time.Second), ledger.Busy)
	// The delivery that stood back cannot free the lease of the one working.
	if err := s.Release(t.Context(), busy, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	begin(t, s, "turn:IM1", t0.Add(time.Second), ledger.Busy)
	if err := s.Finish(t.Context(), a, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	begin(t, s, "turn:IM1", t0.Add(3*time.Second), ledger.Done)
	begin(t, s, "turn:IM1", t0.Add(time.Hour), ledger.Done)
}

func testLeaseExpiry(t *testing.T, s Store) {
	a := begin(t, s, "k", t0, ledger.Fresh)
	b := begin(t, s, "k", t0.Add(lease), ledger.Resume)
	if b.N <= a.N {
		t.Errorf("resumed attempt number %d, want > %d", b.N, a.N)
	}
	// The first attempt coming back late must not free b's lease.
	if err := s.Release(t.Context(), a, t0.Add(lease+time.Second)); err != nil {
		t.Fatal(err)
	}
	begin(t, s, "k", t0.Add(lease+2*time.Second), ledger.Busy)
	// A late Finish by anyone finishes: the work is done.
	if err := s.Finish(t.Context(), a, t0.Add(lease+3*time.Second)); err != nil {
		t.Fatal(err)
	}
	begin(t, s, "k", t0.Add(lease+3*time.Second), ledger.Done)
}

func testRelease(t *testing.T, s Store) {
	a := begin(t, s, "k", t0, ledger.Fresh)
	if err := s.Release(t.Context(), a, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	b := begin(t, s, "k", t0.Add(time.Second), ledger.Resume)
	begin(t, s, "k", t0.Add(2*time.Second), ledger.Busy)
	if err := s.Finish(t.Context(), b, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(t.Context(), b, t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	begin(t, s, "k", t0.Add(3*time.Second), ledger.Done)
}

func testKeys(t *testing.T, s Store) {
	keys := []string{"turn:IM1", "turn:IM2", "routing:CH1", "a/b", ".", "__x__", "%2F"}
	for _, k := range keys {
		begin(t, s, k, t0, ledger.Fresh)
	}
	for _, k := range keys {
		begin(t, s, k, t0, ledger.Busy)
	}
}

// testRace: deliveries of one key racing: exactly one owns it.
func testRace(t *testing.T, s Store) {
	const n = 20
	outcomes := make([]ledger.Outcome, n)
	errs := make([]error, n)
	conformance.Race(n, func(i int) {
		a, err := s.Begin(t.Context(), "turn:IMrace", t0, lease)
		outcomes[i], errs[i] = a.Outcome, err
	})
	count := map[ledger.Outcome]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Begin %d: %v", i, errs[i])
		}
		count[outcomes[i]]++
	}
	if count[ledger.Fresh] != 1 || count[ledger.Busy] != n-1 {
		t.Errorf("outcomes = %v, want one fresh and %d busy", fmt.Sprint(count), n-1)
	}
}
