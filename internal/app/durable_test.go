package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/cloudtasks/cloudtaskstest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/ledger"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// agentBurst has n customers say AGENT at once, each from a number of
// their own, and returns their conversations.
func agentBurst(t *testing.T, h *apptest.Harness, n int) []string {
	t.Helper()
	convs := make([]string, n)
	burst(t, n, func(i int) string {
		res, err := h.Twilio.CustomerTexts(context.Background(), fmt.Sprintf("+1415555%04d", i), apptest.ProxyNumber, "AGENT")
		convs[i] = res.ConversationSID
		return errString(err, res)
	})
	return convs
}

// checkEveryoneServed checks that every conversation got one "connecting"
// reply, at most one welcome and a worker of its own, and reports how many
// did. (After an outage the welcome may follow the customer's message, or
// be left out when a worker joined first.)
func checkEveryoneServed(t *testing.T, h *apptest.Harness, convs []string) {
	t.Helper()
	taken := map[string]string{}
	served := 0
	for i, conv := range convs {
		ws := h.Workers(conv)
		connecting, welcomes := 0, 0
		for _, m := range h.Twilio.Messages(conv) {
			switch {
			case apptest.Promised(m) != "":
				connecting++
			case m.Author == "system" && m.Body == bot.DefaultWelcome:
				welcomes++
			}
		}
		if len(ws) != 1 || connecting != 1 || welcomes > 1 {
			t.Errorf("conversation %d: workers %v\n  %s", i, ws, strings.Join(h.Transcript(conv), "\n  "))
			continue
		}
		if other, dup := taken[ws[0]]; dup {
			t.Errorf("%s added to %s and %s", ws[0], other, conv)
			for _, c := range []string{other, conv} {
				a, err := h.App.Assignments.Assignment(context.Background(), c)
				t.Logf("claim of %s: %+v %v\n  %s", c, a, err, strings.Join(h.Transcript(c), "\n  "))
			}
		}
		taken[ws[0]] = conv
		served++
	}
	t.Logf("%d conversations: %d served, %d distinct workers, %d jobs left to the queue, %d dead-lettered",
		len(convs), served, len(taken), len(h.Logs.Lines("conversation work left to the queue")),
		len(h.Logs.Lines("conversation work dead-lettered")))
}

// burstTwilio is the fake Twilio of the burst tests. A webhook that
// Twilio abandons before the handler has even read it can never be
// recovered; under -race on a saturated 2-core machine that happens to
// deliveries our handlers would answer in time on Cloud Run, so bursts
// wait for answers as long as it takes: the outcome is what is tested.
var burstTwilio = twiliotest.Config{WebhookTimeout: 2 * time.Minute}

// addPool adds n available workers to the pool queue.
func addPool(h *apptest.Harness, n int) {
	for i := range n {
		h.Twilio.AddWorker(fmt.Sprintf("w%03d@example.com", i), true, nil, h.Twilio.QueueSID())
	}
}

// TestBurstAcrossInstances: 200 customers say AGENT at once through three
// instances sharing one Firestore database and the Cloud Tasks queue,
// with 200 workers available: every customer gets one reply and a worker
// of their own, whatever the webhooks' own attempts managed in time.
func TestBurstAcrossInstances(t *testing.T) { burstAcrossInstances(t, 200) }

// TestBigBurstAcrossInstances is TestBurstAcrossInstances with 400
// customers and 400 workers, where the independent check found one worker
// given to two customers: the burst outlasts the claim TTL, and the turns
// left to the queue claim long after their customers asked. Every worker
// has been assigned before (an hour ago), as in a pool in use, so that no
// claim is kept apart from the burst's workers by their never having been
// assigned.
func TestBigBurstAcrossInstances(t *testing.T) { burstAcrossInstances(t, 400) }

func burstAcrossInstances(t *testing.T, n int) {
	h := apptest.New(t, apptest.Options{Store: apptest.Firestore, Instances: 3, CloudTasks: true, Twilio: burstTwilio,
		Env: config.Env{"WORK_DELAY": "2s"}, LogLevel: "info"})
	addPool(h, n)
	if n > 200 {
		assignedBefore(t, h, n)
	}
	convs := agentBurst(t, h, n)
	h.WaitWork(t)
	checkEveryoneServed(t, h, convs)
	if d := h.Tasks.Dropped(); len(d) != 0 {
		t.Errorf("%d tasks dropped by the queue", len(d))
	}
	if lines := h.Logs.Lines("conversation work dead-lettered"); len(lines) != 0 {
		t.Errorf("%d jobs dead-lettered: %v", len(lines), lines[0])
	}
}

// assignedBefore records in the claim store that each of the pool's n
// workers was given a conversation an hour ago.
func assignedBefore(t *testing.T, h *apptest.Harness, n int) {
	t.Helper()
	ws := h.Twilio.Workers()
	if len(ws) != n {
		t.Fatalf("pool of %d workers, want %d", len(ws), n)
	}
	var g errgroup.Group
	g.SetLimit(16)
	for i, w := range ws {
		g.Go(func() error {
			_, err := h.App.Assignments.Claim(context.Background(), assign.Request{
				Conversation: fmt.Sprintf("CHbefore%d", i), Claimant: "before",
				Candidates: []assign.Candidate{{Identity: w.FriendlyName, SID: w.SID}},
				Now:        time.Now().Add(-time.Hour + time.Duration(i)*time.Second), TTL: time.Second,
			})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestTwilioOutageDuringBurst: Twilio's API answers 503 to everything for
// a minute while customers write: the webhooks' attempts fail, and once
// Twilio is back the queue completes every turn, with no duplicate.
func TestTwilioOutageDuringBurst(t *testing.T) {
	t.Parallel()
	const n = 30
	h := apptest.New(t, apptest.Options{Store: apptest.Firestore, Instances: 2, CloudTasks: true, Twilio: burstTwilio, LogLevel: "info"})
	addPool(h, n)
	h.Twilio.SetOutage(http.StatusServiceUnavailable)
	convs := agentBurst(t, h, n)
	answered(t, h.Twilio.Deliveries())
	time.Sleep(time.Minute) // the outage: the queue keeps retrying meanwhile
	h.Twilio.SetOutage(0)
	h.WaitWork(t)
	checkEveryoneServed(t, h, convs)
}

// TestFirestoreOutageDuringBurst: Firestore is unreachable for 30 s while
// customers write: what needs it (claims) fails and is retried by the
// queue; once it is back every turn completes, with no duplicate.
func TestFirestoreOutageDuringBurst(t *testing.T) {
	const n = 30
	outage := firestoretest.NewOutage(t)
	t.Setenv(firestoretest.EnvHost, outage.Addr()) // the Apps' clients go through it
	h := apptest.New(t, apptest.Options{Store: apptest.Firestore, Instances: 2, CloudTasks: true, Twilio: burstTwilio, LogLevel: "info"})
	addPool(h, n)
	outage.Down()
	convs := agentBurst(t, h, n)
	answered(t, h.Twilio.Deliveries())
	time.Sleep(30 * time.Second)
	outage.Up()
	h.WaitWork(t)
	checkEveryoneServed(t, h, convs)
}

// TestDeadLetter: a turn that can never complete — its conversation was
// deleted before the work was done — ends in the dead letter, logged
// once, and the queue stops retrying it.
func TestDeadLetter(t *testing.T) {
	t.Parallel()
	h := apptest.New(t, apptest.Options{Store: apptest.Firestore, CloudTasks: true, Env: config.Env{"WORK_DELAY": "500ms"}})
	addPool(h, 1)
	conv := text(t, h, maria, "hi")
	h.WaitWork(t)
	h.Twilio.SetOutage(http.StatusServiceUnavailable)
	text(t, h, maria, "AGENT")
	h.Twilio.DeleteConversation(conv)
	h.Twilio.SetOutage(0)
	h.WaitWork(t)
	lines := h.Logs.Lines("conversation work dead-lettered")
	if len(lines) != 1 {
		t.Fatalf("%d dead-letter lines, want 1", len(lines))
	}
	if l := lines[0]; l["severity"] != "ERROR" || l["conversation"] != conv || l["kind"] != "turn" {
		t.Errorf("dead-letter line %v: want an ERROR naming the conversation and the kind of work", l)
	}
	if d := h.Tasks.Dropped(); len(d) != 0 {
		t.Errorf("%d tasks exhausted their retries: a dead letter must end them", len(d))
	}
}

// TestSafetyNetDropped: a webhook that did its work deletes its queued
// task, so that the queue carries only work left to do: the task of a
// turn done at once is never delivered, on either queue.
func TestSafetyNetDropped(t *testing.T) {
	for _, cloud := range []bool{false, true} {
		t.Run(fmt.Sprintf("cloudtasks=%v", cloud), func(t *testing.T) {
			t.Parallel()
			opts := apptest.Options{CloudTasks: cloud}
			if cloud {
				opts.Store = apptest.Firestore
			}
			h := apptest.New(t, opts)
			h.Twilio.AddWorker("ann@example.com", true, nil, h.Twilio.QueueSID())
			first := h.Text(t, maria, "hi")
			res := h.Text(t, maria, "AGENT")
			h.WaitWork(t)
			turnOutcome(t, h, first.ConversationSID, "AGENT")
			for _, name := range []string{taskqueue.TaskID("welcome", first.ConversationSID), taskqueue.TaskID("turn", first.Message.SID), taskqueue.TaskID("turn", res.Message.SID)} {
				if n := attempts(t, h, name); n != 0 {
					t.Errorf("task %s delivered %d times, want 0: its work was done by the webhook", name, n)
				}
			}
		})
	}
}

// attempts returns how many times the queue delivered the task name.
func attempts(t *testing.T, h *apptest.Harness, name string) int {
	t.Helper()
	if h.Tasks != nil {
		info, ok := h.Tasks.Task(cloudtaskstest.DefaultQueue + "/tasks/" + name)
		if !ok {
			t.Fatalf("no task %s", name)
		}
		return info.Attempts
	}
	return h.App.Queue.(*taskqueue.LocalQueue).Attempts(name)
}

// downLedger is a ledger whose store never answers.
type downLedger struct{ conversation.Ledger }

func (downLedger) Begin(context.Context, string, time.Time, time.Duration) (ledger.Attempt, error) {
	return ledger.Attempt{}, errors.New("ledger down")
}

// TestQueuedAttemptWaits: with the ledger down a webhook leaves its work
// to its queued task, which may work without holding the conversation
// only once the webhook's own attempt must be over (HANDLER_TIMEOUT and
// a grace after it). The task's first delivery, due before that, waits
// for that moment and does the work, rather than going back to the
// queue to wait out its retry backoff: each task is delivered once, and
// the customer gets one welcome and one menu.
func TestQueuedAttemptWaits(t *testing.T) {
	t.Parallel()
	h := apptest.New(t, apptest.Options{
		Env:        config.Env{"HANDLER_TIMEOUT": "1s", "WORK_DELAY": "200ms"},
		WrapLedger: func(inner conversation.Ledger) conversation.Ledger { return downLedger{inner} },
	})
	res := h.Text(t, maria, "hi")
	conv := res.ConversationSID
	h.WaitWork(t)
	welcomes, menus := 0, 0
	for _, m := range h.Twilio.Messages(conv) {
		switch m.Body {
		case bot.DefaultWelcome:
			welcomes++
		case bot.Menu:
			menus++
		}
	}
	if welcomes != 1 || menus != 1 {
		t.Errorf("%d welcomes and %d menus, want 1 of each:\n  %s", welcomes, menus, strings.Join(h.Transcript(conv), "\n  "))
	}
	for _, name := range []string{taskqueue.TaskID("welcome", conv), taskqueue.TaskID("turn", res.Message.SID)} {
		if n := attempts(t, h, name); n != 1 {
			t.Errorf("task %s delivered %d times, want 1", name, n)
		}
	}
}

// amnesia is a ledger that forgets every record on demand, as when the
// store lost its data.
type amnesia struct {
	conversation.Ledger
	mu        sync.Mutex
	forgotten bool
}

func (l *amnesia) forget() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgotten = true
}

func (l *amnesia) Begin(ctx context.Context, key string, now time.Time, lease time.Duration) (ledger.Attempt, error) {
	l.mu.Lock()
	forgotten := l.forgotten
	l.mu.Unlock()
	if forgotten {
		return ledger.Attempt{Key: key, Outcome: ledger.Fresh}, nil
	}
	return l.Ledger.Begin(ctx, key, now, lease)
}

// TestReplays: every webhook of a conversation replayed three times,
// with the ledger's records and after they are lost, produces no second
// welcome, reply or worker.
func TestReplays(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			t.Parallel()
			l := &amnesia{}
			h := apptest.New(t, apptest.Options{Store: store, WrapLedger: func(inner conversation.Ledger) conversation.Ledger {
				l.Ledger = inner
				return l
			}})
			addPool(h, 2)
			conv := text(t, h, maria, "hi")
			text(t, h, maria, "AGENT")
			h.WaitWork(t)
			want := h.Transcript(conv)
			wantWorkers := h.Workers(conv)
			if len(want) != 5 || len(wantWorkers) != 1 {
				t.Fatalf("conversation before the replays:\n  %s\nworkers %v", strings.Join(want, "\n  "), wantWorkers)
			}
			ds := h.Twilio.Deliveries()
			for _, phase := range []string{"with records", "records lost"} {
				if phase == "records lost" {
					l.forget()
				}
				for range 3 {
					for _, d := range ds {
						if r := h.Twilio.Redeliver(context.Background(), d); r.Status/100 != 2 {
							t.Errorf("%s: replay of %s %s: %d %s", phase, d.Target, d.EventType, r.Status, r.Body)
						}
					}
				}
				h.WaitWork(t)
				if got := h.Transcript(conv); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s: after the replays:\n  %s\nwant\n  %s", phase, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
				if got := h.Workers(conv); len(got) != 1 || got[0] != wantWorkers[0] {
					t.Errorf("%s: workers %v, want %v", phase, got, wantWorkers)
				}
			}
		})
	}
}
