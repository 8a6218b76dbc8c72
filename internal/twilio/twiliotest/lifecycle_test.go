package twiliotest_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// TestLifecycle: timers are kept and fire when ExpireTimers moves time;
// a closed conversation refuses messages and participants, frees its
// address pair (the next text creates a new conversation) and is
// announced by onConversationStateUpdated; a worker removed is announced
// by onParticipantRemoved.
func TestLifecycle(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	rest := twilio.New(s.ClientConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := newApp(t, s.AuthToken(), func(string, url.Values) (int, string) { return 200, "{}" })
	s.SetWebhooks(twiliotest.Webhooks{
		PostWebhookURL: a.url("/post-event"),
		Filters:        []string{"onConversationStateUpdated", "onParticipantRemoved"},
	})
	s.AddWorker("ann@example.com", true, nil)

	first, err := s.CustomerTexts(ctx, "+15550001111", "+15559990000", "Hello")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rest.AddParticipant(ctx, first.ConversationSID, "ann@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveParticipant(ctx, first.ConversationSID, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	ds := s.Deliveries()
	if len(ds) != 1 || ds[0].EventType != "onParticipantRemoved" || ds[0].Params.Get("Identity") != "ann@example.com" {
		t.Fatalf("deliveries after the removal: %+v", ds)
	}

	// Timers: the inactive one fires first, then the closed one.
	c, _ := s.Conversation(first.ConversationSID)
	c.Timers = twiliotest.Timers{Inactive: "PT1M", Closed: "P1D"}
	if !s.SetTimers(first.ConversationSID, c.Timers) {
		t.Fatal("SetTimers")
	}
	if err := s.ExpireTimers(ctx, c.DateUpdated.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Conversation(first.ConversationSID); c.State != "inactive" {
		t.Errorf("state after the inactive timer: %s", c.State)
	}
	if err := s.ExpireTimers(ctx, c.DateUpdated.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	ds = s.Deliveries()
	last := ds[len(ds)-1].Params
	if len(ds) != 3 || last.Get("StateFrom") != "inactive" || last.Get("StateTo") != "closed" || last.Get("Reason") != "TIMER" {
		t.Errorf("state events %+v", ds[1:])
	}

	if _, err := rest.PostMessage(ctx, first.ConversationSID, "system", "late", "{}"); !errors.Is(err, twilio.ErrConversationClosed) {
		t.Errorf("message to a closed conversation: %v, want ErrConversationClosed", err)
	}
	if _, err := rest.AddParticipant(ctx, first.ConversationSID, "ann@example.com", ""); !errors.Is(err, twilio.ErrConversationClosed) {
		t.Errorf("participant added to a closed conversation: %v, want ErrConversationClosed", err)
	}
	next, err := s.CustomerTexts(ctx, "+15550001111", "+15559990000", "Hello again")
	if err != nil {
		t.Fatal(err)
	}
	if !next.Created || next.ConversationSID == first.ConversationSID {
		t.Errorf("text after the close: %+v, want a new conversation", next)
	}
	if err := s.CloseConversation(ctx, next.ConversationSID); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseConversation(ctx, next.ConversationSID); err == nil {
		t.Error("closing a closed conversation again: no error")
	}
}
