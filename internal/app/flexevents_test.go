package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
	"github.com/experthub/experthub/internal/webhook"
)

// toFlex plays maria asking for the contact center, with the Flex
// workspace's event callback on flex-events unless callback is false, and
// returns her conversation and its Flex task.
func toFlex(t *testing.T, h *apptest.Harness, callback bool) (conv, task string) {
	t.Helper()
	if callback {
		h.Flex.SetEventCallback(h.URL(function.FlexEvents))
	}
	conv = text(t, h, maria, "support please")
	tasks := h.Flex.Tasks()
	if len(tasks) != 1 {
		t.Fatalf("Flex tasks = %d, want 1", len(tasks))
	}
	return conv, tasks[0].SID
}

// endedMarks returns the bot's messages of conv that end the handoff to
// Flex (marked {"in_reply_to": task, "handoff": "flex-ended"}).
func endedMarks(h *apptest.Harness, conv, task string) int {
	n := 0
	for _, m := range h.Twilio.Messages(conv) {
		var mk struct {
			InReplyTo string `json:"in_reply_to"`
			Handoff   string
		}
		if json.Unmarshal([]byte(m.Attributes), &mk) == nil && m.Author == "system" && mk.InReplyTo == task && mk.Handoff == "flex-ended" {
			n++
		}
	}
	return n
}

// replayFlex redelivers every Flex event n times, sweeps, and fails on
// any answer but 204.
func replayFlex(t *testing.T, h *apptest.Harness, n int) {
	t.Helper()
	for range n {
		for _, d := range h.Flex.Deliveries() {
			if d.Target == twiliotest.TargetEvents && !d.Redelivery {
				if got := h.Flex.Redeliver(t.Context(), d); got.Status != http.StatusNoContent {
					t.Errorf("redelivered %s: %d %s", d.EventType, got.Status, got.Body)
				}
			}
		}
		if s := h.Sweep(t); s != http.StatusNoContent {
			t.Errorf("sweep: %d", s)
		}
	}
	h.WaitWork(t)
}

// TestFlexTaskCompleted: the Flex task completed, the customer gets the
// closing message once and the Frontline conversation is closed, however
// often the events come and the sweep runs; their next message starts a
// new conversation with the bot.
func TestFlexTaskCompleted(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			h := flexHarness(t, store, nil)
			conv, task := toFlex(t, h, true)
			h.Flex.SetTaskStatus(task, "assigned", "")
			h.Flex.SetTaskStatus(task, "wrapping", "")
			h.WaitWork(t)
			if c, _ := h.Twilio.Conversation(conv); c.State == "closed" {
				t.Fatal("closed while the agent wraps up")
			}
			h.Flex.SetTaskStatus(task, "completed", "resolved")
			h.WaitWork(t)
			replayFlex(t, h, 3)
			if c, _ := h.Twilio.Conversation(conv); c.State != "closed" {
				t.Errorf("conversation state %q, want closed", c.State)
			}
			if n := endedMarks(h, conv, task); n != 1 {
				t.Errorf("closing messages = %d, want 1: %q", n, h.Transcript(conv))
			}
			next := text(t, h, maria, "hello again")
			if next == conv {
				t.Fatal("the next message went to the closed conversation")
			}
			if got := h.Transcript(next); len(got) < 2 || got[len(got)-1] == "customer: hello again" {
				t.Errorf("the bot did not answer in the new conversation: %q", got)
			}
		})
	}
}

// TestFlexTaskCanceled: a task canceled or deleted before an agent took
// it gives the customer back to the bot: one message, the handoff mark
// cleared, and the bot answers them again. Events are replayed, sweeps
// run: one message.
func TestFlexTaskCanceled(t *testing.T) {
	tests := []struct {
		name     string
		callback bool
		end      func(h *apptest.Harness, task string)
	}{
		{"canceled", true, func(h *apptest.Harness, task string) { h.Flex.SetTaskStatus(task, "canceled", "Task TTL Exceeded") }},
		{"deleted", true, func(h *apptest.Harness, task string) { h.Flex.DeleteTask(task) }},
		{"canceled, sweep only", false, func(h *apptest.Harness, task string) { h.Flex.SetTaskStatus(task, "canceled", "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := flexHarness(t, apptest.InMemory, nil)
			conv, task := toFlex(t, h, tt.callback)
			tt.end(h, task)
			h.WaitWork(t)
			replayFlex(t, h, 3)
			if n := endedMarks(h, conv, task); n != 1 {
				t.Errorf("messages telling the customer = %d, want 1: %q", n, h.Transcript(conv))
			}
			c, _ := h.Twilio.Conversation(conv)
			if c.State == "closed" {
				t.Error("conversation closed, want it open for the bot")
			}
			var attrs struct{ Handoff struct{ To string } }
			if err := json.Unmarshal([]byte(c.Attributes), &attrs); err != nil || attrs.Handoff.To != "" {
				t.Errorf("handoff mark %s not cleared (%v)", c.Attributes, err)
			}
			text(t, h, maria, "ann@example.com")
			h.WaitWork(t)
			if w := h.Workers(conv); !slices.Equal(w, []string{"ann@example.com"}) {
				t.Errorf("workers %v: the bot did not route the customer again: %q", w, h.Transcript(conv))
			}
		})
	}
}

// TestFlexEventsRefused: flex-events takes only the Flex account's
// signature, refuses malformed events with 400, ignores what is not
// Expert Hub's with 204, and never answers 5xx.
func TestFlexEventsRefused(t *testing.T) {
	h := flexHarness(t, apptest.InMemory, nil)
	good := url.Values{"EventType": {"task.completed"}, "Sid": {"EV00000000000000000000000000000001"},
		"TaskSid": {"WT00000000000000000000000000000001"}, "TaskAttributes": {`{"frontline_conversation_sid":"CH00000000000000000000000000000001"}`}}
	with := func(k, v string) url.Values {
		p := url.Values{}
		for key, vs := range good {
			p[key] = slices.Clone(vs)
		}
		p.Set(k, v)
		return p
	}
	tests := []struct {
		name   string
		params url.Values
		token  string
		want   int
	}{
		{"the Frontline account's signature", good, h.Config.TwilioAuthToken, http.StatusForbidden},
		{"unsigned", good, "", http.StatusForbidden},
		{"no EventType", with("EventType", ""), apptest.FlexAuthToken, http.StatusBadRequest},
		{"bad TaskSid", with("TaskSid", "nope"), apptest.FlexAuthToken, http.StatusBadRequest},
		{"attributes not JSON", with("TaskAttributes", "{"), apptest.FlexAuthToken, http.StatusBadRequest},
		{"bad conversation", with("TaskAttributes", `{"frontline_conversation_sid":"x"}`), apptest.FlexAuthToken, http.StatusBadRequest},
		{"another system's task", with("TaskAttributes", `{"type":"inbound"}`), apptest.FlexAuthToken, http.StatusNoContent},
		{"another event", with("EventType", "worker.activity.update"), apptest.FlexAuthToken, http.StatusNoContent},
		{"an unknown conversation", good, apptest.FlexAuthToken, http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{}
			if tt.token != "" {
				header.Set("X-Twilio-Signature", twiliotest.Sign(tt.token, h.URL(function.FlexEvents), tt.params))
			}
			status, body, err := apptest.PostForm(h.URL(function.FlexEvents), tt.params, header)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.want {
				t.Errorf("status %d %s, want %d", status, body, tt.want)
			}
		})
	}
	// Signed, but not a form TaskRouter sends.
	for _, tt := range []struct {
		name, contentType, body string
		want                    int
	}{
		{"oversized", "application/x-www-form-urlencoded", "TaskAttributes=" + strings.Repeat("x", webhook.MaxBody), http.StatusRequestEntityTooLarge},
		{"text/plain", "text/plain", good.Encode(), http.StatusUnsupportedMediaType},
		{"JSON", "application/json", `{"EventType":"task.completed"}`, http.StatusUnsupportedMediaType},
	} {
		params, _ := url.ParseQuery(tt.body)
		if tt.contentType != "application/x-www-form-urlencoded" {
			params = good
		}
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
		r.Header.Set("Content-Type", tt.contentType)
		r.Header.Set("X-Twilio-Signature", twiliotest.Sign(apptest.FlexAuthToken, h.URL(function.FlexEvents), params))
		if rec := h.Serve(function.FlexEvents, r); rec.Code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, rec.Code, rec.Body, tt.want)
		}
	}
	h.WaitWork(t)
}

// TestFlexEventsWithoutContactCenter: without Flex settings every caller
// is refused.
func TestFlexEventsWithoutContactCenter(t *testing.T) {
	h := apptest.New(t, apptest.Options{Env: config.Env{}})
	p := url.Values{"EventType": {"task.completed"}}
	status, _, err := apptest.PostForm(h.URL(function.FlexEvents), p, http.Header{"X-Twilio-Signature": {twiliotest.Sign(h.Config.TwilioAuthToken, h.URL(function.FlexEvents), p)}})
	if err != nil || status != http.StatusForbidden {
		t.Errorf("status %d (%v), want 403", status, err)
	}
}

// TestHandoffWhatsAppWindow: a handoff to a WhatsApp customer who has
// not written for 24 hours opens with the approved template, filled in
// for them; without one it is refused (422) and nothing is created.
// Within the window the usual message goes.
func TestHandoffWhatsAppWindow(t *testing.T) {
	approved := crm.Template{ID: "t1", Category: "Openers", Content: "Hello {{customer.first_name}}, {{worker.identity}} here: may we continue?", WhatsAppApproved: true}
	plain := crm.Template{ID: "t0", Category: "Openers", Content: "Hi {{customer.first_name}}", Order: -1}
	const contentSID = "HX0123456789abcdef0123456789abcdef"
	content := config.Env{"HANDOFF_WHATSAPP_CONTENT_SID": contentSID,
		"HANDOFF_WHATSAPP_CONTENT_VARIABLES": `{"1": "{{customer.first_name}}", "2": "{{customer.id}}"}`}
	tests := []struct {
		name      string
		env       config.Env
		templates []crm.Template
		wrote     time.Duration // how long ago the customer last wrote; 0: never
		status    int
		opener    string // the customer's one message; "": the handoff message
		// variables are the Content API template's, when the message is
		// HANDOFF_WHATSAPP_CONTENT_SID.
		variables string
	}{
		{name: "never wrote, a template", templates: []crm.Template{plain, approved}, status: http.StatusOK, opener: "Hello Susan,  here: may we continue?"},
		{name: "never wrote, no approved template", templates: []crm.Template{plain}, status: http.StatusUnprocessableEntity},
		{name: "wrote 25 hours ago, no template", wrote: 25 * time.Hour, status: http.StatusUnprocessableEntity},
		{name: "wrote 23 hours ago", wrote: 23 * time.Hour, status: http.StatusOK},
		{name: "never wrote, a Content API template", env: content, templates: []crm.Template{approved}, status: http.StatusOK,
			variables: `{"1":"Susan","2":"3"}`},
		{name: "wrote 23 hours ago, a Content API template", env: content, wrote: 23 * time.Hour, status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := flexHarness(t, apptest.InMemory, tt.env)
			if err := h.App.Templates.PutTemplates(t.Context(), tt.templates...); err != nil {
				t.Fatal(err)
			}
			if tt.wrote > 0 {
				text(t, h, susan, "hello")
				h.WaitWork(t)
				h.Clock.Advance(tt.wrote)
			}
			before := len(h.Twilio.Conversations())
			status, ans, body := handoff(t, h, url.Values{"handoff_id": {"flex-wa"}, "customer_id": {"3"}, "worker": {"ann@example.com"}})
			if status != tt.status {
				t.Fatalf("handoff = %d %s, want %d", status, body, tt.status)
			}
			if status != http.StatusOK {
				if !strings.Contains(body, "24 hours") || len(h.Twilio.Conversations()) != before {
					t.Errorf("refusal %s; %d conversations, want %d", body, len(h.Twilio.Conversations()), before)
				}
				return
			}
			var got []twiliotest.Message
			for _, m := range h.Twilio.Messages(ans.Conversation) {
				if strings.Contains(m.Attributes, `"in_reply_to":"handoff:flex-wa"`) {
					got = append(got, m)
				}
			}
			if len(got) != 1 {
				t.Fatalf("customer got %d messages, want 1: %+v", len(got), got)
			}
			if m := got[0]; tt.variables != "" {
				if m.ContentSID != contentSID || m.ContentVariables != tt.variables || m.Body != "" {
					t.Errorf("customer got %+v, want the Content API template %s with %s", m, contentSID, tt.variables)
				}
				return
			}
			want := tt.opener
			if want == "" {
				want = bot.HandoffMessage("", "")
			}
			if m := got[0]; m.ContentSID != "" || (tt.opener != "" && m.Body != want) || (tt.opener == "" && strings.Contains(m.Body, "{{")) {
				t.Errorf("customer told %+v, want %q", m, want)
			}
		})
	}
}
