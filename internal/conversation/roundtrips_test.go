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
func TestRoundTrips(t *testing.T) {
	tests := []struct {
		name, text string
		// critical is the most sequential round trips allowed until the
		// reply is posted and the worker added; whole for the whole turn.
		critical, whole int
	}{
		{"named worker", "ann@example.com", 2, 2},
		{"any agent", "AGENT", 2, 3}, // then the lastAcceptedTaskTime update
		{"menu", "hello", 2, 2},
	}
	for _, store := range apptest.Stores {
		for _, tt := range tests {
			t.Run(string(store)+"/"+tt.name, func(t *testing.T) {
				// Long enough that requests sent at once overlap even
				// when the machine is busy.
				const latency = 100 * time.Millisecond
				e := newEnv(t, apptest.Options{Store: store})
				e.workers("ann@example.com", "bob@example.com")
				const from = "+33600000001"
				e.text(from, "hey") // the conversation exists: measure one turn
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
