package conversation_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/config"
)

// closeConversation closes a conversation as Frontline does when the
// worker is done; the customer's next text opens a new one.
func (e *env) closeConversation(conv string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.Twilio.URL+"/v1/Conversations/"+conv, strings.NewReader(url.Values{"State": {"closed"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(e.Twilio.AccountSID(), e.Twilio.AuthToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("close %s: %s", conv, resp.Status)
	}
}

// TestReturningCustomer: a customer who spoke with a worker before is
// offered them again ("offer"), or routed straight back ("route") if they
// are still a worker.
func TestReturningCustomer(t *testing.T) {
	tests := []struct {
		name        string
		mode        assign.Returning
		firstText   string
		removeAnn   bool
		wantWelcome string
		wantWorkers []string
	}{
		{name: "off", mode: assign.ReturningOff, firstText: "ann@example.com", wantWelcome: "system: " + welcome},
		{name: "offer", mode: assign.ReturningOffer, firstText: "ann@example.com",
			wantWelcome: apptest.Offer("ann@example.com")},
		{name: "offer after an agent request", mode: assign.ReturningOffer, firstText: "AGENT",
			wantWelcome: apptest.Offer("ann@example.com")},
		{name: "route", mode: assign.ReturningRoute, firstText: "ann@example.com",
			wantWelcome: apptest.Connect("ann@example.com"), wantWorkers: []string{"ann@example.com"}},
		{name: "route, worker gone", mode: assign.ReturningRoute, firstText: "ann@example.com", removeAnn: true,
			wantWelcome: "system: " + welcome},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, apptest.Options{Env: config.Env{"RETURNING_CUSTOMER": string(tt.mode)}})
			e.workers("ann@example.com", "bob@example.com")
			first := e.text(maria, tt.firstText).ConversationSID
			if w := e.Workers(first); !slices.Equal(w, []string{"ann@example.com"}) {
				t.Fatalf("first conversation went to %v", w)
			}
			e.closeConversation(first)
			if tt.removeAnn {
				ann, _ := e.Twilio.Worker("ann@example.com")
				req, _ := http.NewRequest(http.MethodDelete, e.Twilio.URL+"/v1/Workspaces/"+e.Twilio.WorkspaceSID()+"/Workers/"+ann.SID, nil)
				req.SetBasicAuth(e.Twilio.AccountSID(), e.Twilio.AuthToken())
				if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
					t.Fatalf("delete ann: %v %v", resp, err)
				}
			}

			second := e.text(maria, "hello again").ConversationSID
			if second == first {
				t.Fatal("no new conversation")
			}
			got := e.Marked(second)
			if got[0] != tt.wantWelcome {
				t.Errorf("welcome = %q, want %q", got[0], tt.wantWelcome)
			}
			if w := e.Workers(second); !slices.Equal(w, tt.wantWorkers) {
				t.Errorf("workers = %v, want %v", w, tt.wantWorkers)
			}
			if tt.wantWorkers != nil && len(got) != 2 {
				t.Errorf("the bot answered with a worker in the conversation:\n  %s", strings.Join(got, "\n  "))
			}
		})
	}
}
