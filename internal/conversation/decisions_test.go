package conversation_test

import (
	"context"
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
	"github.com/experthub/experthub/internal/waitline"
)

// The flow's decisions, on the doubles (doubles_test.go).

const (
	ann  = "ann@example.com"
	bob  = "bob@example.com"
	carl = "carl@example.com"
)

// pool is a worker of the test's pool.
type pool struct {
	identity  string
	available bool
	idle      int // hours
	areas     []string
}

// TestTurn: what the bot answers a customer's message, and whom it brings
// in.
func TestTurn(t *testing.T) {
	tests := []struct {
		name        string
		pool        []pool
		areas       bool // EXPERTISE_AREAS set
		texts       []string
		want        []string // the transcript after the welcome (twin.marked)
		wantWorkers []string
	}{
		{name: "menu", pool: []pool{{ann, true, 1, nil}}, texts: []string{"hi"},
			want: []string{"C: hi", "system: " + bot.Menu}},
		{name: "menu of the pool's areas", areas: true, pool: []pool{{ann, true, 1, []string{"watches"}}, {bob, true, 1, []string{"bridal"}}},
			texts: []string{"hi"},
			want:  []string{"C: hi", "system: " + bot.AreaMenu(areas.Menu([]string{"bridal", "watches"}))}},
		{name: "agent: the available worker idle longest", pool: []pool{{ann, true, 1, nil}, {bob, true, 3, nil}, {carl, false, 5, nil}},
			texts: []string{"AGENT"}, want: []string{"C: AGENT", "{connect: " + bob + "}"}, wantWorkers: []string{bob}},
		{name: "a named worker", pool: []pool{{ann, true, 1, nil}, {bob, true, 3, nil}},
			texts: []string{"I'd like ANN@example.com please"}, want: []string{"C: I'd like ANN@example.com please", "{connect: " + ann + "}"},
			wantWorkers: []string{ann}},
		{name: "an e-mail that is no worker's", pool: []pool{{ann, true, 1, nil}},
			texts: []string{"zoe@example.com"}, want: []string{"C: zoe@example.com", "system: " + bot.UnknownWorker("zoe@example.com")}},
		{name: "a named worker away: in line for them", pool: []pool{{ann, false, 1, nil}, {bob, true, 1, nil}},
			texts: []string{ann}, want: []string{"C: " + ann, "{notice line-place}"}},
		{name: "an area", areas: true, pool: []pool{{ann, true, 5, []string{"watches"}}, {bob, true, 1, []string{"bridal"}}},
			texts:       []string{"hi", "bridal please"},
			want:        []string{"C: hi", "system: " + bot.AreaMenu(areas.Menu([]string{"bridal", "watches"})), "C: bridal please", "{connect: " + bob + "}"},
			wantWorkers: []string{bob}},
		{name: "nobody available: in line", pool: []pool{{ann, false, 1, nil}},
			texts: []string{"AGENT"}, want: []string{"C: AGENT", "{notice line-place}"}},
		{name: "a worker in: the bot is silent", pool: []pool{{ann, true, 1, nil}},
			texts: []string{"AGENT", "thanks", "AGENT"}, want: []string{"C: AGENT", "{connect: " + ann + "}", "C: thanks", "C: AGENT"},
			wantWorkers: []string{ann}},
		{name: "waiting: told the place again", pool: []pool{{ann, false, 1, nil}},
			texts: []string{"AGENT", "hello?"}, want: []string{"C: AGENT", "{notice line-place}", "C: hello?", "{notice line-place}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o unitOptions
			if tt.areas {
				o.cfg.Areas = areas
			}
			u := newUnit(t, o)
			for _, w := range tt.pool {
				u.twilio.addWorker(w.identity, w.available, idle(w.idle), w.areas...)
			}
			conv := u.open("+33679500001")
			for _, text := range tt.texts {
				u.text(conv, text)
			}
			if got := u.tail(conv); !slices.Equal(got, tt.want) {
				t.Errorf("transcript:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if got := u.twilio.workersIn(conv); !slices.Equal(got, tt.wantWorkers) {
				t.Errorf("workers %v, want %v", got, tt.wantWorkers)
			}
		})
	}
}

// TestWaitingLine: a customer nobody could take is served by the next
// drain once a worker is available, in arrival order, one customer per
// worker; the one served leaves the line.
func TestWaitingLine(t *testing.T) {
	u := newUnit(t, unitOptions{})
	u.twilio.addWorker(ann, false, idle(1))
	first, second := u.open("+33679500001"), u.open("+33679500002")
	u.text(first, "AGENT")
	u.text(second, "AGENT")
	if err := u.flow.Drain(u.ctx()); err != nil {
		t.Fatal(err)
	}
	if w := u.twilio.workersIn(first); len(w) != 0 {
		t.Fatalf("served %v with nobody available", w)
	}
	u.twilio.setAvailable(ann, true)
	if err := u.flow.Drain(u.ctx()); err != nil {
		t.Fatal(err)
	}
	if got, want := u.tail(first), []string{"C: AGENT", "{notice line-place}", "{connect: " + ann + "}"}; !slices.Equal(got, want) {
		t.Errorf("first customer's transcript %q, want %q", got, want)
	}
	if w := u.twilio.workersIn(second); len(w) != 0 {
		t.Errorf("the second customer got %v too: one customer per worker and drain", w)
	}
	waiting, err := u.line.Waiting(context.Background(), 10)
	if err != nil || len(waiting) != 1 || waiting[0].Conversation != second {
		t.Errorf("line %+v, %v; want the second customer alone", waiting, err)
	}
}

// TestOpenPromise: a worker the bot promised who is not in yet (the add
// failed unclearly and was left to the queue) is brought in by the next
// turn, without claiming or promising anyone again.
func TestOpenPromise(t *testing.T) {
	u := newUnit(t, unitOptions{})
	u.twilio.addWorker(ann, true, idle(5))
	u.twilio.addWorker(bob, true, idle(1))
	conv := u.open("+33679500001")
	m := u.twilio.write(conv, "bob@example.com")
	if err := u.twilio.Post(u.ctx(), conv, "system", "(connecting)", `{"in_reply_to":"`+m.SID+`","connect":"`+bob+`"}`, nil); err != nil {
		t.Fatal(err)
	}
	u.text(conv, "AGENT")
	if w := u.twilio.workersIn(conv); !slices.Equal(w, []string{bob}) {
		t.Errorf("workers %v, want the promised bob", w)
	}
	if got, want := u.tail(conv), []string{"C: bob@example.com", "{connect: " + bob + "}", "C: AGENT"}; !slices.Equal(got, want) {
		t.Errorf("transcript %q, want %q: no second promise", got, want)
	}
}

// TestWelcomePolicy: who a new conversation goes to, by the routing
// policy, the customer's advisor and the worker they last spoke with.
func TestWelcomePolicy(t *testing.T) {
	maria := crm.Customer{ID: "1", DisplayName: "Maria", Worker: ann, Channels: []crm.Channel{{Type: "sms", Value: "+33679500001"}}}
	tests := []struct {
		name      string
		policy    []assign.Step
		returning assign.Returning
		annAway   bool
		annGone   bool // no longer a Frontline worker
		before    bool // maria spoke with ann in an earlier conversation
		texts     []string
		want      []string // the transcript (twin.marked), welcome included
		workers   []string
	}{
		{name: "bot", policy: []assign.Step{assign.Bot}, want: []string{"system: " + bot.DefaultWelcome}},
		{name: "advisor available", policy: []assign.Step{assign.Advisor}, want: []string{"{connect: " + ann + "}"}, workers: []string{ann}},
		{name: "advisor away: offered", policy: []assign.Step{assign.Advisor}, annAway: true, want: []string{"{offer: " + ann + "}"}},
		// The offer stays open until answered; an e-mail, AGENT or an
		// area answer it as they answer the menu.
		{name: "offer answered by an e-mail", policy: []assign.Step{assign.Advisor}, annAway: true, texts: []string{bob},
			want: []string{"{offer: " + ann + "}", "C: " + bob, "{connect: " + bob + "}"}, workers: []string{bob}},
		{name: "offer answered by AGENT", policy: []assign.Step{assign.Advisor}, annAway: true, texts: []string{"AGENT"},
			want: []string{"{offer: " + ann + "}", "C: AGENT", "{connect: " + bob + "}"}, workers: []string{bob}},
		{name: "offer not answered", policy: []assign.Step{assign.Advisor}, annAway: true, texts: []string{"what?"},
			want: []string{"{offer: " + ann + "}", "C: what?", "{offer: " + ann + "}"}},
		{name: "returning, route", returning: assign.ReturningRoute, before: true, want: []string{"{connect: " + ann + "}"}, workers: []string{ann}},
		{name: "returning, offer", returning: assign.ReturningOffer, before: true, want: []string{"{offer: " + ann + "}"}},
		{name: "returning, off", returning: assign.ReturningOff, before: true, want: []string{"system: " + bot.DefaultWelcome}},
		{name: "returning, route, last worker gone", returning: assign.ReturningRoute, before: true, annGone: true,
			want: []string{"system: " + bot.DefaultWelcome}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnit(t, unitOptions{cfg: conversation.Config{Policy: tt.policy, Returning: tt.returning}, customers: directory{maria}})
			u.twilio.addWorker(ann, true, idle(1))
			u.twilio.addWorker(bob, true, idle(2))
			if tt.before {
				first := u.open("+33679500001")
				u.text(first, ann)
				if w := u.twilio.workersIn(first); !slices.Equal(w, []string{ann}) {
					t.Fatalf("the first conversation went to %v", w)
				}
				u.twilio.convs[first].closed = true
				u.advance(time.Hour)
			}
			u.twilio.setAvailable(ann, !tt.annAway)
			if tt.annGone {
				delete(u.twilio.workers, ann)
			}
			conv := u.open("+33679500001")
			for _, text := range tt.texts {
				u.text(conv, text)
			}
			if got := u.twilio.marked(conv); !slices.Equal(got, tt.want) {
				t.Errorf("transcript %q, want %q", got, tt.want)
			}
			if w := u.twilio.workersIn(conv); !slices.Equal(w, tt.workers) {
				t.Errorf("workers %v, want %v", w, tt.workers)
			}
		})
	}
}

// failingCRMs is a CRM that does not answer.
type failingCRMs struct{}

func (failingCRMs) CustomerByAddress(context.Context, string) (crm.Customer, error) {
	return crm.Customer{}, errors.New("firestore: unavailable")
}

// TestAdvisorWithoutCRM: a CRM that fails does not hold the welcome up:
// the advisor step is skipped (logged) and the policy goes on.
func TestAdvisorWithoutCRM(t *testing.T) {
	u := newUnit(t, unitOptions{cfg: conversation.Config{Policy: []assign.Step{assign.Advisor, assign.Bot}}, crm: failingCRMs{}})
	u.twilio.addWorker(ann, true, idle(1))
	conv := u.open("+33679500001")
	u.text(conv, "hi")
	want := []string{"system: " + bot.DefaultWelcome, "C: hi", "system: " + bot.Menu}
	if got := u.twilio.marked(conv); !slices.Equal(got, want) {
		t.Errorf("transcript %q, want %q", got, want)
	}
	if !strings.Contains(u.logs.String(), "reading the customer's advisor failed") {
		t.Error("the CRM's failure is not logged")
	}
}

// TestToFlex: a customer who asks for the contact center is handed to
// Flex: a task carrying them and the conversation, a message marked as
// the handoff; the bot is silent after it.
func TestToFlex(t *testing.T) {
	maria := crm.Customer{ID: "1", DisplayName: "Maria", Channels: []crm.Channel{{Type: "sms", Value: "+33679500001"}}}
	u := newUnit(t, unitOptions{flex: true, customers: directory{maria},
		cfg: conversation.Config{ContactCenter: conversation.ContactCenter{Keywords: []string{"human"}}}})
	u.twilio.addWorker(ann, true, idle(1))
	conv := u.open("+33679500001")
	u.text(conv, "a human please")
	u.text(conv, "AGENT")
	if got, want := u.tail(conv), []string{"C: a human please", "{handoff flex}", "C: AGENT"}; !slices.Equal(got, want) {
		t.Errorf("transcript %q, want %q", got, want)
	}
	task, ok := u.twilio.tasks[conv]
	if !ok || task.CustomerID != "1" || task.Name != "Maria" || !strings.Contains(task.Transcript, "customer: a human please") {
		t.Errorf("Flex task %+v (created %v)", task, ok)
	}
	if c, _ := u.twilio.Conversation(u.ctx(), conv); c.Handoff.To != "flex" || c.Handoff.TaskSID == "" {
		t.Errorf("conversation's handoff %+v, want to flex with the task", c.Handoff)
	}
	if w := u.twilio.workersIn(conv); len(w) != 0 {
		t.Errorf("workers %v: Flex has the customer", w)
	}
}

// TestFromFlex: the contact center hands a customer over: their
// conversation opened, the context noted where only workers see it, the
// expert promised and added, the conversation marked; a retry does
// nothing twice, and the handoff id stays bound to its customer.
func TestFromFlex(t *testing.T) {
	customers := directory{
		{ID: "1", DisplayName: "Maria", Channels: []crm.Channel{{Type: "sms", Value: "+33679500001"}}},
		{ID: "2", DisplayName: "Jo", Channels: []crm.Channel{{Type: "sms", Value: "+447491000002"}}},
	}
	u := newUnit(t, unitOptions{flex: true, customers: customers,
		cfg: conversation.Config{ContactCenter: conversation.ContactCenter{Proxy: func(string, string) string { return "+33100000000" }}}})
	u.twilio.addWorker(ann, true, idle(1))
	req := conversation.HandoffRequest{ID: "h1", Customer: "1", Worker: ann, Summary: "wants a watch strap"}
	var convs []string
	for range 2 {
		conv, o, err := u.flow.HandOver(u.ctx(), req)
		if err != nil || o != taskqueue.Done {
			t.Fatalf("HandOver: %v, %v", o, err)
		}
		convs = append(convs, conv)
	}
	conv := convs[0]
	if convs[1] != conv {
		t.Errorf("a retry opened %s, then %s", conv, convs[1])
	}
	if got, want := u.twilio.marked(conv), []string{"{connect: " + ann + "}"}; !slices.Equal(got, want) {
		t.Errorf("transcript %q, want %q", got, want)
	}
	if w := u.twilio.workersIn(conv); !slices.Equal(w, []string{ann}) {
		t.Errorf("workers %v, want ann", w)
	}
	notes, err := u.handoffs.Notes(context.Background(), "1")
	if err != nil || len(notes) != 1 || !strings.Contains(notes[0].Text, "wants a watch strap") {
		t.Errorf("notes %+v, %v: want the summary, once", notes, err)
	}
	if c, _ := u.twilio.Conversation(u.ctx(), conv); c.Handoff.From != "flex" || c.Handoff.ID != "h1" {
		t.Errorf("conversation's handoff %+v, want from flex, h1", c.Handoff)
	}
	_, _, err = u.flow.HandOver(u.ctx(), conversation.HandoffRequest{ID: "h1", Customer: "2"})
	if !errors.Is(err, conversation.ErrHandoffTaken) {
		t.Errorf("handoff id of customer 1 for customer 2: %v, want ErrHandoffTaken", err)
	}
	_, _, err = u.flow.HandOver(u.ctx(), conversation.HandoffRequest{ID: "h2", Customer: "9"})
	if !errors.Is(err, conversation.ErrUnknownCustomer) {
		t.Errorf("unknown customer: %v", err)
	}
	_, _, err = u.flow.HandOver(u.ctx(), conversation.HandoffRequest{ID: "h3", Customer: "1", Address: "+447491000002"})
	if !errors.Is(err, conversation.ErrNotTheirs) {
		t.Errorf("another customer's address: %v", err)
	}
}

// TestFlexEnds: the Flex task of a conversation the bot handed over
// ends. Completed: the customer gets the closing message once and the
// conversation is closed. Canceled, or deleted before an agent took it:
// the customer is told once and the bot answers them again. However many
// events and sweeps report it.
func TestFlexEnds(t *testing.T) {
	const closing = "Bye for now."
	tests := []struct {
		name string
		// end moves the task as Flex would, before the events and sweeps.
		end []string
		// event is the type of the events reporting it; "": the sweep
		// alone finds it.
		event, status string
		wantClosed    bool
		wantTail      []string
	}{
		{name: "completed", end: []string{"assigned", "wrapping", "completed"}, event: "task.completed", status: "completed",
			wantClosed: true, wantTail: []string{"{handoff flex-ended}"}},
		{name: "completed, sweep only", end: []string{"assigned", "completed"},
			wantClosed: true, wantTail: []string{"{handoff flex-ended}"}},
		{name: "canceled", end: []string{"canceled"}, event: "task.canceled", status: "canceled",
			wantTail: []string{"{handoff flex-ended}", "C: AGENT", "{connect: " + ann + "}"}},
		{name: "canceled, sweep only", end: []string{"reserved", "canceled"},
			wantTail: []string{"{handoff flex-ended}", "C: AGENT", "{connect: " + ann + "}"}},
		{name: "deleted while pending", end: []string{"deleted"}, event: "task.deleted", status: "pending",
			wantTail: []string{"{handoff flex-ended}", "C: AGENT", "{connect: " + ann + "}"}},
		{name: "deleted after an agent took it", end: []string{"assigned", "deleted"}, event: "task.deleted", status: "assigned",
			wantClosed: true, wantTail: []string{"{handoff flex-ended}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnit(t, unitOptions{flex: true,
				cfg: conversation.Config{ContactCenter: conversation.ContactCenter{Keywords: []string{"human"}, Closing: closing}}})
			u.twilio.addWorker(ann, true, idle(1))
			conv := u.open("+33679500001")
			u.text(conv, "a human please")
			c, _ := u.twilio.Conversation(u.ctx(), conv)
			task := c.Handoff.TaskSID
			// A place in line left from before the handoff (the line
			// drained by hand, say).
			if _, err := u.line.Join(u.ctx(), waitline.Entry{Conversation: conv, Target: waitline.Target{}, JoinedAt: u.now()}); err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.end {
				u.twilio.setTask(task, s)
				if err := u.flow.ReconcileFlex(u.ctx()); err != nil { // a sweep between the moves
					t.Fatal(err)
				}
			}
			for range 3 {
				if tt.event != "" {
					o := u.flow.OnFlexEvent(u.ctx(), conversation.FlexEvent{Trigger: "EV" + tt.event, Type: tt.event, Task: task, Conversation: conv, Status: tt.status})
					if o != taskqueue.Queued {
						t.Fatalf("event: %v, want queued", o)
					}
					u.queue.deliver(t, u.ctx(), u.flow)
				}
				if err := u.flow.ReconcileFlex(u.ctx()); err != nil {
					t.Fatal(err)
				}
			}
			if got := u.twilio.closed(conv); got != tt.wantClosed {
				t.Errorf("closed %v, want %v", got, tt.wantClosed)
			}
			// Closed through REST, which fires no onConversationStateUpdated:
			// the flow ends what binds the conversation itself.
			if _, _, err := u.line.Position(u.ctx(), conv); tt.wantClosed && err == nil {
				t.Error("the conversation closed after Flex keeps its place in line")
			}
			if !tt.wantClosed {
				u.text(conv, "AGENT")
				if c, _ := u.twilio.Conversation(u.ctx(), conv); c.Handoff.To != "" {
					t.Errorf("handoff mark %+v, want cleared", c.Handoff)
				}
			}
			want := append([]string{"C: a human please", "{handoff flex}"}, tt.wantTail...)
			if got := u.tail(conv); !slices.Equal(got, want) {
				t.Errorf("transcript %q, want %q", got, want)
			}
			if open, _ := u.handoffs.Tracked(u.ctx(), 0); len(open) != 0 {
				t.Errorf("still tracked: %+v", open)
			}
		})
	}
}

// TestFlexEndsWithoutClosing: with no closing message the completed
// task's conversation is closed silently; a task still in an agent's
// hands leaves the conversation alone.
func TestFlexEndsWithoutClosing(t *testing.T) {
	u := newUnit(t, unitOptions{flex: true, cfg: conversation.Config{ContactCenter: conversation.ContactCenter{Keywords: []string{"human"}}}})
	conv := u.open("+33679500001")
	u.text(conv, "a human please")
	c, _ := u.twilio.Conversation(u.ctx(), conv)
	u.twilio.setTask(c.Handoff.TaskSID, "assigned")
	ev := conversation.FlexEvent{Trigger: "EV1", Type: "task.completed", Task: c.Handoff.TaskSID, Conversation: conv, Status: "completed"}
	u.flow.OnFlexEvent(u.ctx(), ev) // early: Twilio still shows it assigned
	u.queue.deliver(t, u.ctx(), u.flow)
	if u.twilio.closed(conv) {
		t.Fatal("closed while an agent holds the task")
	}
	u.twilio.setTask(c.Handoff.TaskSID, "completed")
	u.flow.OnFlexEvent(u.ctx(), ev)
	u.queue.deliver(t, u.ctx(), u.flow)
	if !u.twilio.closed(conv) {
		t.Error("not closed once the task is completed")
	}
	if got, want := u.tail(conv), []string{"C: a human please", "{handoff flex}"}; !slices.Equal(got, want) {
		t.Errorf("transcript %q, want %q", got, want)
	}
}

// TestFlexEndsWithAWorker: a Frontline worker joined the conversation
// handed to Flex: when the task ends the worker keeps the customer — no
// message, no close — and the handoff mark is cleared.
func TestFlexEndsWithAWorker(t *testing.T) {
	for _, end := range []string{"completed", "canceled"} {
		u := newUnit(t, unitOptions{flex: true, cfg: conversation.Config{ContactCenter: conversation.ContactCenter{Keywords: []string{"human"}, Closing: "Bye"}}})
		conv := u.open("+33679500001")
		u.text(conv, "a human please")
		if err := u.twilio.AddWorker(u.ctx(), conv, ann); err != nil {
			t.Fatal(err)
		}
		c, _ := u.twilio.Conversation(u.ctx(), conv)
		u.twilio.setTask(c.Handoff.TaskSID, end)
		if err := u.flow.ReconcileFlex(u.ctx()); err != nil {
			t.Fatal(err)
		}
		if got, want := u.tail(conv), []string{"C: a human please", "{handoff flex}"}; !slices.Equal(got, want) || u.twilio.closed(conv) {
			t.Errorf("%s: transcript %q (closed %v), want %q, open", end, got, u.twilio.closed(conv), want)
		}
		if c, _ := u.twilio.Conversation(u.ctx(), conv); c.Handoff.To != "" {
			t.Errorf("%s: handoff mark %+v, want cleared", end, c.Handoff)
		}
	}
}
