package app_test

import (
	"encoding/json"
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
	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/twiliofake"
)

// joAnne is sample customer 2, reached by SMS at a British number: the
// GB proxy number is hers.
const (
	joAnneID = "2"
	joAnne   = "+447491000002"
)

// flexHarness is an App with a Flex contact center and two available
// experts, ann (watches) and bob (jewellery).
func flexHarness(t *testing.T, store apptest.Store, env config.Env) *apptest.Harness {
	t.Helper()
	h := apptest.New(t, apptest.Options{Store: store, Flex: true, Env: env})
	q := h.Twilio.QueueSID()
	h.Twilio.AddWorker("ann@example.com", true, map[string]any{"expertise": []string{"watches"}}, q)
	h.Twilio.AddWorker("bob@example.com", true, map[string]any{"expertise": []string{"jewellery"}, "lastAcceptedTaskTime": 1}, q)
	return h
}

type handoffAnswer struct {
	HandoffID    string `json:"handoff_id"`
	Conversation string `json:"conversation_sid"`
	Status       string `json:"status"`
}

func handoff(t *testing.T, h *apptest.Harness, params url.Values) (int, handoffAnswer, string) {
	t.Helper()
	status, body, err := h.Handoff(params, apptest.HandoffSecret)
	if err != nil {
		t.Fatalf("handoff: %v", err)
	}
	var ans handoffAnswer
	if status/100 == 2 {
		if err := json.Unmarshal([]byte(body), &ans); err != nil {
			t.Fatalf("handoff answer %q: %v", body, err)
		}
	}
	return status, ans, body
}

// contextMessages returns the conversation's "Transferred from the
// contact center" messages.
func contextMessages(h *apptest.Harness, conv string) []string {
	var out []string
	for _, m := range h.Twilio.Messages(conv) {
		if m.Author == "system" && strings.HasPrefix(m.Body, bot.TransferredFromContactCenter("")[:len("Transferred from the contact center")]) {
			out = append(out, m.Body)
		}
	}
	return out
}

// TestHandoffFromFlex hands customers over from Flex through the whole
// App, on both stores: a new conversation, the customer's open one
// reused, the expert named, the longest idle and one of an area.
func TestHandoffFromFlex(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			t.Run("new conversation, longest idle, context copied", func(t *testing.T) {
				h := flexHarness(t, store, nil)
				flexConv := h.Flex.AddConversation("Jo Anne", "")
				h.Flex.AddMessage(flexConv, joAnne, "My watch stopped")
				h.Flex.AddMessage(flexConv, apptest.FlexAgent, "Let me find you an expert")
				h.Flex.AddMessage(flexConv, joAnne, "Thanks")
				status, ans, body := handoff(t, h, url.Values{
					"handoff_id": {"flex-1"}, "customer_id": {joAnneID},
					"summary": {"Watch repair under warranty."}, "flex_conversation_sid": {flexConv}, "message_count": {"2"},
				})
				if status != http.StatusOK || ans.Status != "done" || ans.Conversation == "" {
					t.Fatalf("handoff = %d %s", status, body)
				}
				conv := ans.Conversation
				ps := h.Twilio.Participants(conv)
				var customer *string
				for _, p := range ps {
					if p.Binding != nil {
						if p.Binding.Address != joAnne || p.Binding.ProxyAddress != apptest.ProxyNumberGB {
							t.Errorf("customer bound %s ↔ %s, want %s ↔ %s", p.Binding.Address, p.Binding.ProxyAddress, joAnne, apptest.ProxyNumberGB)
						}
						a := p.Attributes
						customer = &a
					}
				}
				if customer == nil || !strings.Contains(*customer, `"customer_id":"2"`) || !strings.Contains(*customer, `"display_name":"Jo Anne"`) {
					t.Errorf("customer participant attributes = %v", customer)
				}
				// ann has never been assigned; bob accepted a task long ago.
				if w := h.Workers(conv); !slices.Equal(w, []string{"ann@example.com"}) {
					t.Errorf("experts = %v, want the longest idle, ann", w)
				}
				msgs := contextMessages(h, conv)
				if len(msgs) != 1 {
					t.Fatalf("context messages = %q", msgs)
				}
				for _, want := range []string{"Transferred from the contact center: Watch repair under warranty.", "agent@contact-center.example.com: Let me find you an expert", ": Thanks"} {
					if !strings.Contains(msgs[0], want) {
						t.Errorf("context %q lacks %q", msgs[0], want)
					}
				}
				if strings.Contains(msgs[0], "My watch stopped") || strings.Contains(msgs[0], joAnne) {
					t.Errorf("context %q copies more than 2 messages or an unmasked number", msgs[0])
				}
				c, _ := h.Twilio.Conversation(conv)
				if !strings.Contains(c.Attributes, `"from":"flex"`) || !strings.Contains(c.Attributes, `"handoff_id":"flex-1"`) {
					t.Errorf("conversation attributes = %s", c.Attributes)
				}
				// The bot is silent in the handed-over conversation.
				h.Twilio.CustomerTexts(t.Context(), joAnne, apptest.ProxyNumberGB, "hello?")
				if got := h.Transcript(conv); got[len(got)-1] != joAnne+": hello?" {
					t.Errorf("the bot answered in a handed-over conversation: %q", got)
				}
			})
			t.Run("open conversation reused, expert named", func(t *testing.T) {
				h := flexHarness(t, store, nil)
				conv := text(t, h, maria, "hello")
				before := len(h.Twilio.Conversations())
				status, ans, body := handoff(t, h, url.Values{"handoff_id": {"flex-2"}, "address": {maria}, "worker": {"Bob@Example.com"}, "summary": {"Ring resizing"}})
				if status != http.StatusOK || ans.Conversation != conv {
					t.Fatalf("handoff = %d %s, want the open conversation %s", status, body, conv)
				}
				if n := len(h.Twilio.Conversations()); n != before {
					t.Errorf("%d conversations, want %d", n, before)
				}
				if w := h.Workers(conv); !slices.Equal(w, []string{"bob@example.com"}) {
					t.Errorf("experts = %v, want bob", w)
				}
			})
			t.Run("expert of an area", func(t *testing.T) {
				h := flexHarness(t, store, nil)
				_, ans, body := handoff(t, h, url.Values{"handoff_id": {"flex-3"}, "customer_id": {"3"}, "area": {"Jewellery"}})
				if w := h.Workers(ans.Conversation); !slices.Equal(w, []string{"bob@example.com"}) {
					t.Errorf("experts = %v (%s), want bob, the jewellery expert", w, body)
				}
				ps := h.Twilio.Participants(ans.Conversation)
				if len(ps) == 0 || ps[0].Binding == nil || ps[0].Binding.ProxyAddress != "whatsapp:"+apptest.ProxyNumber {
					t.Errorf("WhatsApp customer bound as %+v", ps)
				}
			})
		})
	}
}

// TestHandoffReplayed replays one handoff id, one after the other and at
// once, then again after the ledger lost its records: one conversation,
// one expert, one context message.
func TestHandoffReplayed(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			l := &amnesia{}
			h := apptest.New(t, apptest.Options{Store: store, Flex: true, WrapLedger: func(inner conversation.Ledger) conversation.Ledger {
				l.Ledger = inner
				return l
			}})
			q := h.Twilio.QueueSID()
			h.Twilio.AddWorker("ann@example.com", true, nil, q)
			h.Twilio.AddWorker("bob@example.com", true, nil, q)
			params := url.Values{"handoff_id": {"flex-replay"}, "customer_id": {joAnneID}, "summary": {"Strap replacement"}}
			const sequential, concurrent = 5, 8
			convs := map[string]int{}
			var mu sync.Mutex
			record := func(status int, ans handoffAnswer, body string) {
				mu.Lock()
				defer mu.Unlock()
				if status/100 != 2 {
					t.Errorf("replay answered %d %s", status, body)
				}
				convs[ans.Conversation]++
			}
			total := 0
			for _, phase := range []string{"with records", "records lost"} {
				if phase == "records lost" {
					l.forget()
				}
				for range sequential {
					record(handoff(t, h, params))
				}
				var wg sync.WaitGroup
				for range concurrent {
					wg.Go(func() { record(handoff(t, h, params)) })
				}
				wg.Wait()
				h.WaitWork(t)
				total += sequential + concurrent
				if len(convs) != 1 {
					t.Fatalf("%s: replays answered conversations %v, want one", phase, convs)
				}
				var conv string
				for c := range convs {
					conv = c
				}
				n, experts, msgs := len(h.Twilio.Conversations()), h.Workers(conv), contextMessages(h, conv)
				t.Logf("%s: %d calls of one handoff id: %d conversation, %d expert, %d context message", phase, total, n, len(experts), len(msgs))
				if n != 1 || len(experts) != 1 || len(msgs) != 1 {
					t.Errorf("%s: after %d calls: %d conversations, experts %v, context messages %d; want 1/1/1", phase, total, n, experts, len(msgs))
				}
			}
		})
	}
}

// TestHandoffRefused: bad input gets a clear 4xx, and only the two kinds
// of caller get in.
func TestHandoffRefused(t *testing.T) {
	h := flexHarness(t, apptest.InMemory, nil)
	valid := url.Values{"handoff_id": {"flex-auth"}, "customer_id": {joAnneID}}
	t.Run("bad input", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			params url.Values
			want   int
			says   string
		}{
			{"no handoff id", url.Values{"customer_id": {joAnneID}}, 400, "handoff_id is required"},
			{"no customer", url.Values{"handoff_id": {"x"}}, 400, "customer_id or address is required"},
			{"bad handoff id", url.Values{"handoff_id": {"a b"}, "customer_id": {joAnneID}}, 400, "handoff_id must be"},
			{"bad flex conversation", url.Values{"handoff_id": {"x"}, "customer_id": {joAnneID}, "flex_conversation_sid": {"nope"}}, 400, "flex_conversation_sid"},
			{"too many messages", url.Values{"handoff_id": {"x"}, "customer_id": {joAnneID}, "message_count": {"500"}}, 400, "message_count"},
			{"unknown customer", url.Values{"handoff_id": {"x"}, "customer_id": {"999"}}, 404, "unknown customer"},
			{"unknown address", url.Values{"handoff_id": {"x"}, "address": {"+14155550199"}}, 404, "unknown customer"},
			{"not a worker", url.Values{"handoff_id": {"x"}, "customer_id": {joAnneID}, "worker": {"nobody@example.com"}}, 422, "not a Frontline worker"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				status, _, body := handoff(t, h, tt.params)
				if status != tt.want || !strings.Contains(body, tt.says) {
					t.Errorf("= %d %s, want %d saying %q", status, body, tt.want, tt.says)
				}
			})
		}
		if n := len(h.Twilio.Conversations()); n != 0 {
			t.Errorf("refused handoffs created %d conversations", n)
		}
	})
	t.Run("callers", func(t *testing.T) {
		forged := []struct {
			name string
			call func() (int, string, error)
		}{
			{"no credentials", func() (int, string, error) { return h.Handoff(valid, "") }},
			{"wrong secret", func() (int, string, error) {
				return h.Handoff(valid, "handoff-secret-guess-000000000000000000000000000")
			}},
			{"secret prefix", func() (int, string, error) { return h.Handoff(valid, apptest.HandoffSecret[:20]) }},
			{"signed with the Frontline account's token", func() (int, string, error) { return h.FlexSignedHandoff(valid, h.Config.TwilioAuthToken) }},
			{"signed with a guessed token", func() (int, string, error) { return h.FlexSignedHandoff(valid, strings.Repeat("0", 32)) }},
			{"signature of other parameters", func() (int, string, error) {
				req, _ := http.NewRequest(http.MethodPost, h.URL("handoff"), strings.NewReader(valid.Encode()+"&worker=ann%40example.com"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Twilio-Signature", signFlex(h, valid))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return 0, "", err
				}
				resp.Body.Close()
				return resp.StatusCode, "", nil
			}},
			{"basic auth", func() (int, string, error) {
				req, _ := http.NewRequest(http.MethodPost, h.URL("handoff"), strings.NewReader(valid.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(apptest.FlexAccountSID, apptest.FlexAuthToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return 0, "", err
				}
				resp.Body.Close()
				return resp.StatusCode, "", nil
			}},
		}
		accepted := 0
		for _, tt := range forged {
			status, body, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusUnauthorized && status != http.StatusForbidden {
				accepted++
				t.Errorf("%s: %d %s, want 401 or 403", tt.name, status, body)
			}
		}
		t.Logf("forged or unsigned handoffs: %d tried, %d accepted", len(forged), accepted)
		if n := len(h.Twilio.Conversations()); n != 0 {
			t.Errorf("forged handoffs created %d conversations", n)
		}
		// The two real callers get in.
		if status, body, _ := h.FlexSignedHandoff(valid, apptest.FlexAuthToken); status != http.StatusOK {
			t.Errorf("Flex-signed handoff = %d %s", status, body)
		}
		if status, body, _ := h.Handoff(valid, apptest.HandoffSecret); status != http.StatusOK {
			t.Errorf("bearer handoff = %d %s", status, body)
		}
		req, _ := http.NewRequest(http.MethodPost, h.URL("handoff"), strings.NewReader(`{"handoff_id":"flex-json","customer_id":"1"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+apptest.HandoffSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("JSON handoff = %d", resp.StatusCode)
		}
	})
}

func signFlex(h *apptest.Harness, params url.Values) string {
	return twiliofake.Sign(apptest.FlexAuthToken, h.URL("handoff"), params)
}

// TestContactCenterRoute: a customer asking for the contact center gets
// one Flex task, with the transcript, however often they ask and however
// often Twilio delivers; the bot falls silent.
func TestContactCenterRoute(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			h := flexHarness(t, store, nil)
			conv := text(t, h, maria, "hello, my order is late")
			text(t, h, maria, "I want to talk to SUPPORT please")
			tasks := h.Flex.Tasks()
			if len(tasks) != 1 {
				t.Fatalf("Flex tasks = %d, want 1", len(tasks))
			}
			var attrs struct {
				Customer     struct{ ID, Name, Address string }
				Conversation string `json:"frontline_conversation_sid"`
				Transcript   string
			}
			if err := json.Unmarshal([]byte(tasks[0].Attributes), &attrs); err != nil {
				t.Fatal(err)
			}
			if attrs.Customer.ID != "1" || attrs.Customer.Name != "Maria Sanchez" || attrs.Customer.Address != maria || attrs.Conversation != conv {
				t.Errorf("task attributes = %s", tasks[0].Attributes)
			}
			if !strings.Contains(attrs.Transcript, "customer: hello, my order is late") || !strings.Contains(attrs.Transcript, "system: ") {
				t.Errorf("transcript = %q", attrs.Transcript)
			}
			if tasks[0].WorkflowSID != h.Flex.WorkflowSID() || tasks[0].TaskChannel != "chat" {
				t.Errorf("task = %+v", tasks[0])
			}
			got := h.Transcript(conv)
			if got[len(got)-1] != "system: "+bot.PassingToContactCenter {
				t.Errorf("transcript ends %q", got[len(got)-1])
			}
			c, _ := h.Twilio.Conversation(conv)
			if !strings.Contains(c.Attributes, `"to":"flex"`) || !strings.Contains(c.Attributes, `"task_sid":"`+tasks[0].SID+`"`) {
				t.Errorf("conversation attributes = %s", c.Attributes)
			}
			// Asking again, asking for an agent, Twilio redelivering: no
			// second task, no word from the bot.
			n := len(h.Twilio.Messages(conv))
			text(t, h, maria, "support!!")
			text(t, h, maria, "AGENT")
			for _, d := range h.Twilio.Deliveries() {
				if d.EventType == "onMessageAdded" {
					h.Twilio.Redeliver(t.Context(), d)
				}
			}
			h.WaitWork(t)
			if len(h.Flex.Tasks()) != 1 {
				t.Errorf("Flex tasks = %d after more requests, want 1", len(h.Flex.Tasks()))
			}
			if m := len(h.Twilio.Messages(conv)); m != n+2 {
				t.Errorf("the bot spoke after the handoff: %q", h.Transcript(conv)[n:])
			}
			if w := h.Workers(conv); len(w) != 0 {
				t.Errorf("experts %v joined a conversation handed to Flex", w)
			}
		})
	}
}

// TestContactCenterAfter: a customer nobody could take for longer than
// CONTACT_CENTER_AFTER is handed to Flex at their next message, and
// leaves the waiting line: no expert is brought in after the handoff.
func TestContactCenterAfter(t *testing.T) {
	h := apptest.New(t, apptest.Options{Flex: true, Env: config.Env{"CONTACT_CENTER_AFTER": "10m"}})
	conv := text(t, h, maria, "AGENT")
	if got := h.Transcript(conv); got[len(got)-1] != "system: "+bot.InLine(1, "", "", false) {
		t.Fatalf("transcript = %q", got)
	}
	h.Clock.Advance(11 * time.Minute)
	text(t, h, maria, "AGENT")
	if n := len(h.Flex.Tasks()); n != 1 {
		t.Errorf("Flex tasks = %d, want 1", n)
	}
	if got := h.Transcript(conv); got[len(got)-1] != "system: "+bot.PassingToContactCenter {
		t.Errorf("transcript = %q", got)
	}
	// No WaitWork: the queue's safety-net tasks are due WORK_DELAY after
	// the advanced clock. The handoff and the sweep are synchronous.
	if es, err := h.App.Line.Waiting(t.Context(), 0); err != nil || len(es) != 0 {
		t.Errorf("waiting line after the handoff = %v, %v; want empty", es, err)
	}
	// An expert free now is not brought into a conversation Flex has.
	h.Twilio.AddWorker("ann@example.com", true, nil, h.Twilio.QueueSID())
	if s := h.Sweep(t); s != http.StatusNoContent {
		t.Errorf("sweep: %d", s)
	}
	if w := h.Workers(conv); len(w) != 0 {
		t.Errorf("experts %v joined a conversation handed to Flex", w)
	}
}

// TestFlexSettingsAllOrNone: half a contact center is a configuration
// error naming what is missing.
func TestFlexSettingsAllOrNone(t *testing.T) {
	_, err := config.Parse(config.Env{"FLEX_ACCOUNT_SID": apptest.FlexAccountSID, "HANDOFF_SECRET": "short"})
	for _, want := range []string{"FLEX_AUTH_TOKEN: is required", "FLEX_WORKSPACE: is required", "FLEX_WORKFLOW: is required", "HANDOFF_SECRET: must have at least 32"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
