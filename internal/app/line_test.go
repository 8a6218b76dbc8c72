package app_test

import (
	"context"
	"encoding/json"
	"errors"
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

// placeNotice returns the place the bot's last message told the customer
// ({"notice": "line-place", "place": n}), 0 when it is no place notice.
func placeNotice(t *testing.T, h *apptest.Harness, conv string) int {
	t.Helper()
	ms := h.Twilio.Messages(conv)
	if len(ms) == 0 || ms[len(ms)-1].Author != "system" {
		return 0
	}
	var mk struct {
		Notice string `json:"notice"`
		Place  int    `json:"place"`
	}
	if err := json.Unmarshal([]byte(ms[len(ms)-1].Attributes), &mk); err != nil || mk.Notice != "line-place" {
		return 0
	}
	return mk.Place
}

// placeOf returns the conversation's place in line and whom it waits for;
// place 0 when it is not in line.
func placeOf(t *testing.T, h *apptest.Harness, conv string) (waitline.Target, int) {
	t.Helper()
	e, place, err := h.App.Line.Position(context.Background(), conv)
	if errors.Is(err, waitline.ErrNotFound) {
		return waitline.Target{}, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return e.Target, place
}

// servedInOrder checks that the customers of convs who have a worker are
// the first ones of convs (arrival order): nobody was served before
// someone who waited longer for the same workers.
func servedInOrder(t *testing.T, h *apptest.Harness, convs []string, step string) int {
	t.Helper()
	n := 0
	for i, conv := range convs {
		if len(h.Workers(conv)) == 0 {
			continue
		}
		if n != i {
			t.Errorf("%s: customer %d has a worker while customer %d, who waited longer, has none", step, i+1, n+1)
		}
		n++
	}
	return n
}

// serveAll sweeps until every customer of convs has a worker, checking at
// each step that they are served in arrival order.
func serveAll(t *testing.T, h *apptest.Harness, convs []string) {
	t.Helper()
	h.WaitWork(t)
	served := servedInOrder(t, h, convs, "after the joins' drains")
	for sweeps := 1; served < len(convs) && sweeps <= len(convs)+1; sweeps++ {
		if s := h.Sweep(t); s != http.StatusNoContent {
			t.Fatalf("sweep answered %d", s)
		}
		h.WaitWork(t)
		served = servedInOrder(t, h, convs, fmt.Sprintf("sweep %d", sweeps))
	}
	if served != len(convs) {
		t.Errorf("%d of %d customers served", served, len(convs))
	}
	lineAudit(t, h, convs)
}

// TestWaitingLineFair: customers A and B wait for anyone; a worker
// becomes available, with no event to serve the line yet (a Frontline
// worker stays available while serving conversations). C writes AGENT:
// C joins behind A and B instead of taking the worker, and the worker is
// given to A, then B, then C. Once nobody waits, a request gets a worker
// at once.
func TestWaitingLineFair(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			h := apptest.New(t, apptest.Options{Store: store, NoEventCallback: true})
			h.Twilio.AddWorker("ann@example.com", false, nil, h.Twilio.QueueSID())
			a := text(t, h, lineCustomer(0), "AGENT")
			b := text(t, h, lineCustomer(1), "AGENT")
			h.WaitWork(t)
			h.Twilio.SetWorkerAvailable("ann@example.com", true)

			c := text(t, h, lineCustomer(2), "AGENT")
			if w := h.Workers(c); len(w) != 0 {
				t.Fatalf("C was given %v ahead of A and B", w)
			}
			if got := placeNotice(t, h, c); got != 3 {
				t.Errorf("C told place %d, want 3:\n  %s", got, strings.Join(h.Transcript(c), "\n  "))
			}
			if got := waiting(t, h); !slices.Equal(got, []string{a, b, c}) {
				t.Errorf("line = %v, want A, B, C %v", got, []string{a, b, c})
			}
			serveAll(t, h, []string{a, b, c})
			if got := waiting(t, h); len(got) != 0 {
				t.Errorf("still in line: %v", got)
			}

			d := text(t, h, lineCustomer(3), "AGENT")
			if w := h.Workers(d); !slices.Equal(w, []string{"ann@example.com"}) {
				t.Errorf("with nobody waiting, D got %v at once, want ann", w)
			}
		})
	}
}

// TestWaitingLineFairAreas: customers waiting for an area are served
// first of that area's experts, in arrival order, whatever the later
// customers ask for (the area, or anyone); customers waiting for one
// area do not hold back a request another area's expert can take.
func TestWaitingLineFairAreas(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			h := apptest.New(t, apptest.Options{Store: store, NoEventCallback: true,
				Env: config.Env{"EXPERTISE_AREAS": "watches=Watches;bridal=Bridal"}})
			q := h.Twilio.QueueSID()
			h.Twilio.AddWorker("ann@example.com", false, map[string]any{"expertise": []string{"watches"}}, q)
			h.Twilio.AddWorker("chloe@example.com", true, map[string]any{"expertise": []string{"bridal"}}, q)
			a := text(t, h, lineCustomer(0), "watches")
			b := text(t, h, lineCustomer(1), "watches")
			h.WaitWork(t)
			for i, conv := range []string{a, b} {
				if target, place := placeOf(t, h, conv); target != (waitline.Target{Area: "watches"}) || place != i+1 {
					t.Fatalf("customer %d waits for %+v, place %d", i+1, target, place)
				}
			}
			h.Twilio.SetWorkerAvailable("ann@example.com", true)

			c := text(t, h, lineCustomer(2), "I need a watch expert: watches")
			if w := h.Workers(c); len(w) != 0 {
				t.Fatalf("C was given %v ahead of A and B", w)
			}
			if got := placeNotice(t, h, c); got != 3 {
				t.Errorf("C told place %d, want 3", got)
			}
			// Nobody waits for bridal: chloe is free to take E at once.
			e := text(t, h, lineCustomer(4), "bridal")
			if w := h.Workers(e); !slices.Equal(w, []string{"chloe@example.com"}) {
				t.Errorf("E, asking for bridal, got %v at once, want chloe", w)
			}
			h.Twilio.SetWorkerAvailable("chloe@example.com", false)
			// Anyone would do for D, but the only one available is owed
			// to the customers waiting for watches.
			d := text(t, h, lineCustomer(3), "AGENT")
			if w := h.Workers(d); len(w) != 0 {
				t.Fatalf("D was given %v ahead of A, B and C", w)
			}
			if target, place := placeOf(t, h, d); target != (waitline.Target{}) || place != 1 || placeNotice(t, h, d) != 1 {
				t.Errorf("D waits for %+v, place %d (told %d), want anyone, 1", target, place, placeNotice(t, h, d))
			}
			serveAll(t, h, []string{a, b, c, d})
		})
	}
}

// TestWaitingLinePlace: whatever a waiting customer writes that makes no
// new choice gets their place, and they keep it; a new choice is honoured
// and moves them (another area: the back of that area's line; an
// available expert's e-mail: that expert, out of the line; the contact
// center: Flex, out of the line).
func TestWaitingLinePlace(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			h := apptest.New(t, apptest.Options{Store: store, Flex: true, NoEventCallback: true,
				Env: config.Env{"EXPERTISE_AREAS": "watches=Watches"}})
			h.Twilio.AddWorker("ann@example.com", false, map[string]any{"expertise": []string{"watches"}}, h.Twilio.QueueSID())
			h.Twilio.AddWorker("bob@example.com", true, nil) // not of the pool: by e-mail only
			ahead := []string{text(t, h, lineCustomer(0), "AGENT"), text(t, h, lineCustomer(1), "AGENT")}
			for i, tt := range []struct {
				name, body string
				keep       bool            // keeps their place, told it
				target     waitline.Target // else: waits for this (moved)
				worker     string          // else: this worker joined
				flex       bool            // else: handed to the contact center
			}{
				{name: "chat", body: "still waiting?", keep: true},
				{name: "agent again", body: "AGENT please", keep: true},
				{name: "unknown e-mail", body: "nobody@example.com", keep: true},
				{name: "available e-mail", body: "bob@example.com", worker: "bob@example.com"},
				{name: "area", body: "watches", target: waitline.Target{Area: "watches"}},
				{name: "contact center", body: "support please", flex: true},
			} {
				t.Run(tt.name, func(t *testing.T) {
					conv := text(t, h, lineCustomer(10+i), "AGENT")
					_, place := placeOf(t, h, conv)
					if place != 3 {
						t.Fatalf("joined at place %d, want 3", place)
					}
					before := waiting(t, h)
					tasks := len(h.Flex.Tasks())
					text(t, h, lineCustomer(10+i), tt.body)
					target, now := placeOf(t, h, conv)
					switch {
					case tt.keep:
						if got := placeNotice(t, h, conv); got != 3 || now != 3 || !slices.Equal(waiting(t, h), before) {
							t.Errorf("told place %d, now at %d, line %v; want told 3, kept, line %v:\n  %s",
								got, now, waiting(t, h), before, strings.Join(h.Transcript(conv), "\n  "))
						}
					case tt.worker != "":
						if w := h.Workers(conv); !slices.Equal(w, []string{tt.worker}) || now != 0 {
							t.Errorf("workers %v, place %d; want %s, out of the line", w, now, tt.worker)
						}
					case tt.flex:
						if n := len(h.Flex.Tasks()); n != tasks+1 || now != 0 {
							t.Errorf("Flex tasks %d (had %d), place %d; want a task, out of the line", n, tasks, now)
						}
					default:
						if target != tt.target || now != 1 {
							t.Errorf("waits for %+v at place %d, want %+v at 1", target, now, tt.target)
						}
					}
					if got := waiting(t, h); len(got) < 2 || !slices.Equal(got[:2], ahead) {
						t.Errorf("the customers ahead moved: line %v, want %v first", got, ahead)
					}
					// The next case's customer is number 3 again.
					if err := h.App.Line.Remove(context.Background(), conv); err != nil {
						t.Fatal(err)
					}
				})
			}
		})
	}
}

// TestWaitingLineFairNamed: a customer asking for a named expert waits
// behind those waiting for that expert, not behind those waiting for
// anyone (who have the rest of the pool).
func TestWaitingLineFairNamed(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			h := apptest.New(t, apptest.Options{Store: store, NoEventCallback: true})
			q := h.Twilio.QueueSID()
			h.Twilio.AddWorker("ann@example.com", false, nil, q)
			h.Twilio.AddWorker("bob@example.com", false, nil, q)
			n := text(t, h, lineCustomer(0), "bob@example.com")
			a := text(t, h, lineCustomer(1), "AGENT")
			h.WaitWork(t)
			h.Twilio.SetWorkerAvailable("bob@example.com", true)

			m := text(t, h, lineCustomer(2), "bob@example.com")
			if w := h.Workers(m); len(w) != 0 {
				t.Fatalf("M was given %v ahead of N, who waits for bob", w)
			}
			// M was told 2; the drain M's join queued may have served N
			// since, moving M up to 1.
			target, place := placeOf(t, h, m)
			if nServed := slices.Equal(h.Workers(n), []string{"bob@example.com"}); target != (waitline.Target{Worker: "bob@example.com"}) ||
				place != 2 && !(place == 1 && nServed) || placeNotice(t, h, m) != 2 {
				t.Errorf("M waits for %+v, place %d (told %d), want bob, 2", target, place, placeNotice(t, h, m))
			}
			serveAll(t, h, []string{n, a, m})
			if w := h.Workers(a); !slices.Equal(w, []string{"bob@example.com"}) {
				t.Errorf("A got %v, want bob", w)
			}

			// A waits for anyone, ann is away: asking for bob by name is
			// not held behind them.
			h.Twilio.SetWorkerAvailable("bob@example.com", false)
			b := text(t, h, lineCustomer(3), "AGENT")
			h.WaitWork(t)
			h.Twilio.SetWorkerAvailable("bob@example.com", true)
			p := text(t, h, lineCustomer(4), "bob@example.com")
			if w := h.Workers(p); !slices.Equal(w, []string{"bob@example.com"}) {
				t.Errorf("P, asking for bob while B waits for anyone, got %v at once, want bob", w)
			}
			if got := waiting(t, h); !slices.Equal(got, []string{b}) {
				t.Errorf("line = %v, want B alone", got)
			}
		})
	}
}
