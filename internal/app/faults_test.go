package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/strapitest"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// The Firestore tests of this package use the emulator; the others never
// touch it.
func TestMain(m *testing.M) { firestoretest.Main(m) }

// since returns the deliveries after the first n.
func since(h *apptest.Harness, n int) []twiliotest.Delivery {
	return h.Twilio.Deliveries()[n:]
}

// answered checks that every delivery got an answer before Twilio gave
// up on it, a 2xx (a 5xx for post-event and routing only when allow5xx),
// and the pre-event hook always a 200. How long an answer took is not
// checked: a busy machine makes any bound flaky; the handlers' deadlines
// show as their outcome (a 5xx, a redelivery that completes the work).
func answered(t *testing.T, ds []twiliotest.Delivery) {
	t.Helper()
	for _, d := range ds {
		if d.TimedOut || d.Err != nil {
			t.Errorf("%s %s got no answer (timed out: %v): %v", d.Target, d.EventType, d.TimedOut, d.Err)
		}
		switch {
		case d.Target == twiliotest.TargetPre && d.Status != http.StatusOK:
			t.Errorf("pre-event %s answered %d: the customer's message is dropped", d.EventType, d.Status)
		case d.Status/100 != 2:
			t.Errorf("%s %s answered %d %s", d.Target, d.EventType, d.Status, d.Body)
		}
	}
}

// replies counts the bot's messages after the customer's last message
// with the given body.
func replies(h *apptest.Harness, conv, body string) int {
	n, after := 0, false
	for _, m := range h.Twilio.Messages(conv) {
		switch {
		case m.Author != "system" && m.Body == body:
			n, after = 0, true
		case m.Author == "system" && after:
			n++
		}
	}
	return n
}

// twilioCall is a REST call of a bot turn, as the path the fake serves it
// at.
type twilioCall struct {
	name, text, method string
	path               func(h *apptest.Harness, conv string) string
}

var turnCalls = []twilioCall{
	{"ListParticipants", "AGENT", http.MethodGet, convPath("Participants")},
	{"ListAvailableWorkers", "AGENT", http.MethodGet, workersPath},
	{"FindWorker", "bob@example.com", http.MethodGet, workersPath},
	{"PostMessage", "AGENT", http.MethodPost, convPath("Messages")},
	{"AddParticipant", "AGENT", http.MethodPost, convPath("Participants")},
}

func convPath(sub string) func(*apptest.Harness, string) string {
	return func(_ *apptest.Harness, conv string) string { return "/v1/Conversations/" + conv + "/" + sub }
}

func workersPath(h *apptest.Harness, _ string) string {
	return "/v1/Workspaces/" + h.Twilio.WorkspaceSID() + "/Workers"
}

// connectingReplies counts the bot's messages in conv promising a worker.
func connectingReplies(h *apptest.Harness, conv string) int {
	n := 0
	for _, m := range h.Twilio.Messages(conv) {
		if apptest.Promised(m) != "" {
			n++
		}
	}
	return n
}

// turnOutcome checks that the customer's last message got exactly one
// reply, the one connecting them, and the conversation one worker.
func turnOutcome(t *testing.T, h *apptest.Harness, conv, text string) {
	t.Helper()
	ws := h.Workers(conv)
	if len(ws) != 1 {
		t.Errorf("workers = %v, want one\n  %s", ws, strings.Join(h.Transcript(conv), "\n  "))
		return
	}
	msgs := h.Twilio.Messages(conv)
	if n := replies(h, conv, text); n != 1 || apptest.Promised(msgs[len(msgs)-1]) != ws[0] {
		t.Errorf("%d replies to %q, want 1 promising %s\n  %s", n, text, ws[0], strings.Join(h.Marked(conv), "\n  "))
	}
}

// TestTwilioFaultsInBotTurn fails each Twilio call of a bot turn with a
// 429 carrying Retry-After, a 503, or two 500s in a row: the turn still
// completes with every delivery answered 2xx, one reply and one worker.
// Reads are retried by the client; a create after a 429 too (Twilio did
// not process it); a create that failed unclearly (5xx) is never sent
// again by the attempt: the queued task finishes the turn after reading
// the conversation.
func TestTwilioFaultsInBotTurn(t *testing.T) {
	faults := []struct {
		name       string
		status     int
		retryAfter time.Duration
		times      int
	}{
		{"429 Retry-After 1s", http.StatusTooManyRequests, time.Second, 1},
		{"503", http.StatusServiceUnavailable, 0, 1},
		{"500 twice", http.StatusInternalServerError, 0, 2},
	}
	for _, call := range turnCalls {
		for _, fault := range faults {
			t.Run(call.name+"/"+fault.name, func(t *testing.T) {
				t.Parallel()
				h := apptest.New(t, apptest.Options{})
				q := h.Twilio.QueueSID()
				h.Twilio.AddWorker("ann@example.com", true, nil, q)
				h.Twilio.AddWorker("bob@example.com", true, nil, q)
				conv := text(t, h, maria, "hi")
				before := len(h.Twilio.Deliveries())
				path := call.path(h, conv)
				for range fault.times {
					h.Twilio.FailNext(call.method, path, fault.status, fault.retryAfter)
				}
				text(t, h, maria, call.text)

				answered(t, since(h, before))
				h.WaitWork(t)
				turnOutcome(t, h, conv, call.text)
				failed := 0
				for _, r := range h.Twilio.Requests() {
					if r.Method == call.method && strings.HasPrefix(r.Path, path) && r.Status == fault.status {
						failed++
					}
				}
				if failed != fault.times {
					t.Errorf("%d requests failed with %d, want %d: the fault missed the turn", failed, fault.status, fault.times)
				}
			})
		}
	}
}

// TestTwilioHangInBotTurn: a Twilio call of the turn never answers. The
// client gives up after TWILIO_TIMEOUT; every handler answers, the
// pre-event hook 200; and the turn is done, by the
// delivery itself or by Twilio's redelivery of a failed one, with one
// reply and one worker.
func TestTwilioHangInBotTurn(t *testing.T) {
	for _, call := range turnCalls {
		t.Run(call.name, func(t *testing.T) {
			t.Parallel()
			h := apptest.New(t, apptest.Options{Env: config.Env{
				"HANDLER_TIMEOUT": "1500ms",
				"TWILIO_TIMEOUT":  "400ms",
			}})
			q := h.Twilio.QueueSID()
			h.Twilio.AddWorker("ann@example.com", true, nil, q)
			h.Twilio.AddWorker("bob@example.com", true, nil, q)
			conv := text(t, h, maria, "hi")
			before := len(h.Twilio.Deliveries())
			h.Twilio.HangNext(call.method, call.path(h, conv))
			text(t, h, maria, call.text)

			answered(t, since(h, before))
			h.WaitWork(t)
			turnOutcome(t, h, conv, call.text)
		})
	}
}

// TestKilledMidTurn: the function's deadline cuts a bot turn half way (a
// Twilio call hangs past it): after the reply was posted but before the
// worker was added, or the reverse. The webhook answers 200 with the work
// queued, the queue completes the turn without a second reply or worker,
// and replays of every webhook change nothing.
func TestKilledMidTurn(t *testing.T) {
	tests := []struct {
		name string
		hang string // the call cut short
	}{
		{"reply posted, worker not added", "Participants"},
		{"worker added, reply not posted", "Messages"},
	}
	for _, store := range apptest.Stores {
		for _, tt := range tests {
			t.Run(string(store)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				h := apptest.New(t, apptest.Options{Store: store, Env: config.Env{
					"HANDLER_TIMEOUT": "1s",
					"TWILIO_TIMEOUT":  "10s", // longer than the function lives
					"WORK_DELAY":      "1500ms",
				}})
				q := h.Twilio.QueueSID()
				h.Twilio.AddWorker("ann@example.com", true, nil, q)
				h.Twilio.AddWorker("bob@example.com", true, nil, q)
				conv := text(t, h, maria, "hi")
				h.WaitWork(t)
				before := len(h.Twilio.Deliveries())
				queuedBefore := len(h.Logs.Lines("conversation work left to the queue"))
				h.Twilio.HangNext(http.MethodPost, "/v1/Conversations/"+conv+"/"+tt.hang)
				text(t, h, maria, "AGENT")

				ds := since(h, before)
				answered(t, ds)
				if n := len(h.Logs.Lines("conversation work left to the queue")) - queuedBefore; n != 1 {
					t.Fatalf("%d jobs left to the queue, want 1: the hang missed the turn", n)
				}
				h.WaitWork(t)
				turnOutcome(t, h, conv, "AGENT")
				for _, d := range ds {
					h.Twilio.Redeliver(context.Background(), d) // everything once more: nothing new
				}
				h.WaitWork(t)
				turnOutcome(t, h, conv, "AGENT")
			})
		}
	}
}

// TestLateTwilio: Twilio answers a create after the client gave up on it
// (held 2.5 s, TWILIO_TIMEOUT 2 s) and carries it out all the same — the
// bot's reply, or the worker's add. The turn's attempt never sends that
// create again: it leaves the turn to its queued task, which runs after
// WORK_DELAY, reads the conversation and finds it done. The customer gets
// exactly one reply and the worker is added once, by one request.
func TestLateTwilio(t *testing.T) {
	const hold = 2500 * time.Millisecond
	for _, sub := range []string{"Messages", "Participants"} {
		t.Run(sub, func(t *testing.T) {
			t.Parallel()
			h := apptest.New(t, apptest.Options{Env: config.Env{"TWILIO_TIMEOUT": "2s"}})
			q := h.Twilio.QueueSID()
			h.Twilio.AddWorker("ann@example.com", true, nil, q)
			h.Twilio.AddWorker("bob@example.com", true, nil, q)
			conv := text(t, h, maria, "hi")
			h.WaitWork(t)
			before := len(h.Twilio.Deliveries())
			path := "/v1/Conversations/" + conv + "/" + sub
			h.Twilio.ClearRequests()
			h.Twilio.HoldNext(http.MethodPost, path, hold)
			text(t, h, maria, "AGENT")
			answered(t, since(h, before))
			h.WaitWork(t)

			turnOutcome(t, h, conv, "AGENT")
			posts := 0
			for _, r := range h.Twilio.Requests() {
				if r.Method == http.MethodPost && r.Path == path {
					posts++
				}
			}
			if posts != 1 {
				t.Errorf("%d POST %s, want 1: a create Twilio carried out late was sent again", posts, sub)
			}
			if n := len(h.Logs.Lines("conversation work left to the queue")); n != 1 {
				t.Errorf("%d jobs left to the queue, want 1: the hold missed the turn", n)
			}
		})
	}
}

// syncedStrapi returns an App whose cache holds every customer of a
// Strapi with n customers.
func syncedStrapi(t *testing.T, n int, env config.Env) *apptest.Harness {
	t.Helper()
	h := apptest.New(t, apptest.Options{StrapiVersion: 4, StrapiCustomers: n, Env: env})
	if _, err := h.App.NewSyncer(nil).Full(context.Background()); err != nil {
		t.Fatalf("sync: %v", err)
	}
	return h
}

// phoneOf returns c's SMS number.
func phoneOf(t *testing.T, c crm.Customer) string {
	t.Helper()
	for _, ch := range c.Channels {
		if ch.Type == "sms" {
			return ch.Value
		}
	}
	t.Fatalf("customer %s has no SMS number", c.ID)
	return ""
}

// crmDetails asks the crm function for a customer's details.
func crmDetails(t *testing.T, h *apptest.Harness, id string) (status int, name string) {
	t.Helper()
	rec := h.Serve("crm", h.SignedForm("crm", url.Values{
		"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {id}, "Worker": {"ann@example.com"},
	}))
	var body struct {
		Objects struct {
			Customer struct {
				DisplayName string `json:"display_name"`
			} `json:"customer"`
		} `json:"objects"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body.Objects.Customer.DisplayName
}

// TestStrapiDown: with Strapi down, cutting connections or answering
// after the handler deadline, the cache serves the crm callback and
// names new conversations; a number the cache does not know still gets
// its conversation, named by the masked number.
func TestStrapiDown(t *testing.T) {
	faults := []struct {
		name  string
		fault strapitest.Fault
	}{
		{"503", strapitest.Fault{Status: http.StatusServiceUnavailable}},
		{"connection dropped", strapitest.Fault{Drop: true}},
		{"slow", strapitest.Fault{Delay: 10 * time.Second}},
	}
	for _, ft := range faults {
		t.Run(ft.name, func(t *testing.T) {
			t.Parallel()
			const deadline = time.Second
			h := syncedStrapi(t, 4, config.Env{"HANDLER_TIMEOUT": deadline.String()})
			h.Twilio.AddWorker("ann@example.com", true, nil, h.Twilio.QueueSID())
			customers := h.Strapi.Customers()
			h.Strapi.InjectFault(ft.fault)
			h.Strapi.ResetRequests()

			for _, c := range customers {
				if status, name := crmDetails(t, h, c.ID); status != http.StatusOK || name != c.DisplayName {
					t.Errorf("crm details of %s: %d %q, want 200 %q", c.ID, status, name, c.DisplayName)
				}
				before := len(h.Twilio.Deliveries())
				conv := text(t, h, phoneOf(t, c), "hi")
				answered(t, since(h, before))
				if got, _ := h.Twilio.Conversation(conv); got.FriendlyName != c.DisplayName {
					t.Errorf("conversation of %s named %q, want %q", c.ID, got.FriendlyName, c.DisplayName)
				}
			}
			if n := h.Strapi.Requests(strapitest.RouteList) + h.Strapi.Requests(strapitest.RouteOne); n != 0 {
				t.Errorf("%d requests reached Strapi for customers in the cache", n)
			}

			// Not in the cache: Strapi is asked and fails, or is too slow.
			before := len(h.Twilio.Deliveries())
			conv := text(t, h, "+14155550123", "hi")
			// onParticipantAdded may fail (500): whether the number is a
			// customer is unknown, so the participant is left as is and
			// Twilio ignores the answer.
			answered(t, since(h, before))
			if got, _ := h.Twilio.Conversation(conv); got.FriendlyName == "" || strings.Contains(got.FriendlyName, "4155550123") {
				t.Errorf("unknown customer's conversation named %q, want the masked number", got.FriendlyName)
			}
			if got := h.Transcript(conv); len(got) != 3 {
				t.Errorf("unknown customer's conversation:\n  %s\nwant welcome, message, menu", strings.Join(got, "\n  "))
			}
		})
	}
}

// closedAddress returns a local address nothing listens on.
func closedAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestFirestoreDown points the App at a Firestore that refuses every
// connection. The crm callback falls back to Strapi (the cache read gets
// half the time left, so Strapi's answer comes before the deadline); the
// pre-event hook answers 200 and names the conversation from Strapi.
func TestFirestoreDown(t *testing.T) {
	const deadline = 2 * time.Second
	// The Firestore client reads the emulator's address from the
	// environment.
	down := closedAddress(t)
	t.Setenv(firestoretest.EnvHost, down)
	h := apptest.New(t, apptest.Options{StrapiVersion: 4, StrapiCustomers: 3, Env: config.Env{
		"HANDLER_TIMEOUT":         deadline.String(),
		"GOOGLE_CLOUD_PROJECT":    "firestore-down",
		"FIRESTORE_EMULATOR_HOST": down,
	}})
	q := h.Twilio.QueueSID()
	h.Twilio.AddWorker("ann@example.com", true, nil, q)
	h.Twilio.AddWorker("bob@example.com", true, nil, q)

	for _, c := range h.Strapi.Customers() {
		if status, name := crmDetails(t, h, c.ID); status != http.StatusOK || name != c.DisplayName {
			t.Errorf("crm details of %s: %d %q, want 200 %q", c.ID, status, name, c.DisplayName)
		}
	}
	c := h.Strapi.Customers()[0]
	before := len(h.Twilio.Deliveries())
	conv := text(t, h, phoneOf(t, c), "hi")
	answered(t, since(h, before))
	if got, _ := h.Twilio.Conversation(conv); got.FriendlyName != c.DisplayName {
		t.Errorf("conversation named %q, want %q (from Strapi)", got.FriendlyName, c.DisplayName)
	}
	// The bot: see TestFirestoreDownBotTurn.
	_ = conv
}

// TestFirestoreDownBotTurn: with Firestore unreachable the bot still
// welcomes and answers, once each: the webhooks leave their work to the
// queue (nothing can keep two attempts apart without the ledger), whose
// attempts check Twilio before each step.
func TestFirestoreDownBotTurn(t *testing.T) {
	const deadline = 2 * time.Second
	down := closedAddress(t)
	t.Setenv(firestoretest.EnvHost, down)
	h := apptest.New(t, apptest.Options{Env: config.Env{
		"HANDLER_TIMEOUT":         deadline.String(),
		"GOOGLE_CLOUD_PROJECT":    "firestore-down",
		"FIRESTORE_EMULATOR_HOST": down,
	}})
	conv := text(t, h, maria, "hi")
	ds := h.Twilio.Deliveries()
	answered(t, ds)
	for _, d := range ds {
		h.Twilio.Redeliver(context.Background(), d)
	}
	count := func() (welcomes, menus int) {
		for _, m := range h.Twilio.Messages(conv) {
			switch m.Body {
			case bot.DefaultWelcome:
				welcomes++
			case bot.Menu:
				menus++
			}
		}
		return welcomes, menus
	}
	// Not h.WaitWork: the customer's attributes need the CRM cache, so
	// that job retries until Firestore is back.
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if w, m := count(); w > 0 && m > 0 {
			break
		}
	}
	// A duplicate would come from a task due WORK_DELAY after its
	// webhook: wait that out.
	time.Sleep(config.DefaultWorkDelay + time.Second)
	welcomes, menus := count()
	if welcomes != 1 || menus != 1 {
		t.Errorf("%d welcomes and %d menus, want 1 of each:\n  %s", welcomes, menus, strings.Join(h.Transcript(conv), "\n  "))
	}
	if n := len(h.Logs.Lines("conversation work left to the queue")); n == 0 {
		t.Error("no webhook left its work to the queue, though the ledger was down")
	}
}

// TestFiftyConversations: 50 customers ask for an agent at once with 50
// workers available, and then 50 messages race in one conversation,
// through the whole App, on each store. It checks outcomes only: on a
// busy machine some webhooks' own attempts run out of their deadline, and
// the queue must then complete their work.
func TestFiftyConversations(t *testing.T) {
	const n = 50
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			t.Parallel()
			h := apptest.New(t, apptest.Options{Store: store, Twilio: burstTwilio, Env: config.Env{"WORK_DELAY": "1s"}})
			q := h.Twilio.QueueSID()
			for i := range n {
				h.Twilio.AddWorker(fmt.Sprintf("w%02d@example.com", i), true, nil, q)
			}
			convs := make([]string, n)
			burst(t, n, func(i int) string {
				res, err := h.Twilio.CustomerTexts(context.Background(), fmt.Sprintf("+1415555%04d", i), apptest.ProxyNumber, "AGENT")
				convs[i] = res.ConversationSID
				return errString(err, res)
			})
			// Some webhooks may outlast Twilio's wait on a busy machine:
			// their work is queued all the same, so only outcomes count.
			t.Logf("%s: %d of %d webhooks left their work to the queue", store,
				len(h.Logs.Lines("conversation work left to the queue")), len(h.Twilio.Deliveries()))
			h.WaitWork(t)
			taken := map[string]string{}
			for i, conv := range convs {
				ws := h.Workers(conv)
				if len(ws) != 1 || connectingReplies(h, conv) != 1 {
					t.Errorf("conversation %d: workers %v\n  %s", i, ws, strings.Join(h.Transcript(conv), "\n  "))
					for _, l := range strings.Split(h.Logs.String(), "\n") {
						if strings.Contains(l, conv) {
							t.Log(l)
						}
					}
					continue
				}
				if other, dup := taken[ws[0]]; dup {
					t.Errorf("%s added to %s and %s", ws[0], other, conv)
				}
				taken[ws[0]] = conv
			}
			t.Logf("%s: %d conversations, %d distinct workers", store, n, len(taken))

			// 50 messages at once in one new conversation.
			const from = "+33612340000"
			conv := text(t, h, from, "hello")
			texts := []string{"AGENT", "w01@example.com", "an agent please", "w02@example.com", "agent"}
			burst(t, n, func(i int) string {
				res, err := h.Twilio.CustomerTexts(context.Background(), from, apptest.ProxyNumber, texts[i%len(texts)])
				return errString(err, res)
			})
			h.WaitWork(t)
			if ws := h.Workers(conv); len(ws) != 1 {
				t.Errorf("racing messages added %v, want one worker", ws)
			}
			if connecting := connectingReplies(h, conv); connecting != 1 {
				t.Errorf("%d connecting replies, want 1:\n  %s", connecting, strings.Join(h.Transcript(conv), "\n  "))
			}
		})
	}
}

// burst runs fn(0…n-1) at once and fails the test for each non-empty
// answer.
func burst(t *testing.T, n int, fn func(i int) string) {
	t.Helper()
	errs := make([]string, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			t.Errorf("text %d: %s", i, e)
		}
	}
}

func errString(err error, res twiliotest.TextResult) string {
	switch {
	case err != nil:
		return err.Error()
	case res.Rejected:
		return "rejected by the pre-event hook"
	}
	return ""
}

// TestPromiseKeptAfterClaimExpires: the worker add that follows "connecting
// you to ann" fails unclearly (a 500, nothing added), so the turn leaves it
// to the queue; the customer writes AGENT again once the claim has expired
// and before the queued task runs. That turn keeps the promise instead of
// claiming anew: one promise, and the promised worker is the one in the
// conversation, alone.
func TestPromiseKeptAfterClaimExpires(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			t.Parallel()
			h := apptest.New(t, apptest.Options{Store: store})
			q := h.Twilio.QueueSID()
			h.Twilio.AddWorker("ann@example.com", true, nil, q)
			h.Twilio.AddWorker("bob@example.com", true, nil, q)
			conv := text(t, h, maria, "hi")
			h.WaitWork(t)
			h.Twilio.FailNext(http.MethodPost, "/v1/Conversations/"+conv+"/Participants", http.StatusInternalServerError, 0)
			text(t, h, maria, "AGENT")
			if w := h.Workers(conv); len(w) != 0 {
				t.Fatalf("workers after the failed add = %v, want none yet", w)
			}
			h.Clock.Advance(h.App.Config.HandlerTimeout + time.Second) // the claim has expired
			text(t, h, maria, "AGENT")
			h.WaitWork(t)

			var promised []string
			for _, m := range h.Twilio.Messages(conv) {
				if w := apptest.Promised(m); w != "" {
					promised = append(promised, w)
				}
			}
			if len(promised) != 1 {
				t.Fatalf("promises = %v, want exactly one", promised)
			}
			if w := h.Workers(conv); !slices.Equal(w, promised) {
				t.Errorf("workers = %v, want the promised %v alone", w, promised)
			}
		})
	}
}
