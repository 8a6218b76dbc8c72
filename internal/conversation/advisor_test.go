package conversation_test

import (
	"slices"
	"testing"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
)

// TestAdvisorWithoutCRM: a CRM that fails does not hold the welcome up:
// the advisor step is skipped (logged) and the policy goes on.
func TestAdvisorWithoutCRM(t *testing.T) {
	e := newEnv(t, apptest.Options{FlowCustomers: failingCRM{}, Env: config.Env{"ROUTING_POLICY": "advisor,bot"}})
	e.workers("ann@example.com")
	conv := e.text(maria, "hi").ConversationSID
	want := []string{"system: " + bot.DefaultWelcome, maria + ": hi", "system: " + bot.Menu}
	if got := e.Transcript(conv); !slices.Equal(got, want) {
		t.Errorf("transcript = %q, want %q", got, want)
	}
	if len(e.Logs.Lines("reading the customer's advisor failed")) == 0 {
		t.Error("the CRM's failure is not logged")
	}
}

// TestAdvisorOfferAnswers: the offer stays open until answered; an
// e-mail, AGENT or an area answer it as they answer the menu.
func TestAdvisorOfferAnswers(t *testing.T) {
	for _, tt := range []struct {
		answer string
		want   []string // workers
		reply  string
	}{
		{"bob@example.com", []string{"bob@example.com"}, apptest.Connect("bob@example.com")},
		{"AGENT", []string{"bob@example.com"}, apptest.Connect("bob@example.com")},
		{"what?", nil, apptest.Offer("ann@example.com")},
	} {
		t.Run(tt.answer, func(t *testing.T) {
			e := newEnv(t, apptest.Options{
				FlowCustomers: customersOf(t, crm.Customer{ID: "1", DisplayName: "Maria", Worker: "ann@example.com",
					Channels: []crm.Channel{{Type: "sms", Value: maria}}}),
				Env: config.Env{"ROUTING_POLICY": "advisor"},
			})
			e.Twilio.AddWorker("ann@example.com", false, nil, e.Twilio.QueueSID())
			e.workers("bob@example.com")
			conv := e.text(maria, tt.answer).ConversationSID
			got := e.Marked(conv)
			if len(got) != 3 || got[0] != apptest.Offer("ann@example.com") || got[2] != tt.reply {
				t.Errorf("transcript = %q, want the offer, then %q", got, tt.reply)
			}
			if w := e.Workers(conv); !slices.Equal(w, tt.want) {
				t.Errorf("workers = %v, want %v", w, tt.want)
			}
		})
	}
}
