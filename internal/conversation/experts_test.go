package conversation_test

import (
	"reflect"
	"testing"

	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/taskqueue"
)

// TestExperts: the contact center's panel lists the pool's areas and its
// available experts, longest idle first, by display name and areas only;
// an unavailable worker or a deactivated Frontline user is left out.
func TestExperts(t *testing.T) {
	u := newUnit(t, unitOptions{})
	u.twilio.addWorker("ann@example.com", true, idle(1), "watches")
	u.twilio.addWorker("bob@example.com", false, idle(5), "bridal")
	u.twilio.addWorker("chloe@example.com", true, idle(3), "watches", "jewellery")
	u.twilio.addWorker("dora@example.com", true, idle(2))
	u.twilio.addWorker("eve@example.com", true, idle(4), "shoes")
	u.twilio.names["ann@example.com"] = "Ann Lee"
	u.twilio.names["chloe@example.com"] = "Chloe Dubois"
	u.twilio.deactivated["eve@example.com"] = true

	got, err := u.flow.Experts(u.ctx())
	if err != nil {
		t.Fatal(err)
	}
	want := conversation.Experts{
		Areas: []string{"bridal", "jewellery", "shoes", "watches"},
		Experts: []conversation.Expert{
			{Identity: "chloe@example.com", Name: "Chloe Dubois", Areas: []string{"watches", "jewellery"}},
			{Identity: "dora@example.com", Name: "", Areas: []string{}},
			{Identity: "ann@example.com", Name: "Ann Lee", Areas: []string{"watches"}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Experts:\n got %+v\nwant %+v", got, want)
	}
}

// TestFromFlexAgent: a handoff a Flex user made records who, in the
// conversation's handoff mark, and says which expert it promised.
func TestFromFlexAgent(t *testing.T) {
	customers := directory{{ID: "1", DisplayName: "Maria", Channels: []crm.Channel{{Type: "sms", Value: "+33679500001"}}}}
	u := newUnit(t, unitOptions{flex: true, customers: customers,
		cfg: conversation.Config{ContactCenter: conversation.ContactCenter{Proxy: func(string, string) string { return "+33100000000" }}}})
	u.twilio.addWorker(ann, true, idle(1), "watches")
	conv, o, err := u.flow.HandOver(u.ctx(), conversation.HandoffRequest{ID: "WT1-1", Customer: "1", Area: "watches", Agent: "agent@flex.example.com"})
	if err != nil || o != taskqueue.Done {
		t.Fatalf("HandOver: %v, %v", o, err)
	}
	if c, _ := u.twilio.Conversation(u.ctx(), conv); c.Handoff.Agent != "agent@flex.example.com" || c.Handoff.ID != "WT1-1" {
		t.Errorf("conversation's handoff %+v, want the agent recorded", c.Handoff)
	}
	if got := u.flow.HandoffExpert(u.ctx(), conv, "WT1-1"); got != ann {
		t.Errorf("HandoffExpert = %q, want %q", got, ann)
	}
	if got := u.flow.HandoffExpert(u.ctx(), conv, "another"); got != "" {
		t.Errorf("HandoffExpert of another handoff = %q, want none", got)
	}
	// A second handoff of the customer finds their expert there: it
	// promises none, and names the one they are with.
	if _, o, err := u.flow.HandOver(u.ctx(), conversation.HandoffRequest{ID: "WT2-1", Customer: "1", Agent: "agent@flex.example.com"}); err != nil || o != taskqueue.Done {
		t.Fatalf("second HandOver: %v, %v", o, err)
	}
	if got := u.flow.HandoffExpert(u.ctx(), conv, "WT2-1"); got != ann {
		t.Errorf("HandoffExpert of the second handoff = %q, want %q (already there)", got, ann)
	}
}
