package twilio_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

const (
	flexSID   = "ACf1e0000000000000000000000000f1e0"
	flexToken = "f1e0a0000000000000000000000f1e0a"
)

// TestTwoAccounts: the Frontline and the Flex accounts share the fake's
// URL but not their credentials nor their data.
func TestTwoAccounts(t *testing.T) {
	s, frontline := newFake(t, twiliotest.Config{})
	flexAcc := s.AddAccount(twiliotest.AccountConfig{AccountSID: flexSID, AuthToken: flexToken})
	flex := twilio.New(twilio.Config{AccountSID: flexSID, AuthToken: flexToken, BaseURL: s.URL})
	ctx := ctxTimeout(t, 10*time.Second)

	conv := flexAcc.AddConversation("flex side", "")
	if _, err := flex.FetchConversation(ctx, conv); err != nil {
		t.Errorf("the Flex account cannot read its conversation: %v", err)
	}
	if _, err := frontline.FetchConversation(ctx, conv); !errors.Is(err, twilio.ErrNotFound) {
		t.Errorf("the Frontline account reads the Flex account's conversation: %v", err)
	}
	mixed := twilio.New(twilio.Config{AccountSID: flexSID, AuthToken: s.AuthToken(), BaseURL: s.URL})
	if _, err := mixed.FetchConversation(ctx, conv); err == nil || restError(t, err).Status != http.StatusUnauthorized {
		t.Errorf("the Flex SID with the Frontline token: %v, want 401", err)
	}

	// Tasks: created in the Flex workspace, found by an attribute.
	task, err := flex.CreateTask(ctx, flexAcc.WorkspaceSID(), flexAcc.WorkflowSID(), "chat", `{"frontline_conversation_sid":"CH1"}`, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		expr string
		want int
	}{
		{`frontline_conversation_sid == "CH1"`, 1},
		{`frontline_conversation_sid == ` + twilio.QuoteExpression(`CH2"`), 0},
	} {
		got, err := flex.FindTasks(ctx, flexAcc.WorkspaceSID(), tt.expr)
		if err != nil || len(got) != tt.want || tt.want == 1 && (got[0].SID != task.SID || !got[0].Open()) {
			t.Errorf("FindTasks(%s) = %+v, %v; want %d", tt.expr, got, err, tt.want)
		}
	}
	if _, err := frontline.FindTasks(ctx, flexAcc.WorkspaceSID(), `a == "b"`); !errors.Is(err, twilio.ErrNotFound) {
		t.Errorf("the Frontline account lists the Flex workspace: %v", err)
	}
	if n := len(s.Tasks()); n != 0 {
		t.Errorf("the Frontline account has %d tasks", n)
	}
}

// TestCustomerConversation: a conversation by unique name, created once,
// a customer bound once (50416 after), found by address.
func TestCustomerConversation(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{})
	ctx := ctxTimeout(t, 10*time.Second)
	first, err := c.CreateConversation(ctx, s.MessagingServiceSID(), "handoff-1", "Jo", `{}`, twilio.Timers{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateConversation(ctx, s.MessagingServiceSID(), "handoff-1", "Jo", `{}`, twilio.Timers{})
	if err != nil || again.SID != first.SID {
		t.Errorf("second create = %+v, %v; want the first %s", again, err, first.SID)
	}
	if n := len(s.Conversations()); n != 1 {
		t.Errorf("%d conversations", n)
	}
	if _, err := c.AddCustomerParticipant(ctx, first.SID, "+447491000002", "+445555550100", `{"customer_id":"2"}`); err != nil {
		t.Fatal(err)
	}
	other, _ := c.CreateConversation(ctx, "", "other", "", "", twilio.Timers{})
	if _, err := c.AddCustomerParticipant(ctx, other.SID, "+447491000002", "+445555550100", ""); !errors.Is(err, twilio.ErrBindingInUse) {
		t.Errorf("second binding: %v, want ErrBindingInUse", err)
	}
	pcs, err := c.ParticipantConversations(ctx, "+447491000002")
	if err != nil || len(pcs) != 1 || pcs[0].ConversationSID != first.SID || pcs[0].State != "active" || pcs[0].ProxyAddress != "+445555550100" {
		t.Errorf("ParticipantConversations = %+v, %v", pcs, err)
	}
}

// TestConversationTimers: timers go with the create (State active, as
// Twilio requires with them) or on their own; a closed conversation
// refuses them.
func TestConversationTimers(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{})
	ctx := ctxTimeout(t, 10*time.Second)
	timers := twilio.Timers{Inactive: 7 * 24 * time.Hour, Closed: 90 * time.Minute}
	conv, err := c.CreateConversation(ctx, s.MessagingServiceSID(), "handoff-1", "Jo", `{}`, timers)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Conversation(conv.SID); got.Timers != (twiliotest.Timers{Inactive: "P7D", Closed: "PT90M"}) || got.State != "active" {
		t.Errorf("created with %+v, state %s", got.Timers, got.State)
	}
	other, _ := c.CreateConversation(ctx, "", "other", "", "", twilio.Timers{})
	if err := c.SetConversationTimers(ctx, other.SID, twilio.Timers{Closed: 45 * time.Second * 20}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Conversation(other.SID); got.Timers != (twiliotest.Timers{Closed: "PT15M"}) {
		t.Errorf("set %+v", got.Timers)
	}
	if err := s.CloseConversation(ctx, other.SID); err != nil {
		t.Fatal(err)
	}
	if err := c.SetConversationTimers(ctx, other.SID, timers); !errors.Is(err, twilio.ErrConversationClosed) {
		t.Errorf("timers of a closed conversation: %v, want ErrConversationClosed", err)
	}
	if got := twilio.ISODuration(90 * time.Second); got != "PT90S" {
		t.Errorf("ISODuration(90s) = %s", got)
	}
}
