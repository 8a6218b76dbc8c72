package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/logging"
)

const maria = "+33679500001"

// text plays the customer at from texting body, and returns the
// conversation.
func text(t *testing.T, h *apptest.Harness, from, body string) string {
	t.Helper()
	return h.Text(t, from, body).ConversationSID
}

// TestFlowThroughApp plays conversations against the App as built from
// its configuration: signature checks, deadlines, the sample CRM and the
// in-memory stores.
func TestFlowThroughApp(t *testing.T) {
	h := apptest.New(t, apptest.Options{Env: config.Env{
		"WELCOME_MESSAGE": "Hello from the Expert Hub!",
		"FALLBACK_WORKER": "Duty@Example.com",
	}})
	q := h.Twilio.QueueSID()
	h.Twilio.AddWorker("ann@example.com", true, nil, q)
	h.Twilio.AddWorker("bob@example.com", true, map[string]any{"lastAcceptedTaskTime": 1}, q)
	h.Twilio.AddWorker("duty@example.com", false, nil)

	conv := text(t, h, maria, "hi")
	text(t, h, maria, "Ann@Example.com")
	want := []string{
		"system: Hello from the Expert Hub!",
		maria + ": hi",
		"system: " + bot.Menu,
		maria + ": Ann@Example.com",
		apptest.Connect("ann@example.com"),
	}
	if got := h.Marked(conv); !slices.Equal(got, want) {
		t.Errorf("transcript:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if w := h.Workers(conv); !slices.Equal(w, []string{"ann@example.com"}) {
		t.Errorf("workers = %v", w)
	}
	if c, _ := h.Twilio.Conversation(conv); c.FriendlyName != "Maria Sanchez" {
		t.Errorf("friendly name = %q", c.FriendlyName)
	}

	// "agent": ann just took Maria's conversation; bob accepted his last
	// task long ago. Bob first, then ann.
	agentConv := text(t, h, "+447491000002", "AGENT")
	if w := h.Workers(agentConv); !slices.Equal(w, []string{"bob@example.com"}) {
		t.Errorf("AGENT went to %v, want bob", w)
	}
	next := text(t, h, "+5521989500003", "agent")
	if w := h.Workers(next); !slices.Equal(w, []string{"ann@example.com"}) {
		t.Errorf("second AGENT went to %v, want ann", w)
	}
	h.Twilio.SetWorkerAvailable("ann@example.com", false)
	h.Twilio.SetWorkerAvailable("bob@example.com", false)
	fallback := text(t, h, "+14155550123", "AGENT")
	if w := h.Workers(fallback); !slices.Equal(w, []string{"duty@example.com"}) {
		t.Errorf("with nobody available AGENT went to %v, want the fallback worker", w)
	}
	for _, d := range h.Twilio.Deliveries() {
		if d.Status/100 != 2 {
			t.Errorf("%s %s answered %d %s", d.Target, d.EventType, d.Status, d.Body)
		}
	}
	for _, r := range h.Twilio.Requests() {
		if r.Header.Get("X-Twilio-Webhook-Enabled") != "" {
			t.Errorf("%s %s asked for webhooks", r.Method, r.Path)
		}
	}
}

// TestFlowInEnvironment: deployed in an environment, every function is
// served at /eh-<env>-<name> and told its URL (PUBLIC_URL_<FUNCTION>):
// Twilio's signed webhooks, the queue's tasks and the routing still meet.
func TestFlowInEnvironment(t *testing.T) {
	h := apptest.New(t, apptest.Options{FunctionPrefix: "eh-staging-", CloudTasks: true})
	for _, name := range function.All() {
		if got := h.URL(name); got != h.Server.URL+"/eh-staging-"+string(name) {
			t.Errorf("URL(%s) = %s, want the prefixed name", name, got)
		}
	}
	// The entry point's own path is not served: a Twilio setting left at
	// the old URL fails loudly instead of reaching another environment.
	resp, err := http.Post(h.Server.URL+"/pre-event", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /pre-event = %d, want 404", resp.StatusCode)
	}

	q := h.Twilio.QueueSID()
	h.Twilio.AddWorker("ann@example.com", true, nil, q)
	conv := text(t, h, maria, "hi")
	text(t, h, maria, "Ann@Example.com")
	if w := h.Workers(conv); !slices.Equal(w, []string{"ann@example.com"}) {
		t.Errorf("workers = %v", w)
	}
	deliveries := 0
	for _, d := range h.Twilio.Deliveries() {
		deliveries++
		if d.Status/100 != 2 || !strings.Contains(d.URL, "/eh-staging-") {
			t.Errorf("%s %s answered %d %s", d.URL, d.EventType, d.Status, d.Body)
		}
	}
	if deliveries == 0 {
		t.Error("no webhook delivered")
	}
}

// TestFlowDeadline: when Twilio answers later than HANDLER_TIMEOUT (and
// the client would wait for it), the deadline cuts every flow handler:
// the pre-event hook answers 200, routing and post-event answer 200 with
// their work left to the queue, having posted nothing; no delivery is
// left for Twilio to give up on. Once Twilio is quick again, the queue
// finishes the work.
func TestFlowDeadline(t *testing.T) {
	h := apptest.New(t, apptest.Options{Env: config.Env{"HANDLER_TIMEOUT": "300ms", "TWILIO_TIMEOUT": "1m", "WORK_DELAY": "3s"}})
	h.Twilio.AddWorker("ann@example.com", true, nil, h.Twilio.QueueSID())
	h.Twilio.SetLatency(2 * time.Second)
	conv := text(t, h, maria, "AGENT")
	for _, d := range h.Twilio.Deliveries() {
		switch {
		case d.TimedOut || d.Err != nil:
			t.Errorf("%s %s got no answer (timed out: %v): %v", d.Target, d.EventType, d.TimedOut, d.Err)
		case d.Status != http.StatusOK:
			t.Errorf("%s %s answered %d %s", d.Target, d.EventType, d.Status, d.Body)
		}
	}
	if got := h.Transcript(conv); len(got) != 1 || len(h.Workers(conv)) != 0 {
		t.Errorf("posted or added past the deadline: %q, workers %v", got, h.Workers(conv))
	}
	if n := len(h.Logs.Lines("conversation work left to the queue")); n != 3 {
		t.Errorf("%d jobs left to the queue, want 3: the welcome, the participant and the turn", n)
	}
	h.Twilio.SetLatency(0)
	h.WaitWork(t)
	if got, ws := h.Transcript(conv), h.Workers(conv); len(got) != 3 || !slices.Equal(ws, []string{"ann@example.com"}) {
		t.Errorf("after the queue: %q, workers %v; want the welcome, the text, the reply and ann", got, ws)
	}
}

// TestFlowReturningCustomer: RETURNING_CUSTOMER=route sends a returning
// customer straight back to their last worker.
func TestFlowReturningCustomer(t *testing.T) {
	h := apptest.New(t, apptest.Options{Env: config.Env{"RETURNING_CUSTOMER": "route"}})
	h.Twilio.AddWorker("ann@example.com", true, nil, h.Twilio.QueueSID())
	h.Twilio.AddWorker("bob@example.com", true, nil, h.Twilio.QueueSID())
	first := text(t, h, maria, "bob@example.com")
	closeConv := httptestRequest(t, h, "/v1/Conversations/"+first, url.Values{"State": {"closed"}})
	if closeConv != http.StatusOK {
		t.Fatalf("close: %d", closeConv)
	}
	second := text(t, h, maria, "hello again")
	if w := h.Workers(second); !slices.Equal(w, []string{"bob@example.com"}) {
		t.Errorf("returning customer went to %v, want bob", w)
	}
	if got := h.Marked(second); len(got) != 2 || got[0] != apptest.Connect("bob@example.com") {
		t.Errorf("transcript: %v", got)
	}
}

func httptestRequest(t *testing.T, h *apptest.Harness, path string, form url.Values) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.Twilio.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(h.Twilio.AccountSID(), h.Twilio.AuthToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestFlowWithoutTwilio: without credentials the flow is not built, and
// the pre-event hook still lets every action through.
func TestFlowWithoutTwilio(t *testing.T) {
	cfg, err := config.Parse(config.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	a, err := app.New(context.Background(), cfg, logging.New(&logs, "info"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for name, want := range map[function.Name]int{function.PreEvent: 200, function.PostEvent: 503, function.Routing: 503} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("EventType=onMessageAdd"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		a.Handler(name).ServeHTTP(rec, r)
		if rec.Code != want {
			t.Errorf("%s without Twilio: %d, want %d", name, rec.Code, want)
		}
	}
	if !strings.Contains(logs.String(), "no Twilio credentials") {
		t.Error("missing Twilio credentials not logged")
	}
}
