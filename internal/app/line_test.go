package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/waitline"
)

// lineCustomer is the i-th customer of a line test.
func lineCustomer(i int) string { return fmt.Sprintf("+1415555%04d", 100+i) }

// last returns the conversation's last message body.
func last(h *apptest.Harness, conv string) string {
	ms := h.Twilio.Messages(conv)
	if len(ms) == 0 {
		return ""
	}
	return ms[len(ms)-1].Body
}

// waiting returns the conversations in line, in arrival order.
func waiting(t *testing.T, h *apptest.Harness) []string {
	t.Helper()
	es, err := h.App.Line.Waiting(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Conversation)
	}
	return out
}

// lineAudit checks every conversation: at most one worker, at most one
// "connecting" message; it returns how many have their worker.
func lineAudit(t *testing.T, h *apptest.Harness, convs []string) (assigned int) {
	t.Helper()
	byWorker := map[string]int{}
	for i, conv := range convs {
		ws := h.Workers(conv)
		connecting := 0
		for _, m := range h.Twilio.Messages(conv) {
			if apptest.Promised(m) != "" {
				connecting++
			}
		}
		if len(ws) > 1 || connecting > 1 || connecting != len(ws) {
			t.Errorf("customer %d: workers %v, %d connecting messages\n  %s", i+1, ws, connecting, strings.Join(h.Transcript(conv), "\n  "))
		}
		if len(ws) == 1 {
			assigned++
			byWorker[ws[0]]++
		}
	}
	return assigned
}

// assignedPrefix checks that the customers with a worker are the first
// ones to arrive (arrival order), and returns how many they are.
func assignedPrefix(t *testing.T, h *apptest.Harness, convs []string, step string) int {
	t.Helper()
	n := lineAudit(t, h, convs)
	for i, conv := range convs {
		if got := len(h.Workers(conv)) == 1; got != (i < n) {
			t.Errorf("%s: customer %d assigned = %v, but %d are assigned: not in arrival order", step, i+1, got, n)
		}
	}
	return n
}

// TestWaitingLine: 10 customers ask for an agent while nobody is
// available and are told their place; writing again keeps it; then 3
// workers become available one after the other. Customers are assigned
// in arrival order, each once, none lost — on Firestore across an
// instance restart too. A worker takes at most one customer per drain;
// the sweep serves the rest.
func TestWaitingLine(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			h := apptest.New(t, apptest.Options{Store: store})
			q := h.Twilio.QueueSID()
			workers := []string{"w1@example.com", "w2@example.com", "w3@example.com"}
			for _, w := range workers {
				h.Twilio.AddWorker(w, false, nil, q)
			}
			const n = 10
			convs := make([]string, n)
			for i := range n {
				convs[i] = text(t, h, lineCustomer(i), "AGENT")
				if got, want := last(h, convs[i]), bot.InLine(i+1, "", "", false); got != want {
					t.Fatalf("customer %d told %q, want %q", i+1, got, want)
				}
			}
			h.WaitWork(t)
			// Writing again keeps the place.
			text(t, h, lineCustomer(2), "agent please")
			if got, want := last(h, convs[2]), bot.InLine(3, "", "", true); got != want {
				t.Errorf("writing again: told %q, want %q", got, want)
			}
			if got := waiting(t, h); !slices.Equal(got, convs) {
				t.Fatalf("line = %v, want the 10 customers in arrival order %v", got, convs)
			}

			start := time.Now()
			prev := 0
			for i, w := range workers {
				if i == 2 && store == apptest.Firestore {
					// The line is in Firestore: a new instance serves it.
					h.Restart(t, 0)
				}
				h.Twilio.SetWorkerAvailable(w, true)
				h.WaitWork(t)
				got := assignedPrefix(t, h, convs, w+" available")
				if got <= prev {
					t.Errorf("%s available: %d customers assigned, no more than before (%d)", w, got, prev)
				}
				t.Logf("%s available: %d of %d assigned", w, got, n)
				prev = got
			}
			sweeps := 0
			for prev < n && sweeps < 5 {
				if s := h.Sweep(t); s != http.StatusNoContent {
					t.Fatalf("sweep answered %d", s)
				}
				sweeps++
				h.WaitWork(t)
				prev = assignedPrefix(t, h, convs, fmt.Sprintf("sweep %d", sweeps))
			}
			if prev != n {
				t.Errorf("%d of %d customers assigned after %d sweeps: lost", prev, n, sweeps)
			}
			if got := waiting(t, h); len(got) != 0 {
				t.Errorf("still in line: %v", got)
			}
			t.Logf("10 waiting, 3 workers: %d assigned in arrival order after 3 events and %d sweeps, in %s", prev, sweeps, time.Since(start).Round(time.Millisecond))
			for _, d := range h.Twilio.Deliveries() {
				if d.Status/100 != 2 {
					t.Errorf("%s %s answered %d %s", d.Target, d.EventType, d.Status, d.Body)
				}
			}
		})
	}
}

// TestWaitingLineMoves: asking for a named expert who is away moves the
// customer to that expert's line; someone else becoming available does
// not take them, the expert coming back does.
func TestWaitingLineMoves(t *testing.T) {
	h := apptest.New(t, apptest.Options{})
	q := h.Twilio.QueueSID()
	h.Twilio.AddWorker("ann@example.com", false, nil, q)
	h.Twilio.AddWorker("bob@example.com", false, nil, q)
	conv := text(t, h, maria, "AGENT")
	other := text(t, h, lineCustomer(1), "AGENT")
	text(t, h, maria, "bob@example.com")
	if got, want := last(h, conv), bot.InLine(1, "bob@example.com", "", false); got != want {
		t.Errorf("moving: told %q, want %q", got, want)
	}
	e, place, err := h.App.Line.Position(context.Background(), conv)
	if err != nil || e.Target != (waitline.Target{Worker: "bob@example.com"}) || place != 1 {
		t.Errorf("after asking for bob: %+v, place %d, %v", e, place, err)
	}
	if _, place, _ := h.App.Line.Position(context.Background(), other); place != 1 {
		t.Errorf("the other customer is number %d for anyone, want 1", place)
	}
	h.Twilio.SetWorkerAvailable("ann@example.com", true)
	h.WaitWork(t)
	if w := h.Workers(conv); len(w) != 0 {
		t.Errorf("waiting for bob, got %v", w)
	}
	if w := h.Workers(other); !slices.Equal(w, []string{"ann@example.com"}) {
		t.Errorf("the customer waiting for anyone got %v, want ann", w)
	}
	h.Twilio.SetWorkerAvailable("bob@example.com", true)
	h.WaitWork(t)
	if w := h.Workers(conv); !slices.Equal(w, []string{"bob@example.com"}) {
		t.Errorf("bob came back, the customer got %v", w)
	}
	if got := h.Marked(conv); got[len(got)-1] != apptest.Connect("bob@example.com") {
		t.Errorf("told %q, want the message connecting bob", got[len(got)-1])
	}
	if got := waiting(t, h); len(got) != 0 {
		t.Errorf("still in line: %v", got)
	}
}

// TestWaitingLineOverdue: a customer waiting past WAITING_LINE_MAX_WAIT
// is told so once, however many sweeps run; with FALLBACK_WORKER, the
// fallback worker takes them.
func TestWaitingLineOverdue(t *testing.T) {
	for _, fallback := range []string{"", "duty@example.com"} {
		t.Run("fallback="+fallback, func(t *testing.T) {
			h := apptest.New(t, apptest.Options{Env: config.Env{"WAITING_LINE_MAX_WAIT": "5m", "FALLBACK_WORKER": fallback}})
			h.Twilio.AddWorker("bob@example.com", false, nil, h.Twilio.QueueSID())
			h.Twilio.AddWorker("duty@example.com", false, nil)
			conv := text(t, h, maria, "bob@example.com") // bob is away: the fallback is for "agent" only
			h.WaitWork(t)
			h.Sweep(t)
			if got := strings.Count(strings.Join(h.Transcript(conv), "\n"), bot.LineOverdue); got != 0 {
				t.Fatalf("told overdue before the time")
			}
			h.Clock.Advance(6 * time.Minute)
			for range 3 {
				if s := h.Sweep(t); s != http.StatusNoContent {
					t.Fatalf("sweep answered %d", s)
				}
				h.WaitWork(t)
			}
			if got := strings.Count(strings.Join(h.Transcript(conv), "\n"), bot.LineOverdue); got != 1 {
				t.Errorf("told overdue %d times, want once:\n  %s", got, strings.Join(h.Transcript(conv), "\n  "))
			}
			ws := h.Workers(conv)
			if fallback == "" {
				if len(ws) != 0 || !slices.Equal(waiting(t, h), []string{conv}) {
					t.Errorf("without a fallback the customer keeps their place: workers %v, line %v", ws, waiting(t, h))
				}
				return
			}
			if !slices.Equal(ws, []string{fallback}) {
				t.Errorf("the fallback worker did not take the customer: %v", ws)
			}
			if got := waiting(t, h); len(got) != 0 {
				t.Errorf("still in line: %v", got)
			}
		})
	}
}

// TestWaitingLineSweepOnly: with the workspace's event callback owned by
// another system, no event reaches Expert Hub; the sweep alone serves
// the line.
func TestWaitingLineSweepOnly(t *testing.T) {
	h := apptest.New(t, apptest.Options{NoEventCallback: true})
	h.Twilio.AddWorker("ann@example.com", false, nil, h.Twilio.QueueSID())
	conv := text(t, h, maria, "AGENT")
	h.WaitWork(t) // the drain the join queued has run
	h.Twilio.SetWorkerAvailable("ann@example.com", true)
	h.WaitWork(t)
	if w := h.Workers(conv); len(w) != 0 {
		t.Fatalf("assigned without an event nor a sweep: %v", w)
	}
	if s := h.Sweep(t); s != http.StatusNoContent {
		t.Fatalf("sweep answered %d", s)
	}
	h.WaitWork(t)
	if w := h.Workers(conv); !slices.Equal(w, []string{"ann@example.com"}) {
		t.Errorf("after the sweep: %v, want ann", w)
	}
}

// TestTaskRouterEventsRefused: a forged event is refused 403 and a sweep
// without the scheduler's token 401, neither touching the line; an event
// without EventType is a 400.
func TestTaskRouterEventsRefused(t *testing.T) {
	h := apptest.New(t, apptest.Options{})
	h.Twilio.AddWorker("ann@example.com", false, nil, h.Twilio.QueueSID())
	conv := text(t, h, maria, "AGENT")
	h.WaitWork(t)
	h.Twilio.SetEventCallback("") // nothing reaches the App but what the test sends
	h.Twilio.SetWorkerAvailable("ann@example.com", true)
	event := url.Values{"EventType": {"worker.activity.update"}, "WorkerSid": {"WK00000000000000000000000000000001"}}

	r := h.SignedForm("taskrouter-events", event)
	r.Header.Set("X-Twilio-Signature", "forged")
	if rec := h.Serve("taskrouter-events", r); rec.Code != http.StatusForbidden {
		t.Errorf("forged event answered %d, want 403", rec.Code)
	}
	r = h.SignedForm("taskrouter-events", event)
	r.Header.Set("Authorization", "Bearer not-a-token")
	if rec := h.Serve("taskrouter-events", r); rec.Code != http.StatusUnauthorized {
		t.Errorf("sweep with a bad token answered %d, want 401", rec.Code)
	}
	if rec := h.Serve("taskrouter-events", h.SignedForm("taskrouter-events", url.Values{"WorkerSid": {"WK1"}})); rec.Code != http.StatusBadRequest {
		t.Errorf("event without EventType answered %d, want 400", rec.Code)
	}
	h.WaitWork(t)
	if w := h.Workers(conv); len(w) != 0 {
		t.Errorf("a refused call served the line: %v", w)
	}
	// The genuine event is answered 204 and serves the line.
	status, _, err := h.Post("taskrouter-events", event)
	if err != nil || status != http.StatusNoContent {
		t.Fatalf("signed event answered %d, %v", status, err)
	}
	h.WaitWork(t)
	if w := h.Workers(conv); !slices.Equal(w, []string{"ann@example.com"}) {
		t.Errorf("after a signed event: %v, want ann", w)
	}
}
