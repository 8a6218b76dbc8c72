package app_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// Customers with an advisor (the CRM's worker field), added to the
// App's cache as a sync would.
const (
	olivia = "+33679500011" // advisor ann
	paul   = "+33679500012" // advisor ann
	quinn  = "+33679500013" // advisor gone@example.com, not a worker
)

const welcome = bot.DefaultWelcome

func addAdvisedCustomers(t *testing.T, h *apptest.Harness) {
	t.Helper()
	now := time.Now()
	err := h.App.Store.Upsert(context.Background(),
		crm.Customer{ID: "adv-1", DisplayName: "Olivia Martin", Worker: "ann@example.com", Channels: []crm.Channel{{Type: "sms", Value: olivia}}, SyncedAt: now},
		crm.Customer{ID: "adv-2", DisplayName: "Paul Durand", Worker: "ann@example.com", Channels: []crm.Channel{{Type: "sms", Value: paul}}, SyncedAt: now},
		crm.Customer{ID: "adv-3", DisplayName: "Quinn Lee", Worker: "gone@example.com", Channels: []crm.Channel{{Type: "sms", Value: quinn}}, SyncedAt: now},
	)
	if err != nil {
		t.Fatal(err)
	}
}

// wantTranscript checks the transcript, the bot's messages that promise
// or offer a worker by their marks (apptest.Marked).
func wantTranscript(t *testing.T, h *apptest.Harness, conv string, want ...string) {
	t.Helper()
	if got := h.Marked(conv); !slices.Equal(got, want) {
		t.Errorf("transcript:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func wantWorkers(t *testing.T, h *apptest.Harness, conv string, want ...string) {
	t.Helper()
	if got := h.Workers(conv); !slices.Equal(got, want) {
		t.Errorf("workers = %v, want %v", got, want)
	}
}

func closeConversation(t *testing.T, h *apptest.Harness, conv string) {
	t.Helper()
	if code := httptestRequest(t, h, "/v1/Conversations/"+conv, url.Values{"State": {"closed"}}); code != http.StatusOK {
		t.Fatalf("close %s: %d", conv, code)
	}
}

// TestAdvisorRouting: with ROUTING_POLICY=advisor,last,bot a customer
// whose CRM record names an advisor goes to them when they are
// available; when they are away the bot offers to wait for them or to
// talk to another expert, and honours the answer; an advisor who is no
// longer a worker is logged once per customer and skipped.
func TestAdvisorRouting(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			h := apptest.New(t, apptest.Options{Store: store, Env: config.Env{"ROUTING_POLICY": "advisor,last,bot"}})
			addAdvisedCustomers(t, h)
			q := h.Twilio.QueueSID()
			h.Twilio.AddWorker("ann@example.com", true, nil, q)
			h.Twilio.AddWorker("bob@example.com", true, nil, q)

			// Available: added straight away, with a word from the bot.
			conv := text(t, h, olivia, "hi")
			wantTranscript(t, h, conv,
				apptest.Connect("ann@example.com"),
				olivia+": hi")
			wantWorkers(t, h, conv, "ann@example.com")

			// Away: the offer, asked again until answered; "wait" waits.
			h.Twilio.SetWorkerAvailable("ann@example.com", false)
			conv = text(t, h, paul, "hi")
			text(t, h, paul, "I'll wait for her")
			wantTranscript(t, h, conv,
				apptest.Offer("ann@example.com"),
				paul+": hi",
				apptest.Offer("ann@example.com"),
				paul+": I'll wait for her",
				"system: "+bot.InLine(1, bot.NamedExpert, "", false)) // Paul did not type her address
			wantWorkers(t, h, conv)
			closeConversation(t, h, conv)

			// Away, "other": today's agent path (no expertise here).
			conv = text(t, h, paul, "another expert please")
			wantTranscript(t, h, conv,
				apptest.Offer("ann@example.com"),
				paul+": another expert please",
				apptest.Connect("bob@example.com"))
			wantWorkers(t, h, conv, "bob@example.com")

			// Stale: skipped (the menu), and logged once for the customer
			// however many conversations.
			for range 2 {
				conv = text(t, h, quinn, "hello")
				wantTranscript(t, h, conv, "system: "+welcome, quinn+": hello", "system: "+bot.Menu)
				closeConversation(t, h, conv)
			}
			if n := len(h.Logs.Lines("the customer's advisor is not a Frontline worker")); n != 1 {
				t.Errorf("stale advisor logged %d times, want once", n)
			}
		})
	}
}

// TestRoutingPolicyOrder: the policy's order decides between a
// customer's advisor and the worker they last spoke with;
// RETURNING_CUSTOMER=route is `last`; the default is today's bot.
func TestRoutingPolicyOrder(t *testing.T) {
	tests := []struct {
		name string
		env  config.Env
		want []string // the second conversation's workers
	}{
		{"advisor,last,bot", config.Env{"ROUTING_POLICY": "advisor,last,bot"}, []string{"ann@example.com"}},
		{"last,advisor,bot", config.Env{"ROUTING_POLICY": "last,advisor,bot"}, []string{"bob@example.com"}},
		{"last,bot", config.Env{"ROUTING_POLICY": "last,bot"}, []string{"bob@example.com"}},
		{"RETURNING_CUSTOMER=route", config.Env{"RETURNING_CUSTOMER": "route"}, []string{"bob@example.com"}},
		{"advisor with RETURNING_CUSTOMER=route", config.Env{"ROUTING_POLICY": "advisor", "RETURNING_CUSTOMER": "route"}, []string{"ann@example.com"}},
		{"default", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := apptest.New(t, apptest.Options{Env: tt.env})
			addAdvisedCustomers(t, h)
			h.Twilio.AddWorker("ann@example.com", false, nil, h.Twilio.QueueSID())
			h.Twilio.AddWorker("bob@example.com", true, nil, h.Twilio.QueueSID())
			first := text(t, h, olivia, "bob@example.com")
			wantWorkers(t, h, first, "bob@example.com")
			closeConversation(t, h, first)
			h.Twilio.SetWorkerAvailable("ann@example.com", true)
			second := text(t, h, olivia, "hello again")
			wantWorkers(t, h, second, tt.want...)
		})
	}
}

// TestExpertiseRouting: the menu lists the areas of the pool's workers,
// numbered, with EXPERTISE_AREAS's labels; a number, a label or a
// synonym goes to the longest-idle available expert of that area, and an
// area with nobody available waits. It holds when worker lists carry no
// attributes (TaskRouter's documented null).
func TestExpertiseRouting(t *testing.T) {
	for _, tt := range []struct {
		store     apptest.Store
		nullAttrs bool
	}{{apptest.InMemory, false}, {apptest.InMemory, true}, {apptest.Firestore, true}} {
		name := string(tt.store)
		if tt.nullAttrs {
			name += "/null-list-attributes"
		}
		t.Run(name, func(t *testing.T) {
			h := apptest.New(t, apptest.Options{
				Store:  tt.store,
				Twilio: twiliotest.Config{NullListAttributes: tt.nullAttrs},
				Env:    config.Env{"EXPERTISE_AREAS": "watches=Watches|montre|watch;bridal=Bridal|wedding|mariage"},
			})
			q := h.Twilio.QueueSID()
			h.Twilio.AddWorker("ann@example.com", true, map[string]any{"expertise": []string{"watches"}, "lastAcceptedTaskTime": 2}, q)
			h.Twilio.AddWorker("bob@example.com", true, map[string]any{"expertise": []string{"Bridal"}}, q)
			h.Twilio.AddWorker("chloe@example.com", true, map[string]any{"expertise": []string{"watches", "engraving"}, "lastAcceptedTaskTime": 1}, q)
			h.Twilio.AddWorker("dora@example.com", true, nil, q)
			// The areas in EXPERTISE_AREAS' order, then those workers carry.
			menu := bot.AreaMenu([]bot.Area{{Label: "Watches"}, {Label: "Bridal"}, {Label: "Engraving"}})

			conv := text(t, h, maria, "hi")
			text(t, h, maria, "2")
			wantTranscript(t, h, conv,
				"system: "+welcome, maria+": hi", "system: "+menu,
				maria+": 2", apptest.Connect("bob@example.com"))
			wantWorkers(t, h, conv, "bob@example.com")

			// A synonym in free text: chloe has been idle longest.
			conv = text(t, h, "+447491000002", "Je cherche une montre")
			wantWorkers(t, h, conv, "chloe@example.com")
			// A label: ann now, chloe having just been assigned.
			conv = text(t, h, "whatsapp:+5521989500003", "watches please")
			wantWorkers(t, h, conv, "ann@example.com")
			wantTranscript(t, h, conv,
				"system: "+welcome, "whatsapp:+5521989500003: watches please",
				apptest.Connect("ann@example.com"))

			// Nobody of the area available: the customer waits for it.
			h.Twilio.SetWorkerAvailable("bob@example.com", false)
			conv = text(t, h, "+14155550123", "wedding")
			wantTranscript(t, h, conv, "system: "+welcome, "+14155550123: wedding", "system: "+bot.InLine(1, "", bot.Areas(nil).Label("bridal"), false))
			wantWorkers(t, h, conv)
		})
	}
}

// TestMenuWithoutExpertise: without expertise in any worker's
// attributes, the menu is today's, word for word, whatever
// EXPERTISE_AREAS says, and a number is not an answer.
func TestMenuWithoutExpertise(t *testing.T) {
	h := apptest.New(t, apptest.Options{Env: config.Env{"EXPERTISE_AREAS": "watches=Watches"}})
	h.Twilio.AddWorker("ann@example.com", true, map[string]any{"lastAcceptedTaskTime": 1}, h.Twilio.QueueSID())
	conv := text(t, h, maria, "hi")
	text(t, h, maria, "1")
	text(t, h, maria, "watches")
	wantTranscript(t, h, conv,
		"system: "+welcome, maria+": hi", "system: "+bot.Menu,
		maria+": 1", "system: "+bot.Menu,
		maria+": watches", "system: "+bot.Menu)
	wantWorkers(t, h, conv)
}

// TestAdvisorRoutingDurable: a welcome cut short by Twilio's slowness is
// finished by the queue, advisor routing included: the advisor is added
// once, with the welcome that says so.
func TestAdvisorRoutingDurable(t *testing.T) {
	h := apptest.New(t, apptest.Options{Env: config.Env{
		"ROUTING_POLICY": "advisor,bot", "HANDLER_TIMEOUT": "300ms", "TWILIO_TIMEOUT": "1m", "WORK_DELAY": "3s",
	}})
	addAdvisedCustomers(t, h)
	h.Twilio.AddWorker("ann@example.com", true, nil, h.Twilio.QueueSID())
	h.Twilio.SetLatency(2 * time.Second)
	conv := text(t, h, olivia, "hi")
	if got := h.Transcript(conv); len(got) != 1 || len(h.Workers(conv)) != 0 {
		t.Errorf("posted or added past the deadline: %q, workers %v", got, h.Workers(conv))
	}
	h.Twilio.SetLatency(0)
	h.WaitWork(t)
	// The queue runs the welcome and the turn in either order: the menu
	// may answer "hi" before the advisor joins.
	n := 0
	for _, m := range h.Twilio.Messages(conv) {
		if apptest.Promised(m) == "ann@example.com" && strings.HasPrefix(m.Body, welcome) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the welcome adding the advisor was posted %d times, want once: %q", n, h.Transcript(conv))
	}
	wantWorkers(t, h, conv, "ann@example.com")
}
