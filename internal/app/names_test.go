package app_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/config"
)

// displayNames are the Frontline display names of the test's workers.
var displayNames = map[string]string{"ann@example.com": "Ann Lee", "bob@example.com": "Bob Stone"}

var addressPattern = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)

// TestNoStaffAddressInMessages: whichever way a customer is connected —
// any agent, an expertise area, a worker asked for by e-mail (available
// or waited for), the waiting line, their advisor (available or waited
// for), their last worker — no message of the conversation, all of which
// reach the customer's phone, holds an e-mail address the customer did
// not type. The worker is named by their Frontline display name; with the
// Users API down, the customer is still connected, with a neutral
// wording.
func TestNoStaffAddressInMessages(t *testing.T) {
	tests := []struct {
		name string
		env  config.Env
		away []string // workers away at the start, back after the first act
		// play is what the customer does; it returns the conversation
		// checked.
		play func(t *testing.T, h *apptest.Harness) string
		want string // the worker the customer gets
		// unnamedOK: the reply may name the worker neutrally, as it does
		// when its instance never read the pool before the claim (a new
		// instance's first "agent" turn does not wait for the name).
		unnamedOK bool
	}{
		{name: "agent", want: "ann@example.com", play: func(t *testing.T, h *apptest.Harness) string {
			text(t, h, maria, "hi")
			return text(t, h, maria, "AGENT")
		}},
		{name: "agent, first message", want: "ann@example.com", unnamedOK: true, play: func(t *testing.T, h *apptest.Harness) string {
			return text(t, h, maria, "AGENT")
		}},
		{name: "area", want: "bob@example.com", play: func(t *testing.T, h *apptest.Harness) string {
			text(t, h, maria, "hi")
			return text(t, h, maria, "bridal please")
		}},
		{name: "named worker", want: "bob@example.com", play: func(t *testing.T, h *apptest.Harness) string {
			return text(t, h, maria, "Bob@Example.com please")
		}},
		{name: "named worker away, then back", away: []string{"bob@example.com"}, want: "bob@example.com",
			play: func(t *testing.T, h *apptest.Harness) string {
				conv := text(t, h, maria, "bob@example.com")
				back(t, h, "bob@example.com")
				return conv
			}},
		{name: "waiting line", away: []string{"ann@example.com", "bob@example.com"}, want: "bob@example.com",
			play: func(t *testing.T, h *apptest.Harness) string {
				conv := text(t, h, maria, "AGENT")
				back(t, h, "bob@example.com")
				return conv
			}},
		{name: "advisor", env: config.Env{"ROUTING_POLICY": "advisor,bot"}, want: "ann@example.com",
			play: func(t *testing.T, h *apptest.Harness) string {
				addAdvisedCustomers(t, h)
				return text(t, h, olivia, "hi")
			}},
		{name: "advisor away, waited for", env: config.Env{"ROUTING_POLICY": "advisor,bot"}, away: []string{"ann@example.com"},
			want: "ann@example.com", play: func(t *testing.T, h *apptest.Harness) string {
				addAdvisedCustomers(t, h)
				conv := text(t, h, olivia, "hi")
				text(t, h, olivia, "hmm?") // the offer again
				text(t, h, olivia, "I'll wait")
				back(t, h, "ann@example.com")
				return conv
			}},
		{name: "last worker offered, waited for", env: config.Env{"RETURNING_CUSTOMER": "offer"}, want: "bob@example.com",
			play: func(t *testing.T, h *apptest.Harness) string {
				closeConversation(t, h, text(t, h, maria, "bob@example.com"))
				conv := text(t, h, maria, "hello again")
				text(t, h, maria, "wait")
				h.WaitWork(t)
				return conv
			}},
		{name: "last worker", env: config.Env{"RETURNING_CUSTOMER": "route"}, want: "bob@example.com",
			play: func(t *testing.T, h *apptest.Harness) string {
				closeConversation(t, h, text(t, h, maria, "bob@example.com"))
				return text(t, h, maria, "hello again")
			}},
	}
	for _, tt := range tests {
		for _, outage := range []bool{false, true} {
			name := tt.name
			if outage {
				name += "/Users API down"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h := apptest.New(t, apptest.Options{Env: tt.env})
				q := h.Twilio.QueueSID()
				h.Twilio.AddWorker("ann@example.com", true, map[string]any{"expertise": []string{"watches"}, "lastAcceptedTaskTime": 1}, q)
				h.Twilio.AddWorker("bob@example.com", true, map[string]any{"expertise": []string{"bridal"}, "lastAcceptedTaskTime": 2}, q)
				for id, name := range displayNames {
					h.Twilio.SetDisplayName(id, name)
				}
				for _, id := range tt.away {
					h.Twilio.SetWorkerAvailable(id, false)
				}
				if outage {
					for range 500 { // more than the test's lookups, with their retries
						h.Twilio.FailNext(http.MethodGet, "/v1/Users/", http.StatusServiceUnavailable, 0)
					}
				}
				conv := tt.play(t, h)

				if w := h.Workers(conv); len(w) != 1 || w[0] != tt.want {
					t.Fatalf("workers = %v, want %s\n  %s", w, tt.want, strings.Join(h.Transcript(conv), "\n  "))
				}
				checkNoStaffAddress(t, h, conv)
				var connecting string
				for _, m := range h.Twilio.Messages(conv) {
					if apptest.Promised(m) == tt.want {
						connecting = m.Body
					}
				}
				switch name := displayNames[tt.want]; {
				case connecting == "":
					t.Errorf("no message promises %s:\n  %s", tt.want, strings.Join(h.Marked(conv), "\n  "))
				case !outage && !tt.unnamedOK && !strings.Contains(connecting, name):
					t.Errorf("the connecting message %q does not name %s", connecting, name)
				case outage && strings.Contains(connecting, name):
					t.Errorf("the connecting message %q names %s with the Users API down", connecting, name)
				}
				failed := 0
				for _, r := range h.Twilio.Requests() {
					if strings.HasPrefix(r.Path, "/v1/Users/") && r.Status == http.StatusServiceUnavailable {
						failed++
					}
				}
				if outage != (failed > 0) {
					t.Errorf("%d Users API requests failed, want some only with the Users API down", failed)
				}
			})
		}
	}
}

// back makes worker available again, and waits for the line's work.
func back(t *testing.T, h *apptest.Harness, worker string) {
	t.Helper()
	h.WaitWork(t)
	h.Twilio.SetWorkerAvailable(worker, true)
	h.WaitWork(t)
}

// checkNoStaffAddress fails for each bot message of conv that holds an
// e-mail address the customer did not type in it before (the menu's
// example address aside).
func checkNoStaffAddress(t *testing.T, h *apptest.Harness, conv string) {
	t.Helper()
	typed := map[string]bool{}
	for _, m := range h.Twilio.Messages(conv) {
		if m.Author != "system" {
			if !strings.Contains(m.Author, "@") { // the customer, not a worker
				for _, a := range addressPattern.FindAllString(m.Body, -1) {
					typed[strings.ToLower(a)] = true
				}
			}
			continue
		}
		for _, a := range addressPattern.FindAllString(strings.ReplaceAll(m.Body, "person@email.com", ""), -1) {
			if !typed[strings.ToLower(a)] {
				t.Errorf("bot message %d holds %s, which the customer did not type: %q", m.Index, a, m.Body)
			}
		}
	}
}
