// Package handofftest is the conformance suite of the handoff stores
// (handoff.Bindings, handoff.Notes): each store's tests run it on a fresh
// store.
package handofftest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/conformance"
	"github.com/experthub/experthub/internal/handoff"
)

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// TestBindings runs the bindings suite; open returns an empty store for
// each subtest.
func TestBindings(t *testing.T, open func(t *testing.T) handoff.Bindings) {
	conformance.Run(t, open, map[string]func(*testing.T, handoff.Bindings){
		"FirstBindingStands":       testFirstStands,
		"ConcurrentBindsOneWinner": testConcurrentBinds,
		"AnyIDTheCallerMayChoose":  testIDs,
	})
}

func binding(id, customer string) handoff.Binding {
	return handoff.Binding{ID: id, Customer: customer, Address: "+4474910000" + customer, Worker: "ann@example.com", At: t0}
}

// same compares bindings, their times as instants: a store may give
// them back in another location.
func same(a, b handoff.Binding) bool {
	at := a.At.Equal(b.At)
	a.At, b.At = time.Time{}, time.Time{}
	return at && a == b
}

func testFirstStands(t *testing.T, s handoff.Bindings) {
	ctx := t.Context()
	if _, err := s.Binding(ctx, "flex-1"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("Binding of an unbound id: %v, want ErrNotFound", err)
	}
	first := binding("flex-1", "01")
	got, err := s.Bind(ctx, first)
	if err != nil || !same(got, first) {
		t.Fatalf("Bind = %+v, %v; want %+v", got, err, first)
	}
	other := binding("flex-1", "02")
	other.At = t0.Add(time.Minute)
	got, err = s.Bind(ctx, other)
	if err != nil || !same(got, first) {
		t.Errorf("Bind of a bound id = %+v, %v; want the first binding %+v", got, err, first)
	}
	if got, err := s.Binding(ctx, "flex-1"); err != nil || !same(got, first) {
		t.Errorf("Binding = %+v, %v; want %+v", got, err, first)
	}
	// Ids are independent.
	second := binding("flex-2", "02")
	if got, err := s.Bind(ctx, second); err != nil || !same(got, second) {
		t.Errorf("Bind of another id = %+v, %v", got, err)
	}
}

func testConcurrentBinds(t *testing.T, s handoff.Bindings) {
	const n = 5
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]int{}
	)
	for i := range n {
		wg.Go(func() {
			got, err := s.Bind(t.Context(), binding("flex-race", fmt.Sprintf("%02d", i)))
			if err != nil {
				t.Errorf("Bind: %v", err)
				return
			}
			mu.Lock()
			seen[got.Customer]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != 1 {
		t.Fatalf("%d concurrent binds of one id returned customers %v, want one for all", n, seen)
	}
	stored, err := s.Binding(t.Context(), "flex-race")
	if err != nil || seen[stored.Customer] != n {
		t.Errorf("stored binding %+v, %v; binds returned %v", stored, err, seen)
	}
}

func testIDs(t *testing.T, s handoff.Bindings) {
	ids := []string{".", "..", "__x__", "a:b", "A.b-c_d", "_x", strings.Repeat("z", 128), "flex/1"}
	for i, id := range ids {
		b := binding(id, fmt.Sprintf("%02d", i))
		if got, err := s.Bind(t.Context(), b); err != nil || !same(got, b) {
			t.Errorf("Bind(%q) = %+v, %v", id, got, err)
		}
	}
	for i, id := range ids {
		if got, err := s.Binding(t.Context(), id); err != nil || got.Customer != fmt.Sprintf("%02d", i) {
			t.Errorf("Binding(%q) = %+v, %v", id, got, err)
		}
	}
}

// TestNotes runs the notes suite; open returns an empty store for each
// subtest.
func TestNotes(t *testing.T, open func(t *testing.T) handoff.Notes) {
	conformance.Run(t, open, map[string]func(*testing.T, handoff.Notes){
		"LatestFirstOncePerHandoff":  testNotesOrder,
		"ConcurrentHandoffsAllNoted": testConcurrentNotes,
		"Bounded":                    testNotesBounded,
	})
}

func note(id string, i int) handoff.Note {
	return handoff.Note{HandoffID: id, At: t0.Add(time.Duration(i) * time.Hour), Text: "note of " + id}
}

func ids(notes []handoff.Note) []string {
	var out []string
	for _, n := range notes {
		out = append(out, n.HandoffID)
	}
	return out
}

func testNotesOrder(t *testing.T, s handoff.Notes) {
	ctx := t.Context()
	if got, err := s.Notes(ctx, "2"); err != nil || len(got) != 0 {
		t.Fatalf("Notes of a customer without any = %v, %v", got, err)
	}
	for _, n := range []handoff.Note{note("a", 1), note("c", 3), note("b", 2), note("a", 4)} {
		if err := s.AddNote(ctx, "2", n); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Notes(ctx, "2")
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(ids(got), ","); g != "c,b,a" {
		t.Errorf("notes = %s, want c,b,a (latest first, a once)", g)
	}
	if len(got) == 3 && (!got[2].At.Equal(t0.Add(time.Hour)) || got[2].Text != "note of a") {
		t.Errorf("note a = %+v, want the first one kept", got[2])
	}
	if other, err := s.Notes(ctx, "3"); err != nil || len(other) != 0 {
		t.Errorf("another customer's notes = %v, %v", other, err)
	}
	// Any customer id the CRM may have.
	if err := s.AddNote(ctx, "../x/..", note("d", 1)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Notes(ctx, "../x/.."); err != nil || len(got) != 1 {
		t.Errorf("notes of an odd id = %v, %v", got, err)
	}
}

func testConcurrentNotes(t *testing.T, s handoff.Notes) {
	const n = 5
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := s.AddNote(t.Context(), "2", note(fmt.Sprintf("h%d", i), i)); err != nil {
				t.Errorf("AddNote: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := s.Notes(t.Context(), "2")
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(ids(got), ","); g != "h4,h3,h2,h1,h0" {
		t.Errorf("after %d concurrent handoffs notes = %s, want all, latest first", n, g)
	}
}

func testNotesBounded(t *testing.T, s handoff.Notes) {
	long := strings.Repeat("x", 3*handoff.MaxNote)
	for i := range 6 {
		n := note(fmt.Sprintf("h%d", i), i)
		n.Text = long
		if err := s.AddNote(t.Context(), "2", n); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Notes(t.Context(), "2")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range got {
		total += len([]rune(n.Text))
	}
	if len(got) == 0 || got[0].HandoffID != "h5" || total > handoff.MaxNotes {
		t.Errorf("notes %v: %d characters, want the latest first within %d", ids(got), total, handoff.MaxNotes)
	}
}
