package app_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// TestRoundTrips counts a bot turn's sequential Twilio round trips: until
// the bot's reply is posted and the worker added (critical), and until
// the webhook answered (turn). With every answer of the fake delayed,
// requests made one after another show as separate round trips, and
// requests made at once overlap. It asserts the count only: how long a
// turn takes is for the benchmarks (internal/bench, docs/benchmarks.md).
//
// The reply names the worker by their Frontline display name: its lookup
// runs beside the turn's first reads, or, for "any agent", was started by
// an earlier read of the pool (the menu turn's). On a new instance
// ("cold") an "agent" turn learns who is available with its first reads
// only: its reply does not wait for the name lookup that starts then (it
// names the worker by full_name or neutrally), so it too takes two round
// trips. An "agent" turn's bookkeeping (the worker's lastAcceptedTaskTime
// in TaskRouter) runs after the turn, in the background.
func TestRoundTrips(t *testing.T) {
	tests := []struct {
		name, text string
		cold       bool // a new instance takes the turn: no name cached
		// critical is the most sequential round trips allowed until the
		// reply is posted and the worker added; turn until the webhook
		// answered.
		critical, turn int
		agent          bool // the worker's lastAcceptedTaskTime is recorded after
	}{
		{"named worker", "ann@example.com", false, 2, 2, false},
		{"named worker, cold", "ann@example.com", true, 2, 2, false},
		{"any agent", "AGENT", false, 2, 2, true},
		{"any agent, cold", "AGENT", true, 2, 2, true},
		{"menu", "hello", false, 2, 2, false},
	}
	for _, store := range apptest.Stores {
		for _, tt := range tests {
			t.Run(string(store)+"/"+tt.name, func(t *testing.T) {
				// Long enough that requests sent at once overlap even
				// when the machine is busy.
				const latency = 150 * time.Millisecond
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
				res := e.text(from, tt.text)
				d, ok := e.delivery(res.Message.SID)
				if !ok {
					t.Fatal("no onMessageAdded delivery")
				}

				// A request started before the message (the first turn's
				// name lookups, which may end after ClearRequests on a
				// busy machine) is on no path of this turn.
				reqs := slices.DeleteFunc(e.Twilio.Requests(), func(r twiliotest.Request) bool { return r.Start.Before(started) })
				var cut time.Time // when the reply was posted and the worker added
				for _, r := range reqs {
					if r.Method == http.MethodPost && (strings.HasSuffix(r.Path, "/Messages") || strings.HasSuffix(r.Path, "/Participants")) && r.End.After(cut) {
						cut = r.End
					}
				}
				var critical, turn []twiliotest.Request
				for _, r := range reqs {
					if r.Start.Before(cut) {
						critical = append(critical, r)
					}
					if r.End.Before(d.End) {
						turn = append(turn, r)
					}
				}
				c, w := twiliotest.SequentialRoundTrips(critical), twiliotest.SequentialRoundTrips(turn)
				t.Logf("%s, %s: %d REST requests; %d sequential round trips to reply and add, %d until the webhook answered",
					store, tt.name, len(reqs), c, w)
				for _, r := range reqs {
					t.Logf("  %4dms-%4dms %s %s", r.Start.Sub(started).Milliseconds(), r.End.Sub(started).Milliseconds(), r.Method, r.Path)
				}
				if c > tt.critical || w > tt.turn {
					t.Errorf("%d round trips to reply and add (want ≤ %d), %d until the webhook answered (want ≤ %d)", c, tt.critical, w, tt.turn)
				}
				if c == 0 {
					t.Error("no reply posted")
				}
				if tt.agent {
					e.eventually(func() bool {
						return strings.Contains(e.worker(e.Workers(res.ConversationSID)).Attributes, "lastAcceptedTaskTime")
					},
						"the worker's lastAcceptedTaskTime is never recorded")
				}
			})
		}
	}
}
