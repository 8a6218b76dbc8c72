package conversation_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/twiliofake"
)

// TestRoundTrips counts a bot turn's critical path in sequential Twilio
// round trips: from the customer's message to the bot's reply posted and
// the worker added. With every answer of the fake delayed, requests made
// one after another show as separate round trips, and requests made at
// once overlap. It asserts the count only: how long a turn takes is for
// the benchmarks (internal/bench, docs/benchmarks.md).
//
// The reply names the worker by their Frontline display name (names.go):
// its lookup runs beside the turn's first reads, or, for "any agent",
// was started by an earlier read of the pool (the menu turn's). On a new
// instance ("cold") an "agent" turn reads the pool's areas after its
// first reads, as it did before names (3 round trips to reply, 4 in all,
// measured on the code without names): the lookups run beside that read.
func TestRoundTrips(t *testing.T) {
	tests := []struct {
		name, text string
		cold       bool // a new instance takes the turn: no name cached
		// critical is the most sequential round trips allowed until the
		// reply is posted and the worker added; whole for the whole turn.
		critical, whole int
	}{
		{"named worker", "ann@example.com", false, 2, 2},
		{"named worker, cold", "ann@example.com", true, 2, 2},
		{"any agent", "AGENT", false, 2, 3}, // then the lastAcceptedTaskTime update
		{"any agent, cold", "AGENT", true, 3, 4},
		{"menu", "hello", false, 2, 2},
	}
	for _, store := range apptest.Stores {
		for _, tt := range tests {
			t.Run(string(store)+"/"+tt.name, func(t *testing.T) {
				// Long enough that requests sent at once overlap even
				// when the machine is busy.
				const latency = 100 * time.Millisecond
				e := newEnv(t, apptest.Options{Store: store})
				e.workers("ann@example.com", "bob@example.com")
				e.Twilio.SetDisplayName("ann@example.com", "Ann Lee")
				e.Twilio.SetDisplayName("bob@example.com", "Bob Stone")
				const from = "+33600000001"
				e.text(from, "hey") // the conversation exists: measure one turn
				if tt.cold {
					e.Restart(t, 0)
				}
				e.Twilio.SetLatency(latency)
				e.Twilio.ClearRequests()
				started := time.Now()
				e.text(from, tt.text)

				reqs := e.Twilio.Requests()
				var cut time.Time // when the reply was posted and the worker added
				for _, r := range reqs {
					if r.Method == http.MethodPost && (strings.HasSuffix(r.Path, "/Messages") || strings.HasSuffix(r.Path, "/Participants")) && r.End.After(cut) {
						cut = r.End
					}
				}
				var critical []twiliofake.Request
				for _, r := range reqs {
					if r.Start.Before(cut) {
						critical = append(critical, r)
					}
				}
				c, w := twiliofake.SequentialRoundTrips(critical), twiliofake.SequentialRoundTrips(reqs)
				t.Logf("%s, %s: %d REST requests; %d sequential round trips to reply and add, %d for the whole turn",
					store, tt.name, len(reqs), c, w)
				for _, r := range reqs {
					t.Logf("  %4dms-%4dms %s %s", r.Start.Sub(started).Milliseconds(), r.End.Sub(started).Milliseconds(), r.Method, r.Path)
				}
				if c > tt.critical || w > tt.whole {
					t.Errorf("%d round trips to reply and add (want ≤ %d), %d for the turn (want ≤ %d)", c, tt.critical, w, tt.whole)
				}
				if c == 0 {
					t.Error("no reply posted")
				}
			})
		}
	}
}
