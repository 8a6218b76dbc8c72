package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// The conversation lifecycle end to end: Twilio closes conversations and
// workers leave them (onConversationStateUpdated, onParticipantRemoved),
// Frontline users are deactivated.

func lifecycleCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestConversationClosed: once Twilio closes a conversation, a turn
// still queued for it finishes with nothing to do (no dead letter, no
// error), and the customer's next text starts a new conversation routed
// by the policy: to their advisor.
func TestConversationClosed(t *testing.T) {
	t.Parallel()
	h := apptest.New(t, apptest.Options{Store: apptest.Firestore, CloudTasks: true,
		Env: config.Env{"ROUTING_POLICY": "advisor,last,bot", "WORK_DELAY": "500ms"}})
	addAdvisedCustomers(t, h)
	q := h.Twilio.QueueSID()
	h.Twilio.AddWorker("ann@example.com", false, nil, q)
	h.Twilio.AddWorker("bob@example.com", true, nil, q)

	conv := text(t, h, olivia, "hi") // ann is away: offered
	h.WaitWork(t)
	// The turn's own attempt fails: it is left to the queue, which comes
	// after the close.
	h.Twilio.SetOutage(http.StatusServiceUnavailable)
	text(t, h, olivia, "AGENT")
	h.Twilio.SetOutage(0)
	if err := h.Twilio.CloseConversation(lifecycleCtx(t), conv); err != nil {
		t.Fatal(err)
	}
	h.WaitWork(t)
	wantTranscript(t, h, conv, apptest.Offer("ann@example.com"), olivia+": hi", apptest.Offer("ann@example.com"), olivia+": AGENT")
	wantWorkers(t, h, conv)
	if n := len(h.Logs.Lines("dead-lettered")); n != 0 {
		t.Errorf("%d dead letters for work in a closed conversation", n)
	}
	if n := len(h.Logs.Lines("the conversation is closed: nothing left to do")); n == 0 {
		t.Error("the queued turn did not find the conversation closed")
	}

	h.Twilio.SetWorkerAvailable("ann@example.com", true)
	next := text(t, h, olivia, "hello again")
	if next == conv {
		t.Fatal("the text after the close went to the closed conversation")
	}
	wantWorkers(t, h, next, "ann@example.com")
}

// TestWorkerLeaves: a worker who leaves the conversation (from the
// Frontline app) releases it: the customer's next text gets the bot, and
// the worker is not brought back.
func TestWorkerLeaves(t *testing.T) {
	t.Parallel()
	h := apptest.New(t, apptest.Options{Store: apptest.Firestore})
	h.Twilio.AddWorker("ann@example.com", true, nil, h.Twilio.QueueSID())
	conv := text(t, h, maria, "AGENT")
	wantWorkers(t, h, conv, "ann@example.com")
	if err := h.Twilio.RemoveParticipant(lifecycleCtx(t), conv, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	text(t, h, maria, "hello?")
	h.WaitWork(t)
	wantTranscript(t, h, conv,
		"system: "+welcome, maria+": AGENT", apptest.Connect("ann@example.com"),
		maria+": hello?", "system: "+bot.Menu)
	wantWorkers(t, h, conv)
}

// TestDeactivatedWorkers: a worker whose Frontline user is deactivated
// gets no customer: the advisor step goes on to the last worker, then
// the bot; a customer asking for them by e-mail is told, then shown the
// menu.
func TestDeactivatedWorkers(t *testing.T) {
	t.Parallel()
	h := apptest.New(t, apptest.Options{Store: apptest.Firestore, Env: config.Env{"ROUTING_POLICY": "advisor,last,bot"}})
	addAdvisedCustomers(t, h)
	q := h.Twilio.QueueSID()
	h.Twilio.AddWorker("ann@example.com", false, nil, q)
	h.Twilio.AddWorker("bob@example.com", true, nil, q)
	ctx := lifecycleCtx(t)

	// Olivia's advisor is away: she takes bob.
	conv := text(t, h, olivia, "hi")
	text(t, h, olivia, "bob@example.com")
	wantWorkers(t, h, conv, "bob@example.com")
	if err := h.Twilio.CloseConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	h.Twilio.SetWorkerAvailable("ann@example.com", true)
	h.Twilio.SetUserActive("ann@example.com", false)
	h.Clock.Advance(time.Hour) // past the cached Frontline state

	conv = text(t, h, olivia, "hi")
	wantWorkers(t, h, conv, "bob@example.com")
	if err := h.Twilio.CloseConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	h.Twilio.SetUserActive("bob@example.com", false)
	h.Clock.Advance(time.Hour)

	conv = text(t, h, olivia, "hi")
	text(t, h, olivia, "ann@example.com")
	wantTranscript(t, h, conv,
		"system: "+welcome, olivia+": hi", "system: "+bot.Menu,
		olivia+": ann@example.com", "system: "+bot.NotAvailable("ann@example.com"))
	wantWorkers(t, h, conv)
}

// TestConversationTimers: an inbound conversation gets the timers of
// CONVERSATION_INACTIVE_AFTER and CONVERSATION_CLOSE_AFTER (here the
// defaults), and closes when they run out; `off` sets none.
func TestConversationTimers(t *testing.T) {
	t.Parallel()
	h := apptest.New(t, apptest.Options{})
	conv := text(t, h, maria, "hi")
	h.WaitWork(t)
	c, _ := h.Twilio.Conversation(conv)
	if c.Timers != (twiliotest.Timers{Inactive: "P7D", Closed: "P30D"}) {
		t.Errorf("timers %+v, want 7 and 30 days", c.Timers)
	}
	if err := h.Twilio.ExpireTimers(lifecycleCtx(t), time.Now().Add(31*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if next := text(t, h, maria, "hi again"); next == conv {
		t.Error("the text after the timer went to the closed conversation")
	}

	off := apptest.New(t, apptest.Options{Env: config.Env{"CONVERSATION_INACTIVE_AFTER": "off", "CONVERSATION_CLOSE_AFTER": "off"}})
	conv = text(t, off, maria, "hi")
	off.WaitWork(t)
	if c, _ := off.Twilio.Conversation(conv); c.Timers != (twiliotest.Timers{}) {
		t.Errorf("timers off: %+v", c.Timers)
	}
}
