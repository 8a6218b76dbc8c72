package conversation_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/taskqueue"
)

// The lifecycle's decisions (lifecycle.go): conversations that close,
// workers who leave, workers whose Frontline user is deactivated.

var maria = crm.Customer{ID: "1", DisplayName: "Maria", Worker: ann, Channels: []crm.Channel{{Type: "sms", Value: "+33679500001"}}}

// closeConv closes conv in the twin and tells the flow, as Twilio's
// onConversationStateUpdated does.
func (u *unit) closeConv(conv string) {
	u.t.Helper()
	u.twilio.close(conv)
	c := conversation.StateChange{Conversation: conv, From: "active", To: "closed", Reason: "TIMER"}
	if o := u.flow.StateUpdated(u.ctx(), c); o != taskqueue.Done {
		u.t.Fatalf("StateUpdated: %v", o)
	}
}

// TestClosedConversation: once a conversation closes, work still pending
// in it finds nothing to do (done, not failed), and the customer's next
// text, in a new conversation, is routed by the policy again: to the
// advisor.
func TestClosedConversation(t *testing.T) {
	u := newUnit(t, unitOptions{cfg: conversation.Config{Policy: []assign.Step{assign.Advisor, assign.Bot}}, customers: directory{maria}})
	u.twilio.addWorker(ann, true, idle(1))
	u.twilio.addWorker(bob, true, idle(2))
	first := u.open("+33679500001")
	if w := u.twilio.workersIn(first); !slices.Equal(w, []string{ann}) {
		t.Fatalf("first conversation went to %v, want the advisor", w)
	}
	u.twilio.removeWorker(first, ann)
	// The customer writes as Twilio closes the conversation: the turn
	// comes after the close.
	m := u.twilio.write(first, "AGENT")
	u.closeConv(first)
	u.advance(time.Minute)
	in := conversation.Inbound{Conversation: first, Message: m.SID, Author: m.Author, Body: m.Body}
	if o := u.flow.MessageAdded(u.ctx(), in); o != taskqueue.Done {
		t.Errorf("turn in the closed conversation: %v, want done", o)
	}
	if got := u.tail(first); len(got) != 2 || got[1] != "C: AGENT" {
		t.Errorf("closed conversation's transcript %q: want nothing after the customer's text", got)
	}
	if strings.Contains(u.logs.String(), "level=ERROR") {
		t.Errorf("closing logged an error:\n%s", u.logs)
	}
	u.advance(time.Hour)
	second := u.open("+33679500001")
	if second == first {
		t.Fatal("no new conversation")
	}
	if w := u.twilio.workersIn(second); !slices.Equal(w, []string{ann}) {
		t.Errorf("next conversation went to %v, want the advisor %s", w, ann)
	}
}

// TestClosedLeavesLine: a customer waiting in line whose conversation
// closes leaves the line; the next drain serves nobody in it.
func TestClosedLeavesLine(t *testing.T) {
	u := newUnit(t, unitOptions{})
	u.twilio.addWorker(ann, false, idle(1))
	conv := u.open("+33679500001")
	u.text(conv, "AGENT")
	if _, _, err := u.line.Position(u.ctx(), conv); err != nil {
		t.Fatalf("not in line: %v", err)
	}
	u.closeConv(conv)
	if _, _, err := u.line.Position(u.ctx(), conv); err == nil {
		t.Error("the closed conversation keeps its place in line")
	}
	u.twilio.setAvailable(ann, true)
	if err := u.flow.Drain(u.ctx()); err != nil {
		t.Fatal(err)
	}
	if w := u.twilio.workersIn(conv); len(w) != 0 {
		t.Errorf("the drain added %v to a closed conversation", w)
	}
}

// TestWorkerLeft: a worker who leaves the conversation takes their claim
// with them: the customer's next text gets the bot, and the worker the
// bot promised is not brought back.
func TestWorkerLeft(t *testing.T) {
	for _, lease := range []time.Duration{0, 24 * time.Hour} {
		t.Run("lease "+lease.String(), func(t *testing.T) {
			u := newUnit(t, unitOptions{cfg: conversation.Config{Lease: lease}})
			u.twilio.addWorker(ann, true, idle(1))
			conv := u.open("+33679500001")
			u.text(conv, "AGENT")
			u.twilio.removeWorker(conv, ann)
			left := conversation.Left{Conversation: conv, Participant: "MB1", Identity: ann}
			if o := u.flow.ParticipantRemoved(u.ctx(), left); o != taskqueue.Done {
				t.Fatalf("ParticipantRemoved: %v", o)
			}
			u.text(conv, "hello?")
			want := []string{"C: AGENT", "{connect: " + ann + "}", "C: hello?", "system: " + bot.Menu}
			if got := u.tail(conv); !slices.Equal(got, want) {
				t.Errorf("transcript %q, want %q", got, want)
			}
			if w := u.twilio.workersIn(conv); len(w) != 0 {
				t.Errorf("workers %v, want none", w)
			}
			// The customer may ask for someone again.
			u.text(conv, "AGENT")
			if w := u.twilio.workersIn(conv); !slices.Equal(w, []string{ann}) {
				t.Errorf("workers after AGENT %v, want ann", w)
			}
		})
	}
}

// TestDeactivated: a worker whose Frontline user is deactivated is
// routed to neither as advisor nor as last worker (the policy goes on)
// nor by e-mail (the customer is told, then the menu).
func TestDeactivated(t *testing.T) {
	policy := []assign.Step{assign.Advisor, assign.Last, assign.Bot}
	u := newUnit(t, unitOptions{cfg: conversation.Config{Policy: policy}, customers: directory{maria}})
	u.twilio.addWorker(ann, false, idle(1))
	u.twilio.addWorker(bob, true, idle(2))
	// Maria spoke with bob last time (her advisor was away).
	first := u.open("+33679500001")
	u.text(first, bob)
	u.twilio.close(first)
	u.advance(time.Hour)
	u.twilio.setAvailable(ann, true)
	u.twilio.deactivate(ann)

	second := u.open("+33679500001")
	if w := u.twilio.workersIn(second); !slices.Equal(w, []string{bob}) {
		t.Errorf("advisor deactivated: went to %v, want the last worker %s", w, bob)
	}
	if !strings.Contains(u.logs.String(), "advisor is deactivated") {
		t.Error("the deactivated advisor is not logged")
	}
	u.twilio.close(second)
	u.advance(time.Hour)
	u.twilio.deactivate(bob)
	third := u.open("+33679500001")
	if got, want := u.twilio.marked(third), []string{"system: " + bot.DefaultWelcome}; !slices.Equal(got, want) {
		t.Errorf("advisor and last worker deactivated: %q, want the bot's welcome", got)
	}
	u.text(third, ann)
	want := []string{"C: " + ann, "system: " + bot.NotAvailable(ann)}
	if got := u.tail(third); !slices.Equal(got, want) {
		t.Errorf("asked for a deactivated worker: %q, want %q", got, want)
	}
	if w := u.twilio.workersIn(third); len(w) != 0 {
		t.Errorf("workers %v, want none", w)
	}
}

// TestDeactivatedHandoff: the contact center cannot hand a customer to a
// deactivated worker: refused, naming them.
func TestDeactivatedHandoff(t *testing.T) {
	u := newUnit(t, unitOptions{flex: true, customers: directory{maria},
		cfg: conversation.Config{ContactCenter: conversation.ContactCenter{Proxy: func(string, string) string { return "+33100000000" }}}})
	u.twilio.addWorker(ann, true, idle(1))
	u.twilio.deactivate(ann)
	_, _, err := u.flow.HandOver(u.ctx(), conversation.HandoffRequest{ID: "h1", Customer: "1", Worker: ann})
	if !errors.Is(err, conversation.ErrNotTheirs) || !strings.Contains(err.Error(), ann) {
		t.Errorf("handoff to a deactivated worker: %v, want ErrNotTheirs naming %s", err, ann)
	}
}

// TestTimers: an inbound conversation gets its timers when its customer
// is described, an outbound one (its customer described already by
// Frontline) on its onParticipantAdded; none when they are off, and a
// closed conversation needs none.
func TestTimers(t *testing.T) {
	timers := conversation.Timers{Inactive: 7 * 24 * time.Hour, Closed: 30 * 24 * time.Hour}
	for _, tt := range []struct {
		name      string
		timers    conversation.Timers
		described bool
		closed    bool
		want      conversation.Timers
	}{
		{name: "inbound", timers: timers, want: timers},
		{name: "outbound", timers: timers, described: true, want: timers},
		{name: "off", described: true},
		{name: "closed", timers: timers, closed: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnit(t, unitOptions{cfg: conversation.Config{Timers: tt.timers}, customers: directory{maria}})
			conv := u.twilio.newConversation("+33679500001")
			if tt.closed {
				u.twilio.close(conv)
			}
			p := u.twilio.convs[conv].participants[0]
			j := conversation.Joined{Conversation: conv, Participant: p.SID, Address: p.Address, Described: tt.described}
			if o := u.flow.ParticipantAdded(u.ctx(), j); o != taskqueue.Done {
				t.Fatalf("ParticipantAdded: %v", o)
			}
			if got := u.twilio.convs[conv].timers; got != tt.want {
				t.Errorf("timers %+v, want %+v", got, tt.want)
			}
		})
	}
}
