package assign

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPick(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ms := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	tests := []struct {
		name     string
		cands    []Candidate
		assigned map[string]time.Time
		want     string
	}{
		{name: "none", want: ""},
		{
			name:  "oldest lastAcceptedTaskTime",
			cands: []Candidate{{SID: "a", LastAccepted: ms(3)}, {SID: "b", LastAccepted: ms(1)}, {SID: "c", LastAccepted: ms(2)}},
			want:  "b",
		},
		{
			name:  "never assigned first",
			cands: []Candidate{{SID: "a", LastAccepted: ms(1)}, {SID: "b"}},
			want:  "b",
		},
		{
			name:  "ties keep list order",
			cands: []Candidate{{SID: "a"}, {SID: "b"}, {SID: "c"}},
			want:  "a",
		},
		{
			name:     "store record newer than TaskRouter wins",
			cands:    []Candidate{{SID: "a", LastAccepted: ms(1)}, {SID: "b", LastAccepted: ms(2)}},
			assigned: map[string]time.Time{"a": ms(5)},
			want:     "b",
		},
		{
			name:     "unknown attributes ranked by the store",
			cands:    []Candidate{{SID: "a"}, {SID: "b"}, {SID: "c"}},
			assigned: map[string]time.Time{"a": ms(2), "b": ms(1)},
			want:     "c",
		},
		{
			name:     "older store record does not hide a newer TaskRouter time",
			cands:    []Candidate{{SID: "a", LastAccepted: ms(9)}, {SID: "b", LastAccepted: ms(3)}},
			assigned: map[string]time.Time{"a": ms(1)},
			want:     "b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Pick(tt.cands, func(sid string) time.Time { return tt.assigned[sid] })
			if ok != (tt.want != "") || got.SID != tt.want {
				t.Errorf("Pick() = %q, %v; want %q", got.SID, ok, tt.want)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ttl := 4 * time.Second
	ann := Candidate{Identity: "ann@example.com", SID: "WKann"}
	existing := Assignment{Conversation: "CH1", Worker: "bob@example.com", WorkerSID: "WKbob", Claimant: "IM1", ClaimedAt: t0}
	closed := existing
	closed.Closed = true
	released := existing
	released.Released = true
	tests := []struct {
		name      string
		claimant  string
		now       time.Time
		cands     []Candidate
		current   *Assignment
		wantWho   string
		wantNew   bool
		wantError error
	}{
		{name: "first claim", claimant: "IM2", now: t0, cands: []Candidate{ann}, wantWho: "ann@example.com", wantNew: true},
		{name: "no candidate", claimant: "IM2", now: t0, wantError: ErrNoCandidate},
		{name: "own claim again", claimant: "IM1", now: t0.Add(time.Hour), cands: []Candidate{ann}, current: &existing, wantWho: "bob@example.com"},
		{name: "fresh claim of another stands", claimant: "IM2", now: t0.Add(ttl - 1), cands: []Candidate{ann}, current: &existing, wantWho: "bob@example.com"},
		{name: "fresh claim stands even without candidates", claimant: "IM2", now: t0, current: &existing, wantWho: "bob@example.com"},
		{name: "stale claim of another is replaced", claimant: "IM2", now: t0.Add(ttl), cands: []Candidate{ann}, current: &existing, wantWho: "ann@example.com", wantNew: true},
		{name: "released claim is replaced, even fresh", claimant: "IM2", now: t0, cands: []Candidate{ann}, current: &released, wantWho: "ann@example.com", wantNew: true},
		{name: "released claim is replaced for its own claimant", claimant: "IM1", now: t0, cands: []Candidate{ann}, current: &released, wantWho: "ann@example.com", wantNew: true},
		{name: "closed conversation's claim stands for ever", claimant: "IM2", now: t0.Add(30 * 24 * time.Hour), cands: []Candidate{ann}, current: &closed, wantWho: "bob@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := Request{Conversation: "CH1", Claimant: tt.claimant, Candidates: tt.cands, Now: tt.now, TTL: ttl}
			var cur Assignment
			if tt.current != nil {
				cur = *tt.current
			}
			got, isNew, err := Decide(req, cur, tt.current != nil, nil)
			if !errors.Is(err, tt.wantError) {
				t.Fatalf("Decide() error = %v, want %v", err, tt.wantError)
			}
			if got.Worker != tt.wantWho || isNew != tt.wantNew {
				t.Errorf("Decide() = %q new=%v; want %q new=%v", got.Worker, isNew, tt.wantWho, tt.wantNew)
			}
			if isNew && (got.Claimant != tt.claimant || !got.ClaimedAt.Equal(tt.now) || got.Conversation != "CH1") {
				t.Errorf("new assignment = %+v", got)
			}
		})
	}
}

func TestDecideSpread(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var cands []Candidate
	for i := range 6 {
		// w0 is the most recently assigned, w5 the longest idle.
		cands = append(cands, Candidate{SID: string(rune('0' + i)), LastAccepted: t0.Add(-time.Duration(i+1) * time.Minute)})
	}
	// The store has just given 4 a conversation (a racing claim).
	assigned := map[string]time.Time{"4": t0.Add(-time.Second)}
	for spread, allowed := range map[int]string{0: "5", 1: "53", 2: "532", 9: "53210"} {
		seen := map[string]bool{}
		for range 200 {
			req := Request{Conversation: "CH1", Claimant: "IM1", Candidates: cands, Now: t0, TTL: 4 * time.Second, Spread: spread}
			a, _, err := Decide(req, Assignment{}, false, func(sid string) time.Time { return assigned[sid] })
			if err != nil {
				t.Fatal(err)
			}
			seen[a.WorkerSID] = true
		}
		for sid := range seen {
			if !strings.Contains(allowed, sid) {
				t.Errorf("Spread %d picked %s, outside the %d longest idle", spread, sid, spread+1)
			}
		}
		if len(seen) != len(allowed) {
			t.Errorf("Spread %d picked %d distinct workers in 200 tries, want %d", spread, len(seen), len(allowed))
		}
	}
}

// TestDecideSpreadStaysInFront checks what the package's guarantee rests
// on: a claim that has seen Spread workers taken since it read the pool
// takes a free one among the 2·Spread+1 longest idle of that read, and
// still the longest idle with Spread zero.
func TestDecideSpreadStaysInFront(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	const pool = 30
	var cands []Candidate
	for i := range pool {
		// Candidate i is the i-th longest idle.
		cands = append(cands, Candidate{SID: fmt.Sprint(i), LastAccepted: t0.Add(time.Duration(i-pool) * time.Minute)})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		spread := rng.IntN(pool)
		taken := map[string]time.Time{}
		// Taken anywhere, or packed in the front where they push the
		// window furthest.
		from := pool
		if rng.IntN(2) == 0 {
			from = min(pool, 2*spread+1)
		}
		for _, i := range rng.Perm(from)[:spread] {
			taken[fmt.Sprint(i)] = t0.Add(-time.Duration(rng.IntN(1000)) * time.Millisecond)
		}
		req := Request{Conversation: "CH1", Claimant: "IM1", Candidates: cands, Now: t0, TTL: 4 * time.Second, Spread: len(taken)}
		a, _, err := Decide(req, Assignment{}, false, func(sid string) time.Time { return taken[sid] })
		if err != nil {
			t.Fatal(err)
		}
		var r int
		fmt.Sscan(a.WorkerSID, &r)
		if _, isTaken := taken[a.WorkerSID]; isTaken || r > 2*len(taken) {
			t.Fatalf("with %v taken, Decide took %s: want a free one of the %d longest idle", slices.Sorted(maps.Keys(taken)), a.WorkerSID, 2*len(taken)+1)
		}
	}
}

func TestRank(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cands := []Candidate{{SID: "a", LastAccepted: t0}, {SID: "b"}, {SID: "c"}, {SID: "d", LastAccepted: t0.Add(-time.Minute)}}
	assigned := map[string]time.Time{"b": t0.Add(time.Second)}
	var got []string
	for _, c := range Rank(cands, func(sid string) time.Time { return assigned[sid] }) {
		got = append(got, c.SID)
	}
	if want := []string{"c", "d", "a", "b"}; !slices.Equal(got, want) {
		t.Errorf("Rank() = %v, want %v", got, want)
	}
}

// TestDecideSpreadNeverAssignedFirst: while a worker was never assigned,
// a claim that lost races never spreads to one who was, however long ago:
// a burst outlasting the TTL must not give a worker two conversations
// while another has none.
func TestDecideSpreadNeverAssignedFirst(t *testing.T) {
	now := time.Now()
	cands := []Candidate{{Identity: "old", SID: "WK1"}, {Identity: "new1", SID: "WK2"}, {Identity: "new2", SID: "WK3"}}
	last := func(sid string) time.Time {
		if sid == "WK1" {
			return now.Add(-time.Hour)
		}
		return time.Time{}
	}
	for spread := range 6 {
		for range 50 {
			a, _, err := Decide(Request{Conversation: "CH1", Claimant: "IM1", Candidates: cands, Now: now, TTL: 4 * time.Second, Spread: spread}, Assignment{}, false, last)
			if err != nil {
				t.Fatal(err)
			}
			if a.Worker == "old" {
				t.Fatalf("spread %d chose a worker already assigned while two never were", spread)
			}
		}
	}
}

// TestDecideSpreadLongBurst: every worker was assigned before (hours ago:
// a pool in use, not a fresh store) and a burst's claims outlast the TTL:
// the customers asked at t0, claims that took workers at t0 were done,
// and a claim at t0+30 s that lost races spreads. It never takes a worker
// assigned since the customers asked while one assigned before remains,
// whatever its Spread; with none left, it takes the longest idle.
func TestDecideSpreadLongBurst(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var cands []Candidate
	last := map[string]time.Time{}
	for i := range 12 {
		sid := fmt.Sprintf("WK%02d", i)
		cands = append(cands, Candidate{Identity: sid, SID: sid, LastAccepted: t0.Add(-time.Duration(24-i) * time.Hour)})
		if i >= 3 {
			// Taken in this burst, one every 100 ms from t0.
			last[sid] = t0.Add(time.Duration(i) * 100 * time.Millisecond)
		}
	}
	free := map[string]bool{"WK00": true, "WK01": true, "WK02": true}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		spread := 1 + rng.IntN(len(cands))
		req := Request{Conversation: "CH1", Claimant: "IM1", Candidates: cands, Now: t0.Add(30 * time.Second),
			TTL: 4 * time.Second, Spread: spread, Asked: t0}
		a, _, err := Decide(req, Assignment{}, false, func(sid string) time.Time { return last[sid] })
		if err != nil {
			t.Fatal(err)
		}
		if !free[a.WorkerSID] {
			t.Fatalf("spread %d took %s, assigned in the burst, while WK00–WK02 were free", spread, a.WorkerSID)
		}
	}
	// Everyone taken in the burst: the longest idle, as uncontended.
	for sid := range free {
		last[sid] = t0.Add(2 * time.Second)
	}
	for spread := range len(cands) {
		req := Request{Conversation: "CH1", Claimant: "IM1", Candidates: cands, Now: t0.Add(30 * time.Second),
			TTL: 4 * time.Second, Spread: spread, Asked: t0}
		a, _, _ := Decide(req, Assignment{}, false, func(sid string) time.Time { return last[sid] })
		if a.WorkerSID != "WK03" {
			t.Errorf("spread %d with every worker taken chose %s, want the longest idle WK03", spread, a.WorkerSID)
		}
	}
}
