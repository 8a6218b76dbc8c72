package app_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/ledger"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// TestRedeliveries delivers every webhook again, 2 to 5 times: at once,
// one after the other, concurrently, and out of order once later messages
// have moved the conversation on. No redelivery sends a second reply,
// adds a second worker or writes a participant or worker again.
func TestRedeliveries(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, apptest.Options{Store: store})
			e.workers("ann@example.com", "bob@example.com")

			var seen int
			redeliver := func(times int, concurrently bool) {
				t.Helper()
				ds := e.Twilio.Deliveries()
				fresh := ds[seen:]
				seen = len(ds) + times*len(fresh)
				var wg sync.WaitGroup
				for range times {
					for _, d := range fresh {
						if d.Redelivery {
							continue
						}
						send := func() {
							r := e.Twilio.Redeliver(context.Background(), d)
							if r.Err != nil || r.Status/100 != 2 {
								t.Errorf("redelivery of %s %s: %d %v", r.Target, r.EventType, r.Status, r.Err)
							}
						}
						if concurrently {
							wg.Go(send)
						} else {
							send()
						}
					}
				}
				wg.Wait()
				seen = len(e.Twilio.Deliveries())
			}

			conv := e.text(maria, "hi").ConversationSID // welcome + menu
			redeliver(3, false)
			e.text(maria, "zoe@example.com") // unknown worker
			redeliver(4, true)
			e.text(maria, "nothing useful") // menu
			redeliver(2, true)
			e.text(maria, "AGENT") // ann
			redeliver(5, true)
			// Everything again, newest first.
			all := e.Twilio.Deliveries()
			for i := len(all) - 1; i >= 0; i-- {
				if !all[i].Redelivery {
					e.Twilio.Redeliver(context.Background(), all[i])
				}
			}

			want := []string{
				"system: " + welcome,
				maria + ": hi",
				"system: " + bot.Menu,
				maria + ": zoe@example.com",
				"system: " + bot.UnknownWorker("zoe@example.com"),
				maria + ": nothing useful",
				"system: " + bot.Menu,
				maria + ": AGENT",
				apptest.Connect("ann@example.com"),
			}
			if got := e.Marked(conv); !slices.Equal(got, want) {
				t.Errorf("transcript after redeliveries:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			if w := e.Workers(conv); !slices.Equal(w, []string{"ann@example.com"}) {
				t.Errorf("workers = %v, want [ann@example.com]", w)
			}
			// The worker's lastAcceptedTaskTime is recorded after the
			// turn, in the background.
			e.eventually(func() bool { return len(e.requests(http.MethodPost, "/v1/Workspaces/*/Workers/*")) > 0 }, "lastAcceptedTaskTime never recorded")
			counts := map[string]int{
				"POST /v1/Conversations/*/Messages":       5,
				"POST /v1/Conversations/*/Participants":   1,
				"POST /v1/Conversations/*/Participants/*": 1, // customer attributes
				"POST /v1/Workspaces/*/Workers/*":         1, // lastAcceptedTaskTime
			}
			for call, want := range counts {
				method, path, _ := strings.Cut(call, " ")
				if got := len(e.requests(method, path)); got != want {
					t.Errorf("%s: %d requests, want %d", call, got, want)
				}
			}
			if n := len(e.Twilio.Deliveries()); n < 50 {
				t.Errorf("only %d deliveries: redeliveries did not happen", n)
			}
			e.checkNoWebhookLoops()
		})
	}
}

// crashingLedger plays a function instance killed in the middle of a bot
// turn: the attempt never lets go of the conversation, so its hold stays
// until it runs out.
type crashingLedger struct {
	conversation.Ledger
	mu    sync.Mutex
	armed bool
}

func (l *crashingLedger) arm() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed = true
}

func (l *crashingLedger) Release(ctx context.Context, a ledger.Attempt, now time.Time) error {
	l.mu.Lock()
	crashed := l.armed && strings.HasPrefix(a.Key, "conversation:")
	l.armed = l.armed && !crashed
	l.mu.Unlock()
	if crashed {
		return nil
	}
	return l.Ledger.Release(ctx, a, now)
}

// TestResumeAfterCrash kills a bot turn half done — reply posted but
// worker not added, or the reverse, or neither — with no word from Twilio
// after: the queue finishes the turn once the dead attempt's hold on the
// conversation runs out, without repeating what was done, and replays of
// the webhook change nothing.
func TestResumeAfterCrash(t *testing.T) {
	tests := []struct {
		name string
		fail []string // what fails in the dying attempt
	}{
		{"reply posted, worker not added", []string{"Participants"}},
		{"worker added, reply not posted", []string{"Messages"}},
		{"neither", []string{"Participants", "Messages"}},
	}
	for _, store := range apptest.Stores {
		for _, tt := range tests {
			t.Run(string(store)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				cl := &crashingLedger{}
				e := newEnv(t, apptest.Options{Store: store, Env: config.Env{"HANDLER_TIMEOUT": "1s", "WORK_DELAY": "200ms"},
					WrapLedger: func(l conversation.Ledger) conversation.Ledger {
						cl.Ledger = l
						return cl
					}})
				e.workers("ann@example.com", "bob@example.com")
				conv := e.text(maria, "hi").ConversationSID
				e.WaitWork(t)
				for _, what := range tt.fail {
					// A clear refusal: the client does not retry it, so
					// one fault fails the attempt.
					e.Twilio.FailNext(http.MethodPost, "/v1/Conversations/"+conv+"/"+what, http.StatusBadRequest, 0)
				}
				cl.arm()
				e.text(maria, "AGENT")
				ds := e.Twilio.Deliveries()
				turn := ds[len(ds)-1]
				if turn.EventType != "onMessageAdded" || turn.Status != http.StatusOK {
					t.Fatalf("dying attempt: %s answered %d, want onMessageAdded 200: the work is queued", turn.EventType, turn.Status)
				}
				e.WaitWork(t)
				for range 2 { // replays, after the queue finished
					if d := e.Twilio.Redeliver(context.Background(), turn); d.Status != http.StatusOK {
						t.Errorf("replay: %d %s", d.Status, d.Body)
					}
				}
				e.WaitWork(t)

				n := 0
				for _, m := range e.Marked(conv) {
					if m == apptest.Connect("ann@example.com") {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d replies, want 1\n  %s", n, strings.Join(e.Marked(conv), "\n  "))
				}
				if w := e.Workers(conv); !slices.Equal(w, []string{"ann@example.com"}) {
					t.Errorf("workers = %v, want [ann@example.com]", w)
				}
			})
		}
	}
}

// TestRoutingRetry: the welcome is posted once however often Frontline
// calls: a post that failed unclearly is not tried again by its attempt;
// the next attempt (here Frontline's first redelivery) reads the
// conversation once the failed attempt's hold is over and posts it, and
// every later one finds it there.
func TestRoutingRetry(t *testing.T) {
	// Without onParticipantAdded, the welcome is the first POST.
	e := newEnv(t, apptest.Options{Filters: []string{"onConversationAdd", "onMessageAdded"}})
	// The first welcome fails without a clear answer: the attempt looks
	// whether it went through, and leaves it to the next attempt.
	e.Twilio.FailNext(http.MethodPost, "/v1/Conversations/", http.StatusBadGateway, 0)
	conv := e.text(maria, "hi").ConversationSID
	var routing twiliotest.Delivery
	for _, d := range e.Twilio.Deliveries() {
		if d.Target == twiliotest.TargetRouting {
			routing = d
		}
	}
	for range 3 {
		if d := e.Twilio.Redeliver(context.Background(), routing); d.Status != http.StatusOK {
			t.Errorf("routing redelivery: %d", d.Status)
		}
	}
	n := 0
	for _, m := range e.Transcript(conv) {
		if m == "system: "+welcome {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d welcomes, want 1:\n  %s", n, strings.Join(e.Transcript(conv), "\n  "))
	}
	posts := 0
	for _, r := range e.requests(http.MethodPost, "/v1/Conversations/*/Messages") {
		if r.Form.Get("Body") == welcome {
			posts++
		}
	}
	if posts != 2 {
		t.Errorf("%d posts of the welcome, want 2: the unclear one and one by the next attempt", posts)
	}
}
