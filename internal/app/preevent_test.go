package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// failingCRM fails every lookup.
type failingCRM struct{}

func (failingCRM) CustomerByAddress(context.Context, string) (crm.Customer, error) {
	return crm.Customer{}, errors.New("firestore: unavailable")
}

// slowCRM answers when ctx ends, as a cache that times out does.
type slowCRM struct{}

func (slowCRM) CustomerByAddress(ctx context.Context, _ string) (crm.Customer, error) {
	<-ctx.Done()
	return crm.Customer{}, ctx.Err()
}

// stuckCRM ignores ctx and answers only when released.
type stuckCRM struct{ release chan struct{} }

func (s stuckCRM) CustomerByAddress(context.Context, string) (crm.Customer, error) {
	<-s.release
	return crm.Customer{}, errors.New("too late")
}

// panickingCRM has a bug.
type panickingCRM struct{}

func (panickingCRM) CustomerByAddress(context.Context, string) (crm.Customer, error) {
	panic("panickingCRM: a bug")
}

// TestPreEventNeverRejects: whatever the CRM or Twilio do, the pre-event
// webhook answers 2xx before Twilio gives up on it (an error in the
// delivery), so the customer's message is published; the bot then
// answers it, after it.
func TestPreEventNeverRejects(t *testing.T) {
	const deadline = 500 * time.Millisecond
	stuck := stuckCRM{release: make(chan struct{})}
	tests := []struct {
		name      string
		customers interface {
			CustomerByAddress(context.Context, string) (crm.Customer, error)
		}
		twilioDown bool
		wantBot    bool // the bot answers (its own dependencies work)
		filters    []string
	}{
		{name: "CRM fails", customers: failingCRM{}, wantBot: true},
		{name: "CRM times out", customers: slowCRM{}, wantBot: true},
		{name: "CRM ignores its deadline", customers: stuck},
		// A panic elsewhere than in the pre-event hook takes the instance
		// down, as in any Go server: the post-event hooks are left out.
		{name: "CRM panics", customers: panickingCRM{}, wantBot: true,
			filters: []string{"onConversationAdd", "onMessageAdd", "onMessageAdded"}},
		{name: "CRM fails and Twilio is down", customers: failingCRM{}, twilioDown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, apptest.Options{FlowCustomers: tt.customers, Filters: tt.filters,
				Env:    config.Env{"HANDLER_TIMEOUT": deadline.String()},
				Twilio: twiliotest.Config{WebhookTimeout: 2 * time.Second}})
			// Registered after newEnv's, so it runs first: the server
			// waits for its handlers before it closes.
			t.Cleanup(func() {
				if tt.customers == stuck {
					close(stuck.release)
				}
			})
			e.workers("ann@example.com")
			if tt.twilioDown {
				for range 100 {
					e.Twilio.FailNext("", "/v1/", http.StatusServiceUnavailable, 0)
				}
			}
			res := e.text(maria, "hi") // fails the test if a hook rejected it
			if res.Message.Body != "hi" {
				t.Fatalf("message not published: %+v", res)
			}
			for _, d := range e.Twilio.Deliveries() {
				if d.Target != twiliotest.TargetPre {
					continue
				}
				if d.Status != http.StatusOK || d.Err != nil {
					t.Errorf("pre-event %s answered %d %v", d.EventType, d.Status, d.Err)
				}
			}
			c, _ := e.Twilio.Conversation(res.ConversationSID)
			if c.FriendlyName != "+*********01" {
				t.Errorf("friendly name = %q, want the masked number", c.FriendlyName)
			}
			got := e.Transcript(res.ConversationSID)
			if !slices.Contains(got, maria+": hi") {
				t.Errorf("customer message missing: %v", got)
			}
			if tt.wantBot {
				want := []string{"system: " + welcome, maria + ": hi", "system: " + bot.Menu}
				if !slices.Equal(got, want) {
					t.Errorf("transcript:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
			}
			e.checkRepliesFollow(res.ConversationSID)
		})
	}
}

// TestPreEventAnswers checks the answers themselves.
func TestPreEventAnswers(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	tests := []struct {
		name   string
		params url.Values
		want   string
	}{
		{
			name: "known customer",
			params: url.Values{"EventType": {"onConversationAdd"}, "MessagingBinding.Address": {maria},
				"Attributes": {`{"source":"sms","n":12345678901234567890}`}},
			want: `{"friendly_name":"Maria Sanchez","attributes":"{\"avatar\":\"https://cinnabar-albatross-5407.twil.io/assets/face2.jpeg\",\"n\":12345678901234567890,\"source\":\"sms\"}"}`,
		},
		{
			name:   "known customer, WhatsApp",
			params: url.Values{"EventType": {"onConversationAdd"}, "MessagingBinding.Address": {susan}, "Attributes": {"{}"}},
			want:   `{"friendly_name":"Susan Smith","attributes":"{\"avatar\":\"https://cinnabar-albatross-5407.twil.io/assets/face4.jpeg\"}"}`,
		},
		{
			name:   "avatar already set",
			params: url.Values{"EventType": {"onConversationAdd"}, "MessagingBinding.Address": {maria}, "Attributes": {`{"avatar":"https://x/a.png"}`}},
			want:   `{"friendly_name":"Maria Sanchez"}`,
		},
		{
			name:   "attributes that are not an object are left alone",
			params: url.Values{"EventType": {"onConversationAdd"}, "MessagingBinding.Address": {maria}, "Attributes": {`[1]`}},
			want:   `{"friendly_name":"Maria Sanchez"}`,
		},
		{
			name:   "unknown customer",
			params: url.Values{"EventType": {"onConversationAdd"}, "MessagingBinding.Address": {"whatsapp:" + stranger}},
			want:   `{"friendly_name":"whatsapp:+*********23"}`,
		},
		{
			name:   "conversation created through the API",
			params: url.Values{"EventType": {"onConversationAdd"}},
			want:   `{}`,
		},
		{
			name:   "onMessageAdd",
			params: url.Values{"EventType": {"onMessageAdd"}, "ConversationSid": {"CH00000000000000000000000000000001"}, "Body": {"AGENT"}, "Author": {maria}},
			want:   `{}`,
		},
		{name: "other event", params: url.Values{"EventType": {"onParticipantAdd"}}, want: `{}`},
		{name: "no event", params: url.Values{}, want: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.post("pre-event", tt.params)
			if status != http.StatusOK || body != tt.want {
				t.Errorf("answer = %d %s\nwant 200 %s", status, body, tt.want)
			}
		})
	}
	if n := len(e.Logs.Lines("the bot answers on the post-event onMessageAdded")); n != 1 {
		t.Errorf("onMessageAdd notice logged %d times, want once", n)
	}
	if n := len(e.Twilio.Requests()); n != 0 {
		t.Errorf("pre-event made %d REST calls, want none", n)
	}
	// Only a forged request is refused.
	status, _ := e.post("pre-event", nil)
	if status != http.StatusOK {
		t.Errorf("empty signed request: %d", status)
	}
	req, _ := http.NewRequest(http.MethodPost, e.URL("pre-event"), strings.NewReader("EventType=onMessageAdd"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", "forged")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged pre-event: %d, want 403", resp.StatusCode)
	}
}

// TestPreEventConcurrentNotice: the onMessageAdd notice is logged once
// however many arrive at once.
func TestPreEventConcurrentNotice(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if status, _, err := e.Post("pre-event", url.Values{"EventType": {"onMessageAdd"}}); err != nil || status != http.StatusOK {
				t.Errorf("onMessageAdd: %d %v", status, err)
			}
		})
	}
	wg.Wait()
	if n := len(e.Logs.Lines("the bot answers on the post-event")); n != 1 {
		t.Errorf("notice logged %d times, want 1", n)
	}
}
