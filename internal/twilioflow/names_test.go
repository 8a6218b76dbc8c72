package twilioflow

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// namesEnv is a Workers with the real Twilio client against the fake,
// and a clock the test moves.
type namesEnv struct {
	t    *testing.T
	fake *twiliotest.Server
	w    *Workers
	mu   sync.Mutex
	time time.Time
}

func newNamesEnv(t *testing.T, cfg twiliotest.Config) *namesEnv {
	t.Helper()
	fake := twiliotest.NewServer(cfg)
	t.Cleanup(fake.Close)
	e := &namesEnv{t: t, fake: fake, time: time.Now()}
	e.w = NewWorkers(twilio.New(fake.ClientConfig()), Config{Workspace: fake.WorkspaceSID(), PoolQueue: fake.QueueSID(), Now: e.clock})
	return e
}

func (e *namesEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.time
}

func (e *namesEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.time = e.time.Add(d)
}

// name is Name once every lookup it started has ended (how long a
// first lookup is waited for is a matter of time, which tests leave out).
func (e *namesEnv) name(identity string) string {
	e.t.Helper()
	e.now(identity)
	return e.w.Name(context.Background(), identity)
}

// now is Name's answer, the lookups it started then left to end.
func (e *namesEnv) now(identity string) string {
	e.t.Helper()
	got := e.w.Name(context.Background(), identity)
	e.settle()
	return got
}

// settle waits for the lookups under way to end.
func (e *namesEnv) settle() {
	e.t.Helper()
	for range 1000 {
		c := &e.w.names
		c.mu.Lock()
		busy := false
		for _, en := range c.entries {
			busy = busy || en.pending != nil
		}
		c.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatal("name lookups never ended")
}

// userReads counts the Users API requests for identity.
func (e *namesEnv) userReads(identity string) int {
	n := 0
	for _, r := range e.fake.Requests() {
		if r.Method == http.MethodGet && r.Path == "/v1/Users/"+identity {
			n++
		}
	}
	return n
}

// failUsers makes the next n Users API requests fail with 503, which the
// client retries: a call gives up after four.
func (e *namesEnv) failUsers(n int) {
	for range n {
		e.fake.FailNext(http.MethodGet, "/v1/Users/", http.StatusServiceUnavailable, 0)
	}
}

// TestDisplayNameFallback: the Frontline display name, else the worker's
// full_name attribute, else nothing (the neutral wording); a display name
// a reply may not show counts as none, and a failing Users API falls back.
func TestDisplayNameFallback(t *testing.T) {
	const ann = "ann@example.com"
	tests := []struct {
		name        string
		display     string         // Frontline friendly_name
		attrs       map[string]any // TaskRouter attributes
		nullList    bool           // worker lists leave attributes out
		usersDown   bool
		notAWorker  bool
		want        string
		wantFetched bool // the worker is fetched for its full_name
	}{
		{name: "display name", display: "Ann Lee", attrs: map[string]any{"full_name": "Ann L."}, want: "Ann Lee"},
		{name: "display name cleaned", display: " Ann\u202e  Lee ", want: "Ann Lee"},
		{name: "no display name: full_name", attrs: map[string]any{"full_name": "Ann L."}, want: "Ann L."},
		{name: "full_name of a worker listed without attributes", attrs: map[string]any{"full_name": "Ann L."}, nullList: true,
			want: "Ann L.", wantFetched: true},
		{name: "display name is the address", display: ann, attrs: map[string]any{"full_name": "Ann L."}, want: "Ann L."},
		{name: "full_name is an address", attrs: map[string]any{"full_name": "ann@example.com"}, want: ""},
		{name: "no name at all", want: ""},
		{name: "Users API down: full_name", display: "Ann Lee", attrs: map[string]any{"full_name": "Ann L."}, usersDown: true,
			want: "Ann L."},
		{name: "Users API down, no full_name", display: "Ann Lee", usersDown: true, want: ""},
		{name: "not a worker", notAWorker: true, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newNamesEnv(t, twiliotest.Config{NullListAttributes: tt.nullList})
			if !tt.notAWorker {
				e.fake.AddWorker(ann, true, tt.attrs, e.fake.QueueSID())
				e.fake.SetDisplayName(ann, tt.display)
			}
			if tt.usersDown {
				e.failUsers(4)
			}
			if got := e.name(ann); got != tt.want {
				t.Errorf("displayName = %q, want %q", got, tt.want)
			}
			fetched, taskRouter := false, 0
			for _, r := range e.fake.Requests() {
				fetched = fetched || r.Method == http.MethodGet && strings.Contains(r.Path, "/Workers/WK")
				if strings.HasPrefix(r.Path, "/v1/Workspaces/") {
					taskRouter++
				}
			}
			if fetched != tt.wantFetched {
				t.Errorf("worker fetched: %v, want %v", fetched, tt.wantFetched)
			}
			if tt.notAWorker && taskRouter > 0 {
				t.Errorf("%d TaskRouter requests for a user Frontline does not know, want none", taskRouter)
			}
		})
	}
}

// TestDisplayNameCache: a name is read once per nameTTL, an unknown or
// deactivated user and a failure are remembered too (a failure for
// nameFailTTL); past its TTL a name still serves while it is read again.
func TestDisplayNameCache(t *testing.T) {
	const ann = "ann@example.com"
	type step struct {
		advance time.Duration
		rename  string // a new display name, set before the step
		now     bool   // want is the answer before the lookup it starts ends
		want    string // displayName's answer
		reads   int    // Users API reads of ann so far
	}
	tests := []struct {
		name  string
		setup func(e *namesEnv)
		steps []step
		state string // the user's state kept, "" for none
	}{
		{"fresh name read once", func(e *namesEnv) {}, []step{
			{want: "Ann Lee", reads: 1},
			{advance: nameTTL - time.Second, rename: "Ann Lee-Smith", want: "Ann Lee", reads: 1},
		}, twilio.UserActive},
		{"stale name serves while read again", func(e *namesEnv) {}, []step{
			{want: "Ann Lee", reads: 1},
			{advance: nameTTL, rename: "Ann Lee-Smith", now: true, want: "Ann Lee", reads: 2},
			{want: "Ann Lee-Smith", reads: 2},
		}, twilio.UserActive},
		{"deactivated user remembered", func(e *namesEnv) { e.fake.SetUserActive(ann, false) }, []step{
			{want: "Ann Lee", reads: 1},
			{advance: time.Minute, want: "Ann Lee", reads: 1},
		}, twilio.UserDeactivated},
		{"unknown user remembered", func(e *namesEnv) { e.fake.RemoveWorker(e.sid(ann)) }, []step{
			{want: "", reads: 1},
			{advance: nameTTL - time.Second, want: "", reads: 1},
			{advance: time.Second, want: "", reads: 2},
		}, ""},
		{"failure remembered briefly", func(e *namesEnv) { e.failUsers(4) }, []step{
			{want: "", reads: 4}, // one call, four attempts
			{advance: nameFailTTL - time.Second, want: "", reads: 4},
			{advance: time.Second, now: true, want: "", reads: 5}, // read again
			{want: "Ann Lee", reads: 5},
		}, twilio.UserActive},
		{"a failed refresh keeps the name", func(e *namesEnv) {}, []step{
			{want: "Ann Lee", reads: 1},
			{advance: nameTTL, rename: "fail", now: true, want: "Ann Lee", reads: 5},
			{want: "Ann Lee", reads: 5},
		}, twilio.UserActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newNamesEnv(t, twiliotest.Config{})
			e.fake.AddWorker(ann, true, nil, e.fake.QueueSID())
			e.fake.SetDisplayName(ann, "Ann Lee")
			tt.setup(e)
			for i, s := range tt.steps {
				e.advance(s.advance)
				switch s.rename {
				case "":
				case "fail":
					e.failUsers(4)
				default:
					e.fake.SetDisplayName(ann, s.rename)
				}
				answer := e.name
				if s.now {
					answer = e.now
				}
				if got := answer(ann); got != s.want {
					t.Errorf("step %d: displayName = %q, want %q", i, got, s.want)
				}
				if n := e.userReads(ann); n != s.reads {
					t.Errorf("step %d: %d reads of the user, want %d", i, n, s.reads)
				}
			}
			if got := e.w.names.entries[ann].user.State; got != tt.state {
				t.Errorf("user state kept = %q, want %q", got, tt.state)
			}
		})
	}
}

func (e *namesEnv) sid(identity string) string {
	w, _ := e.fake.Worker(identity)
	return w.SID
}

// TestNameCacheBounded: the cache never holds more than maxNames
// identities, whatever the flow reads.
func TestNameCacheBounded(t *testing.T) {
	e := newNamesEnv(t, twiliotest.Config{})
	for i := range maxNames + 50 {
		e.w.noteWorkers(twilio.Worker{Identity: fmt.Sprintf("w%d@example.com", i), Attributes: `{"full_name": "W"}`})
	}
	if n := len(e.w.names.entries); n > maxNames {
		t.Errorf("%d names cached, want at most %d", n, maxNames)
	}
}

// TestWarmNames: a read of the pool starts the lookups of the available
// workers' names, the likeliest picks first, at most warmBatch at a
// time; a turn's reply then finds them named without a read of its own.
func TestWarmNames(t *testing.T) {
	e := newNamesEnv(t, twiliotest.Config{})
	var ws []twilio.Worker
	for i, id := range []string{"a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com", "f@x.com"} {
		// f idle longest, then e, d…; a is away.
		e.fake.AddWorker(id, i > 0, map[string]any{"lastAcceptedTaskTime": 1_000_000 - i}, e.fake.QueueSID())
		e.fake.SetDisplayName(id, strings.ToUpper(id[:1]))
		w, _ := e.fake.Worker(id)
		ws = append(ws, twilio.Worker{SID: w.SID, Identity: id, Attributes: w.Attributes, Available: w.Available})
	}
	e.w.warmNames(context.Background(), ws)
	e.settle()
	for id, want := range map[string]int{"a@x.com": 0, "b@x.com": 0, "c@x.com": 1, "d@x.com": 1, "e@x.com": 1, "f@x.com": 1} {
		if n := e.userReads(id); n != want {
			t.Errorf("%s read %d times, want %d", id, n, want)
		}
	}
	e.w.warmNames(context.Background(), ws) // the next batch
	e.settle()
	if n := e.userReads("b@x.com"); n != 1 {
		t.Errorf("b@x.com read %d times on the second pool read, want 1", n)
	}
	before := len(e.fake.Requests())
	if got := e.name("f@x.com"); got != "F" || len(e.fake.Requests()) != before {
		t.Errorf("displayName = %q after %d more requests, want F from the cache", got, len(e.fake.Requests())-before)
	}
}

// TestNameKnownBefore: a worker chosen after the turn's first reads is
// named only as far as a lookup started before the turn knows: a lookup
// the turn itself starts is not waited for (it would be a third round
// trip), one an earlier turn started is.
func TestNameKnownBefore(t *testing.T) {
	e := newNamesEnv(t, twiliotest.Config{})
	e.fake.AddWorker("ann@example.com", true, nil, e.fake.QueueSID())
	e.fake.SetDisplayName("ann@example.com", "Ann Lee")
	e.fake.AddWorker("bob@example.com", true, nil, e.fake.QueueSID())
	e.fake.SetDisplayName("bob@example.com", "Bob Stone")
	ctx := context.Background()

	// The turn began before any lookup of ann: her name is not waited for.
	turn := e.clock()
	e.advance(time.Millisecond)
	e.fake.HoldNext(http.MethodGet, "/v1/Users/ann@example.com", 2*time.Second)
	if got := e.w.NameKnownBefore(ctx, "ann@example.com", turn); got != "" {
		t.Errorf("NameKnownBefore(ann) = %q while her first lookup is held, want \"\" at once", got)
	}
	e.settle()
	if got := e.w.NameKnownBefore(ctx, "ann@example.com", turn); got != "Ann Lee" {
		t.Errorf("NameKnownBefore(ann) after the lookup = %q, want Ann Lee", got)
	}

	// An earlier turn started bob's lookup: a later turn waits for it.
	e.fake.HoldNext(http.MethodGet, "/v1/Users/bob@example.com", 50*time.Millisecond)
	e.w.PrefetchName(ctx, "bob@example.com")
	e.advance(time.Millisecond)
	if got := e.w.NameKnownBefore(ctx, "bob@example.com", e.clock()); got != "Bob Stone" {
		t.Errorf("NameKnownBefore(bob) = %q, want the name an earlier lookup brings", got)
	}
}

// TestDeactivated: a worker's Frontline state comes with Find, from the
// names' cache; a worker known deactivated is left out of the available
// pool; the state is read again once the cache's entry is stale.
func TestDeactivated(t *testing.T) {
	e := newNamesEnv(t, twiliotest.Config{})
	ctx := context.Background()
	e.fake.AddWorker("ann@example.com", true, nil, e.fake.QueueSID())
	e.fake.AddWorker("bob@example.com", true, nil, e.fake.QueueSID())
	e.fake.SetUserActive("ann@example.com", false)
	e.now("ann@example.com") // the lookup Find would wait for, done
	w, err := e.w.Find(ctx, "ann@example.com")
	if err != nil || w.SID == "" || !w.Deactivated {
		t.Fatalf("Find = %+v, %v; want ann, deactivated", w, err)
	}
	ws, err := e.w.Available(ctx, time.Time{})
	if err != nil || len(ws) != 1 || ws[0].Identity != "bob@example.com" {
		t.Errorf("Available = %+v, %v; want bob alone", ws, err)
	}
	e.fake.SetUserActive("ann@example.com", true)
	e.advance(nameTTL)
	e.now("ann@example.com")
	if w, _ := e.w.Find(ctx, "ann@example.com"); w.Deactivated {
		t.Error("ann reactivated, still deactivated after the cache's TTL")
	}
}
