// Package handofftest is the conformance suite of the handoff stores
// (handoff.Bindings, handoff.Notes, handoff.OpenHandoffs): each store's
// tests run it on a fresh store.
package handofftest

import (
	"errors"
	"fmt"
	"slices"
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

// TestOpenHandoffs runs the suite of the store of conversations handed to
// Flex; open returns an empty store for each subtest.
func TestOpenHandoffs(t *testing.T, open func(t *testing.T) handoff.OpenHandoffs) {
	conformance.Run(t, open, map[string]func(*testing.T, handoff.OpenHandoffs){
		"TrackedOldestFirst":      testTrackedOrder,
		"UntrackOnlyItsTask":      testUntrack,
		"AcceptedOnlyItsTask":     testAccepted,
		"ConcurrentTracksAllKept": testConcurrentTracks,
	})
}

func toFlex(conv string, task string, i int) handoff.ToFlex {
	return handoff.ToFlex{Conversation: conv, Task: task, At: t0.Add(time.Duration(i) * time.Minute)}
}

// tracked returns the store's records as "conv:task" (with "+" when
// accepted), oldest first.
func tracked(t *testing.T, s handoff.OpenHandoffs, limit int) []string {
	t.Helper()
	ts, err := s.Tracked(t.Context(), limit)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range ts {
		k := r.Conversation + ":" + r.Task
		if r.Accepted {
			k += "+"
		}
		out = append(out, k)
	}
	return out
}

func testTrackedOrder(t *testing.T, s handoff.OpenHandoffs) {
	ctx := t.Context()
	if got := tracked(t, s, 0); len(got) != 0 {
		t.Fatalf("an empty store tracks %v", got)
	}
	for _, r := range []handoff.ToFlex{toFlex("CH2", "WT2", 2), toFlex("CH1", "WT1", 1), toFlex("CH3", "WT3", 3)} {
		if err := s.Track(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(tracked(t, s, 0), ","); got != "CH1:WT1,CH2:WT2,CH3:WT3" {
		t.Errorf("tracked %s, want oldest first", got)
	}
	if got := strings.Join(tracked(t, s, 2), ","); got != "CH1:WT1,CH2:WT2" {
		t.Errorf("tracked with limit 2: %s", got)
	}
	// A new handoff of a conversation replaces its record.
	if err := s.Track(ctx, toFlex("CH1", "WT9", 4)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tracked(t, s, 0), ","); got != "CH2:WT2,CH3:WT3,CH1:WT9" {
		t.Errorf("after a second handoff of CH1: %s", got)
	}
	ts, err := s.Tracked(ctx, 1)
	if err != nil || len(ts) != 1 || !ts[0].At.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("Tracked = %+v, %v; want the time kept", ts, err)
	}
}

func testUntrack(t *testing.T, s handoff.OpenHandoffs) {
	ctx := t.Context()
	if err := s.Untrack(ctx, "CH1", "WT1"); err != nil {
		t.Fatalf("Untrack of nothing: %v", err)
	}
	if err := s.Track(ctx, toFlex("CH1", "WT2", 1)); err != nil {
		t.Fatal(err)
	}
	// An old task's settling leaves a newer handoff tracked.
	if err := s.Untrack(ctx, "CH1", "WT1"); err != nil {
		t.Fatal(err)
	}
	if got := tracked(t, s, 0); !slices.Equal(got, []string{"CH1:WT2"}) {
		t.Errorf("after untracking another task: %v", got)
	}
	if err := s.Untrack(ctx, "CH1", "WT2"); err != nil {
		t.Fatal(err)
	}
	if got := tracked(t, s, 0); len(got) != 0 {
		t.Errorf("after untracking its task: %v", got)
	}
	// Any conversation sid Twilio may send.
	if err := s.Track(ctx, toFlex("../CH/..", "WT3", 1)); err != nil {
		t.Fatal(err)
	}
	if got := tracked(t, s, 0); !slices.Equal(got, []string{"../CH/..:WT3"}) {
		t.Errorf("odd id: %v", got)
	}
}

func testAccepted(t *testing.T, s handoff.OpenHandoffs) {
	ctx := t.Context()
	if err := s.MarkAccepted(ctx, "CH1", "WT1"); err != nil {
		t.Fatalf("MarkAccepted of nothing: %v", err)
	}
	if got := tracked(t, s, 0); len(got) != 0 {
		t.Fatalf("MarkAccepted created %v", got)
	}
	if err := s.Track(ctx, toFlex("CH1", "WT1", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkAccepted(ctx, "CH1", "WT0"); err != nil {
		t.Fatal(err)
	}
	if got := tracked(t, s, 0); !slices.Equal(got, []string{"CH1:WT1"}) {
		t.Errorf("another task's acceptance marked %v", got)
	}
	for range 2 {
		if err := s.MarkAccepted(ctx, "CH1", "WT1"); err != nil {
			t.Fatal(err)
		}
	}
	if got := tracked(t, s, 0); !slices.Equal(got, []string{"CH1:WT1+"}) {
		t.Errorf("after MarkAccepted: %v", got)
	}
	// A new handoff starts unaccepted.
	if err := s.Track(ctx, toFlex("CH1", "WT2", 2)); err != nil {
		t.Fatal(err)
	}
	if got := tracked(t, s, 0); !slices.Equal(got, []string{"CH1:WT2"}) {
		t.Errorf("a new handoff: %v", got)
	}
}

func testConcurrentTracks(t *testing.T, s handoff.OpenHandoffs) {
	const n = 5
	conformance.Race(n, func(i int) {
		conv := fmt.Sprintf("CH%d", i)
		if err := s.Track(t.Context(), toFlex(conv, "WT1", i)); err != nil {
			t.Errorf("Track: %v", err)
		}
		if err := s.MarkAccepted(t.Context(), conv, "WT1"); err != nil {
			t.Errorf("MarkAccepted: %v", err)
		}
	})
	if got := tracked(t, s, 0); len(got) != n || got[0] != "CH0:WT1+" {
		t.Errorf("after %d concurrent handoffs: %v", n, got)
	}
}
