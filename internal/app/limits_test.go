package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/inmem"
	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// customersOf is a CRM holding exactly cs.
func customersOf(t *testing.T, cs ...crm.Customer) conversation.Customers {
	t.Helper()
	store := inmem.NewStore()
	if err := store.Upsert(context.Background(), cs...); err != nil {
		t.Fatal(err)
	}
	return crm.NewService(store, nil, crm.ServiceOptions{})
}

// TestLongCustomerFields: whatever the CRM holds, the conversation is
// created (Twilio would drop it for a pre-event answer over its limits),
// named within 256 characters, and the customer's participant gets their
// customer_id within 4 KB of attributes.
func TestLongCustomerFields(t *testing.T) {
	name333 := strings.Repeat("Zoë ", 83) + "Z" // 333 characters, some of two bytes
	avatar := func(n int) string { return "https://example.com/" + strings.Repeat("a", n-20) }
	tests := []struct {
		name        string
		displayName string
		avatar      string
		wantAvatar  bool // the participant keeps the avatar
	}{
		{name: "ordinary", displayName: "Maria Sanchez", avatar: avatar(60), wantAvatar: true},
		{name: "333-character name", displayName: name333, avatar: avatar(60), wantAvatar: true},
		{name: "5 KB avatar", displayName: "Maria Sanchez", avatar: avatar(5 << 10)},
		{name: "20 KB avatar", displayName: "Maria Sanchez", avatar: avatar(20 << 10)},
		{name: "5 KB name and 5 KB avatar", displayName: strings.Repeat("名", 5<<10/3), avatar: avatar(5 << 10)},
		{name: "emoji name", displayName: strings.Repeat("🙂", 200), avatar: avatar(60), wantAvatar: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, apptest.Options{FlowCustomers: customersOf(t, crm.Customer{
				ID: "42", DisplayName: tt.displayName, Avatar: tt.avatar,
				Channels: []crm.Channel{{Type: "sms", Value: maria}},
			})})
			conv := e.text(maria, "hi").ConversationSID // fails if the conversation was dropped

			c, _ := e.Twilio.Conversation(conv)
			if n := twilio.Chars(c.FriendlyName); n > twilio.MaxFriendlyName || !utf8.ValidString(c.FriendlyName) {
				t.Errorf("friendly name of %d characters, valid UTF-8 %v", n, utf8.ValidString(c.FriendlyName))
			}
			if want := strings.TrimSuffix(c.FriendlyName, "…"); !strings.HasPrefix(tt.displayName, want) || want == "" {
				t.Errorf("friendly name %.40q… is not the start of the display name", c.FriendlyName)
			}
			if len(c.Attributes) > twilio.MaxConversationAttributes || !json.Valid([]byte(c.Attributes)) {
				t.Errorf("conversation attributes: %d bytes, valid %v", len(c.Attributes), json.Valid([]byte(c.Attributes)))
			}

			attrs := e.customer(conv).Attributes
			if len(attrs) > twilio.MaxParticipantAttributes {
				t.Errorf("participant attributes of %d bytes", len(attrs))
			}
			var got struct {
				CustomerID  string `json:"customer_id"`
				DisplayName string `json:"display_name"`
				Avatar      string `json:"avatar"`
			}
			if err := json.Unmarshal([]byte(attrs), &got); err != nil {
				t.Fatal(err)
			}
			if got.CustomerID != "42" {
				t.Errorf("customer_id = %q, want 42: %.200s", got.CustomerID, attrs)
			}
			if got.DisplayName == "" || !strings.HasPrefix(tt.displayName, strings.TrimSuffix(got.DisplayName, "…")) {
				t.Errorf("display_name = %.40q…", got.DisplayName)
			}
			if (got.Avatar == tt.avatar) != tt.wantAvatar {
				t.Errorf("avatar kept: %v, want %v", got.Avatar == tt.avatar, tt.wantAvatar)
			}
		})
	}
}

// TestLongMessages: the bot's replies stay within an SMS's 1,600
// characters, so Twilio (the fake, which refuses longer ones) takes them,
// however long what the customer wrote or the configured welcome.
func TestLongMessages(t *testing.T) {
	long := strings.Repeat("a", 1500) + "@example.com" // a 1,512-character "e-mail"
	tests := []struct {
		name      string
		welcome   string
		text      string
		wantReply string // "" checks the length only
	}{
		{name: "1,512-character e-mail", text: long, wantReply: bot.UnknownWorker(long)},
		{name: "e-mail in a long text", text: strings.Repeat("blah ", 2000) + long, wantReply: bot.UnknownWorker(long)},
		{name: "long welcome", welcome: strings.Repeat("Welcome! ", 300), text: "hi", wantReply: bot.Menu},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := config.Env{}
			if tt.welcome != "" {
				env["WELCOME_MESSAGE"] = tt.welcome
			}
			e := newEnv(t, apptest.Options{Env: env})
			conv := e.text(maria, tt.text).ConversationSID
			ms := e.Twilio.Messages(conv)
			if len(ms) != 3 {
				t.Fatalf("transcript %d messages, want the welcome, the text and a reply:\n  %.200s", len(ms), strings.Join(e.Transcript(conv), "\n  "))
			}
			for _, m := range []twiliotest.Message{ms[0], ms[2]} {
				if m.Author != "system" || utf8.RuneCountInString(m.Body) > twilio.MaxMessageBody {
					t.Errorf("bot message by %s of %d characters", m.Author, utf8.RuneCountInString(m.Body))
				}
			}
			if ms[2].Body != tt.wantReply {
				t.Errorf("reply = %.100q…, want %.100q…", ms[2].Body, tt.wantReply)
			}
			if tt.welcome != "" && !strings.HasSuffix(ms[0].Body, "…") {
				t.Errorf("long welcome not cut: %d characters", utf8.RuneCountInString(ms[0].Body))
			}
		})
	}
}

// TestLongestIdleWithoutListedAttributes: TaskRouter documents worker
// attributes as null on lists, so lastAcceptedTaskTime cannot be read
// there; the longest idle is then ranked by the claim store's record of
// Expert Hub's assignments. Workers are listed rita, olga, bea; bea was
// assigned longest ago, rita last: "agent" goes to bea, olga, rita.
func TestLongestIdleWithoutListedAttributes(t *testing.T) {
	tests := []struct {
		name      string
		nullLists bool
		inStore   bool // the history is in the claim store
		inTwilio  bool // the history is in TaskRouter's attributes
	}{
		{name: "attributes listed, history in TaskRouter", inTwilio: true},
		{name: "attributes listed, history in both", inTwilio: true, inStore: true},
		{name: "attributes null, history in both", nullLists: true, inTwilio: true, inStore: true},
		{name: "attributes null, history in the store", nullLists: true, inStore: true},
	}
	for _, store := range apptest.Stores {
		for _, tt := range tests {
			t.Run(string(store)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, apptest.Options{Store: store, Twilio: twiliotest.Config{NullListAttributes: tt.nullLists}})
				q := e.Twilio.QueueSID()
				past := time.Now().Add(-24 * time.Hour)
				history := map[string]time.Time{ // assigned at
					"bea@example.com":  past,
					"olga@example.com": past.Add(time.Hour),
					"rita@example.com": past.Add(2 * time.Hour),
				}
				sids := map[string]string{}
				for _, id := range []string{"rita@example.com", "olga@example.com", "bea@example.com"} {
					var attrs map[string]any
					if tt.inTwilio {
						attrs = map[string]any{"lastAcceptedTaskTime": history[id].UnixMilli()}
					}
					sids[id] = e.Twilio.AddWorker(id, true, attrs, q)
				}
				if tt.inStore {
					for i, id := range []string{"bea@example.com", "olga@example.com", "rita@example.com"} {
						_, err := e.App.Assignments.Claim(e.ctx(), assign.Request{
							Conversation: "CH00000000000000000000000000000" + string(rune('a'+i)) + "00",
							Claimant:     "earlier",
							Candidates:   []assign.Candidate{{Identity: id, SID: sids[id]}},
							Now:          history[id],
							TTL:          time.Minute,
						})
						if err != nil {
							t.Fatal(err)
						}
					}
				}

				var got []string
				for _, from := range []string{"+33600000001", "+33600000002", "+33600000003"} {
					conv := e.text(from, "AGENT").ConversationSID
					got = append(got, e.Workers(conv)...)
				}
				want := []string{"bea@example.com", "olga@example.com", "rita@example.com"}
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("assigned %v, want %v", got, want)
				}
			})
		}
	}
}
