package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/assign/assigntest"
)

// TestConcurrentAgents: N customers write AGENT at the same moment, with
// N workers available; each conversation gets one worker and no worker
// gets two.
func TestConcurrentAgents(t *testing.T) {
	const n = assigntest.Racers
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, apptest.Options{Store: store})
			old := time.Now().Add(-time.Hour).UnixMilli()
			for i := range n {
				attrs := map[string]any{"email": fmt.Sprintf("w%02d@example.com", i)}
				if i%2 == 1 {
					attrs["lastAcceptedTaskTime"] = old + int64(i)
				}
				e.Twilio.AddWorker(fmt.Sprintf("w%02d@example.com", i), true, attrs, e.Twilio.QueueSID())
			}
			convs := make([]string, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					res, err := e.Twilio.CustomerTexts(context.Background(), fmt.Sprintf("+1415555%04d", i), company, "AGENT")
					convs[i], errs[i] = res.ConversationSID, err
				})
			}
			close(start)
			wg.Wait()

			taken := map[string]string{}
			for i, conv := range convs {
				if errs[i] != nil {
					t.Fatalf("customer %d: %v", i, errs[i])
				}
				ws := e.Workers(conv)
				if len(ws) != 1 {
					t.Errorf("conversation %d has workers %v, want one\n  %s", i, ws, strings.Join(e.Transcript(conv), "\n  "))
					continue
				}
				if other, dup := taken[ws[0]]; dup {
					t.Errorf("%s added to %s and %s", ws[0], other, conv)
				}
				taken[ws[0]] = conv
			}
			// Each chosen worker's lastAcceptedTaskTime is moved to now
			// (in the background, after the turn), their other attributes
			// kept.
			var stale []string
			e.eventually(func() bool {
				stale = nil
				for _, w := range e.Twilio.Workers() {
					var attrs map[string]any
					if err := json.Unmarshal([]byte(w.Attributes), &attrs); err != nil {
						t.Fatal(err)
					}
					last, _ := attrs["lastAcceptedTaskTime"].(float64)
					if int64(last) < old+int64(n) || attrs["email"] != w.FriendlyName {
						stale = append(stale, w.FriendlyName+" "+w.Attributes)
					}
				}
				return len(stale) == 0
			}, "workers' attributes after the burst")
			for _, s := range stale {
				t.Errorf("attributes after the burst: %s", s)
			}
			e.checkNoWebhookLoops()
		})
	}
}

// TestRacingMessages: a customer sends several routing requests at once
// in one conversation; one worker is added and one "connecting" reply
// sent, whichever message wins.
func TestRacingMessages(t *testing.T) {
	texts := []string{"ann@example.com", "bob@example.com", "AGENT", "chloe@example.com", "an agent please", "AGENT!"}
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, apptest.Options{Store: store})
			e.workers("ann@example.com", "bob@example.com", "chloe@example.com")
			for round := range 5 {
				from := fmt.Sprintf("+3361234%04d", round)
				conv := e.text(from, "hello").ConversationSID
				start := make(chan struct{})
				var wg sync.WaitGroup
				for _, text := range texts {
					wg.Go(func() {
						<-start
						if _, err := e.Twilio.CustomerTexts(context.Background(), from, company, text); err != nil {
							t.Error(err)
						}
					})
				}
				close(start)
				wg.Wait()
				if ws := e.Workers(conv); len(ws) != 1 {
					t.Errorf("round %d: workers %v, want one", round, ws)
				}
				connecting := 0
				for _, m := range e.Twilio.Messages(conv) {
					if apptest.Promised(m) != "" {
						connecting++
					}
				}
				if connecting != 1 {
					t.Errorf("round %d: %d connecting replies, want 1:\n  %s", round, connecting, strings.Join(e.Transcript(conv), "\n  "))
				}
			}
		})
	}
}
