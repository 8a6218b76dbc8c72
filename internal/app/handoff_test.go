package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/experthub/experthub/internal/crm"
	hf "github.com/experthub/experthub/internal/handoff"
	"github.com/experthub/experthub/internal/inmem"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
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

// handoffMessages returns the bot's messages of the conversation that
// answer handoff id: the one message the customer gets.
func handoffMessages(h *apptest.Harness, conv, id string) []twiliotest.Message {
	var out []twiliotest.Message
	for _, m := range h.Twilio.Messages(conv) {
		var mk struct {
			InReplyTo string `json:"in_reply_to"`
		}
		if m.Author == "system" && json.Unmarshal([]byte(m.Attributes), &mk) == nil && mk.InReplyTo == "handoff:"+id {
			out = append(out, m)
		}
	}
	return out
}

// customerDetails returns the details the crm function of instance i
// shows Frontline for the customer, as Frontline asks for them.
func customerDetails(t *testing.T, h *apptest.Harness, i int, id string) (title, content string) {
	t.Helper()
	rec := h.ServeOn(i, "crm", h.SignedForm("crm", url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {id}, "Worker": {"ann@example.com"}}))
	var body struct {
		Objects struct {
			Customer struct {
				Details *struct{ Title, Content string }
			}
		}
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
		t.Fatalf("crm details of %s: %d %s", id, rec.Code, rec.Body)
	}
	if d := body.Objects.Customer.Details; d != nil {
		return d.Title, d.Content
	}
	return "", ""
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
				// The customer gets one message, promising ann; the
				// agent's summary and the transcript are in the details
				// Frontline shows the expert.
				msgs := handoffMessages(h, conv, "flex-1")
				if len(msgs) != 1 || !strings.Contains(msgs[0].Attributes, `"connect":"ann@example.com"`) {
					t.Fatalf("handoff messages = %+v, want one promising ann", msgs)
				}
				_, details := customerDetails(t, h, 0, joAnneID)
				for _, want := range []string{"Watch repair under warranty.", "agent@contact-center.example.com: Let me find you an expert", ": Thanks"} {
					if !strings.Contains(details, want) {
						t.Errorf("details %q lack %q", details, want)
					}
				}
				if strings.Contains(details, "My watch stopped") || strings.Contains(details, joAnne) {
					t.Errorf("details %q copy more than 2 messages or an unmasked number", details)
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
				text(t, h, susan, "hello") // within WhatsApp's window
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
// once, then again after the ledger and the bindings lost their records:
// one conversation, one expert, one message to the customer, one note.
// After the loss, the id still belongs to its customer: the conversation
// it opened says whose it is.
func TestHandoffReplayed(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			t.Parallel()
			l, b := &amnesia{}, &forgetfulBindings{}
			h := apptest.New(t, apptest.Options{Store: store, Flex: true, WrapLedger: func(inner conversation.Ledger) conversation.Ledger {
				l.Ledger = inner
				return l
			}, WrapBindings: func(inner hf.Bindings) hf.Bindings {
				b.Bindings = inner
				return b
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
					b.forget()
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
				n, experts, msgs := len(h.Twilio.Conversations()), h.Workers(conv), handoffMessages(h, conv, "flex-replay")
				_, details := customerDetails(t, h, 0, joAnneID)
				notes := strings.Count(details, "From the contact center")
				t.Logf("%s: %d calls of one handoff id: %d conversation, %d expert, %d message, %d note", phase, total, n, len(experts), len(msgs), notes)
				if n != 1 || len(experts) != 1 || len(msgs) != 1 || notes != 1 {
					t.Errorf("%s: after %d calls: %d conversations, experts %v, messages %d, notes %d; want 1/1/1/1", phase, total, n, experts, len(msgs), notes)
				}
			}
			// The bindings lost again: another customer with the id is
			// refused, for the conversation handoff-flex-replay holds
			// Jo Anne; and nothing changes.
			b.forget()
			before := h.Transcript(convOf(convs))
			for _, other := range []url.Values{
				{"handoff_id": {"flex-replay"}, "customer_id": {"1"}},
				{"handoff_id": {"flex-replay"}, "address": {maria}},
			} {
				if status, _, body := handoff(t, h, other); status != http.StatusConflict {
					t.Errorf("after the loss, %v = %d %s; want 409", other, status, body)
				}
			}
			h.WaitWork(t)
			if n, got := len(h.Twilio.Conversations()), h.Transcript(convOf(convs)); n != 1 || !slices.Equal(got, before) {
				t.Errorf("a refused handoff changed things: %d conversations, transcript %q", n, got)
			}
			if ps := customers(h, convOf(convs)); !slices.Equal(ps, []string{joAnne}) {
				t.Errorf("customers in the conversation = %v", ps)
			}
		})
	}
}

// forgetfulBindings is the bindings store, until forget: then it has
// lost every record, and keeps only those made since.
type forgetfulBindings struct {
	mu sync.Mutex
	hf.Bindings
}

func (b *forgetfulBindings) forget() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.Bindings = inmem.NewHandoffs()
}

func (b *forgetfulBindings) store() hf.Bindings {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Bindings
}

func (b *forgetfulBindings) Binding(ctx context.Context, id string) (hf.Binding, error) {
	return b.store().Binding(ctx, id)
}

func (b *forgetfulBindings) Bind(ctx context.Context, x hf.Binding) (hf.Binding, error) {
	return b.store().Bind(ctx, x)
}

// convOf returns the one conversation of the answers counted in convs.
func convOf(convs map[string]int) string {
	for c := range convs {
		return c
	}
	return ""
}

// customers returns the addresses of the conversation's SMS/WhatsApp
// participants.
func customers(h *apptest.Harness, conv string) []string {
	var out []string
	for _, p := range h.Twilio.Participants(conv) {
		if p.Binding != nil {
			out = append(out, p.Binding.Address)
		}
	}
	return out
}

// TestHandoffBinding: a handoff id belongs to the customer, address and
// expert it was first accepted for. The same request again is a retry;
// any other gets 409 and changes nothing; of five customers sent at once
// with one id, one is accepted, alone in its conversation.
func TestHandoffBinding(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			t.Parallel()
			h := flexHarness(t, store, nil)
			first := url.Values{"handoff_id": {"flex-bound"}, "customer_id": {joAnneID}, "worker": {"ann@example.com"}, "summary": {"Strap"}}
			status, ans, body := handoff(t, h, first)
			if status != http.StatusOK {
				t.Fatalf("first handoff = %d %s", status, body)
			}
			h.WaitWork(t)
			conv := ans.Conversation
			before, beforeCustomers := h.Transcript(conv), customers(h, conv)
			for _, tt := range []struct {
				name   string
				params url.Values
			}{
				{"other customer", url.Values{"handoff_id": {"flex-bound"}, "customer_id": {"1"}, "worker": {"ann@example.com"}}},
				{"other customer by address", url.Values{"handoff_id": {"flex-bound"}, "address": {maria}, "worker": {"ann@example.com"}}},
				{"other address of the customer", url.Values{"handoff_id": {"flex-bound"}, "customer_id": {joAnneID}, "address": {"whatsapp:" + joAnne}, "worker": {"ann@example.com"}}},
				{"other expert", url.Values{"handoff_id": {"flex-bound"}, "customer_id": {joAnneID}, "worker": {"bob@example.com"}}},
				{"other area", url.Values{"handoff_id": {"flex-bound"}, "customer_id": {joAnneID}, "worker": {"ann@example.com"}, "area": {"watches"}}},
			} {
				status, _, body := handoff(t, h, tt.params)
				if status != http.StatusConflict || !strings.Contains(body, `handoff_id \"flex-bound\" was used for another`) {
					t.Errorf("%s: %d %s, want 409", tt.name, status, body)
				}
			}
			h.WaitWork(t)
			if n := len(h.Twilio.Conversations()); n != 1 {
				t.Errorf("%d conversations after refused handoffs, want 1", n)
			}
			if got := h.Transcript(conv); !slices.Equal(got, before) {
				t.Errorf("refused handoffs changed the transcript:\n%q\nwas\n%q", got, before)
			}
			if got := customers(h, conv); !slices.Equal(got, beforeCustomers) {
				t.Errorf("customers = %v, was %v", got, beforeCustomers)
			}
			if w := h.Workers(conv); !slices.Equal(w, []string{"ann@example.com"}) {
				t.Errorf("experts = %v, want ann alone", w)
			}
			// The same request, by id or by address, is a retry.
			for _, retry := range []url.Values{first, {"handoff_id": {"flex-bound"}, "address": {joAnne}, "worker": {"ann@example.com"}}} {
				if status, again, body := handoff(t, h, retry); status != http.StatusOK || again.Conversation != conv {
					t.Errorf("retry %v = %d %s, want 200 and %s", retry, status, body, conv)
				}
			}
		})
	}
}

// TestHandoffNationalAddress: with DEFAULT_REGION a national number is
// the customer's, normalised as the sync normalises CRM channels; the
// same number written otherwise is the same binding.
func TestHandoffNationalAddress(t *testing.T) {
	h := flexHarness(t, apptest.InMemory, config.Env{"DEFAULT_REGION": "GB"})
	status, ans, body := handoff(t, h, url.Values{"handoff_id": {"flex-national"}, "customer_id": {joAnneID}, "address": {"07491 000002"}})
	if status != http.StatusOK {
		t.Fatalf("handoff = %d %s", status, body)
	}
	if got := customers(h, ans.Conversation); !slices.Equal(got, []string{joAnne}) {
		t.Errorf("customers = %v, want %s", got, joAnne)
	}
	status, again, body := handoff(t, h, url.Values{"handoff_id": {"flex-national"}, "address": {"+44 7491 000002"}})
	if status != http.StatusOK || again.Conversation != ans.Conversation {
		t.Errorf("the same number written otherwise = %d %s, want the same conversation", status, body)
	}
}

// TestHandoffOneIDFiveCustomers: five requests at once with one handoff
// id and five customers: one is accepted, the others get 409; one
// conversation, one customer in it.
func TestHandoffOneIDFiveCustomers(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			t.Parallel()
			h := flexHarness(t, store, nil)
			var five []crm.Customer
			for i := range 5 {
				five = append(five, crm.Customer{
					ID: fmt.Sprintf("race-%d", i), DisplayName: fmt.Sprintf("Racer %d", i),
					Channels: []crm.Channel{{Type: "sms", Value: fmt.Sprintf("+4474910001%02d", i)}}, SyncedAt: time.Now(),
				})
			}
			if err := h.App.Store.Upsert(t.Context(), five...); err != nil {
				t.Fatal(err)
			}
			statuses := make([]int, len(five))
			var wg sync.WaitGroup
			for i, c := range five {
				wg.Go(func() {
					statuses[i], _, _ = handoff(t, h, url.Values{"handoff_id": {"flex-race"}, "customer_id": {c.ID}, "summary": {"race"}})
				})
			}
			wg.Wait()
			h.WaitWork(t)
			accepted, refused := 0, 0
			for _, s := range statuses {
				switch s {
				case http.StatusOK, http.StatusAccepted:
					accepted++
				case http.StatusConflict:
					refused++
				}
			}
			convs := h.Twilio.Conversations()
			t.Logf("5 customers, one handoff id: %d accepted, %d refused, %d conversation(s)", accepted, refused, len(convs))
			if accepted != 1 || refused != 4 || len(convs) != 1 {
				t.Fatalf("statuses %v, %d conversations; want one accepted, four 409, one conversation", statuses, len(convs))
			}
			if got := customers(h, convs[0].SID); len(got) != 1 {
				t.Errorf("customers in the conversation = %v, want one", got)
			}
		})
	}
}

// TestHandoffPrivate: the agent's summary and the copied Flex messages
// never reach the customer's phone; the customer gets one short message
// and the expert sees the context in the customer's details, on every
// instance, phone numbers masked and control characters removed.
func TestHandoffPrivate(t *testing.T) {
	t.Parallel()
	h := apptest.New(t, apptest.Options{Store: apptest.Firestore, Flex: true, Instances: 2, CloudTasks: true})
	h.Twilio.AddWorker("ann@example.com", true, nil, h.Twilio.QueueSID())
	flexConv := h.Flex.AddConversation("Jo Anne", "")
	h.Flex.AddMessage(flexConv, joAnne, "My watch stopped, call me on +44 7700 900123")
	h.Flex.AddMessage(flexConv, apptest.FlexAgent, "Noted\u202e, transferring\x1b[2J you")
	summary := "VIP customer\x00, strap \u202Ereplacement\u202C, callback +33 6 12 34 56 78"
	status, ans, body := handoff(t, h, url.Values{
		"handoff_id": {"flex-private"}, "customer_id": {joAnneID},
		"summary": {summary}, "flex_conversation_sid": {flexConv}, "message_count": {"2"},
	})
	if status != http.StatusOK {
		t.Fatalf("handoff = %d %s", status, body)
	}
	h.WaitWork(t)
	msgs := h.Twilio.Messages(ans.Conversation)
	if len(msgs) != 1 || len(handoffMessages(h, ans.Conversation, "flex-private")) != 1 {
		t.Fatalf("messages to the customer = %q, want the one handoff message", h.Transcript(ans.Conversation))
	}
	for _, secret := range []string{"VIP", "strap", "callback", "watch stopped", "transferring", "Noted", apptest.FlexAgent} {
		if strings.Contains(msgs[0].Body, secret) {
			t.Errorf("the customer's phone got %q: %q", secret, msgs[0].Body)
		}
	}
	if strings.Contains(msgs[0].Body, "@") {
		t.Errorf("the customer's message holds an e-mail address: %q", msgs[0].Body)
	}
	c, _ := h.Twilio.Conversation(ans.Conversation)
	if strings.Contains(c.Attributes, "VIP") || !strings.Contains(c.Attributes, `"handoff_id":"flex-private"`) {
		t.Errorf("conversation attributes = %s, want the handoff id and not the text", c.Attributes)
	}
	// Both instances show the context, from Firestore.
	for i := range h.Apps {
		title, details := customerDetails(t, h, i, joAnneID)
		for _, want := range []string{"From the contact center — ", "VIP customer, strap replacement, callback", "Noted, transferring[2J you", "+** **** ****23", "+** * ** ** ** 78"} {
			if !strings.Contains(details, want) {
				t.Errorf("instance %d: details %q lack %q", i, details, want)
			}
		}
		for _, leak := range []string{"7700 900123", "12 34 56 78", joAnne, "\x00", "\x1b", "\u202e", "\u202E", "\u202C"} {
			if strings.Contains(details, leak) {
				t.Errorf("instance %d: details %q hold %q", i, details, leak)
			}
		}
		if title == "" {
			t.Errorf("instance %d: details without a title", i)
		}
	}
}

// TestHandoffLedgerDown: without a ledger nothing keeps two attempts at a
// handoff apart, so the function's own attempt leaves the job to its
// queued task (the safety net accept has), which does it once.
func TestHandoffLedgerDown(t *testing.T) {
	t.Parallel()
	h := apptest.New(t, apptest.Options{Flex: true, WrapLedger: func(inner conversation.Ledger) conversation.Ledger { return downLedger{inner} }})
	h.Twilio.AddWorker("ann@example.com", true, nil, h.Twilio.QueueSID())
	status, ans, body := handoff(t, h, url.Values{"handoff_id": {"flex-down"}, "customer_id": {joAnneID}})
	if status != http.StatusAccepted || ans.Status != "queued" {
		t.Errorf("handoff with the ledger down = %d %s, want 202 queued", status, body)
	}
	h.WaitWork(t)
	if msgs, w := handoffMessages(h, ans.Conversation, "flex-down"), h.Workers(ans.Conversation); len(msgs) != 1 || !slices.Equal(w, []string{"ann@example.com"}) {
		t.Errorf("after the queue: %d handoff messages, experts %v; want 1 and ann", len(msgs), w)
	}
}

// TestHandoffBody: a body over 64 KiB gets 413, however it is sent, and
// a malformed one 400 naming what is wrong.
func TestHandoffBody(t *testing.T) {
	h := flexHarness(t, apptest.InMemory, nil)
	send := func(contentType, body string, length bool) (int, string) {
		t.Helper()
		var r io.Reader = strings.NewReader(body)
		if !length {
			r = io.MultiReader(r) // no Content-Length: read until the bound
		}
		req, _ := http.NewRequest(http.MethodPost, h.URL("handoff"), r)
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+apptest.HandoffSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	big := strings.Repeat("x", 70<<10)
	form := "handoff_id=flex-big&customer_id=2&summary=" + big
	jsonBody := `{"handoff_id":"flex-big","customer_id":"2","summary":"` + big + `"}`
	for _, tt := range []struct {
		name, contentType, body string
		length                  bool
		want                    int
		says                    string
	}{
		{"large form", "application/x-www-form-urlencoded", form, true, 413, "larger than 65536 bytes"},
		{"large form, no length", "application/x-www-form-urlencoded", form, false, 413, "larger than 65536 bytes"},
		{"large JSON", "application/json", jsonBody, true, 413, "larger than 65536 bytes"},
		{"large JSON, no length", "application/json", jsonBody, false, 413, "larger than 65536 bytes"},
		{"malformed JSON", "application/json", `{"handoff_id": "x",`, true, 400, "not valid JSON: unexpected end of JSON input"},
		{"JSON array", "application/json", `["x"]`, true, 400, "must be a JSON object"},
		{"malformed form", "application/x-www-form-urlencoded", "handoff_id=x&customer_id=%zz", true, 400, "malformed form body"},
	} {
		status, body := send(tt.contentType, tt.body, tt.length)
		if status != tt.want || !strings.Contains(body, tt.says) {
			t.Errorf("%s: %d %s, want %d saying %q", tt.name, status, clip(body), tt.want, tt.says)
		}
	}
	signed, body, err := h.FlexSignedHandoff(url.Values{"handoff_id": {"flex-big"}, "customer_id": {joAnneID}, "summary": {big}}, apptest.FlexAuthToken)
	if err != nil || signed != http.StatusRequestEntityTooLarge {
		t.Errorf("large Flex-signed form: %d %s %v, want 413", signed, clip(body), err)
	}
	if n := len(h.Twilio.Conversations()); n != 0 {
		t.Errorf("refused handoffs created %d conversations", n)
	}
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// TestHandoffRefused: bad input gets a clear 4xx, and only the two kinds
// of caller get in.
func TestHandoffRefused(t *testing.T) {
	h := flexHarness(t, apptest.InMemory, nil)
	h.Twilio.AddWorker("gone@example.com", true, nil)
	h.Twilio.SetUserActive("gone@example.com", false)
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
			{"another customer's address", url.Values{"handoff_id": {"x"}, "customer_id": {joAnneID}, "address": {maria}}, 422, "address is not one of the channels of customer"},
			{"a stranger's address", url.Values{"handoff_id": {"x"}, "customer_id": {joAnneID}, "address": {"+14155550199"}}, 422, "address is not one of the channels of customer"},
			{"a stranger's WhatsApp", url.Values{"handoff_id": {"x"}, "customer_id": {joAnneID}, "address": {"whatsapp:+14155550199"}}, 422, "address is not one of the channels of customer"},
			{"Messenger address", url.Values{"handoff_id": {"x"}, "customer_id": {joAnneID}, "address": {"messenger:123"}}, 400, "address must be an SMS number"},
			{"Messenger address alone", url.Values{"handoff_id": {"x"}, "address": {"messenger:123"}}, 400, "address must be an SMS number"},
			{"e-mail address", url.Values{"handoff_id": {"x"}, "address": {"jo@example.com"}}, 400, "address must be an SMS number"},
			{"not a number", url.Values{"handoff_id": {"x"}, "address": {"+12"}}, 400, "address must be an SMS number"},
			{"not a worker", url.Values{"handoff_id": {"x"}, "customer_id": {joAnneID}, "worker": {"nobody@example.com"}}, 422, "not a Frontline worker"},
			{"a deactivated worker", url.Values{"handoff_id": {"x"}, "customer_id": {joAnneID}, "worker": {"gone@example.com"}}, 422, `gone@example.com\" is deactivated in Frontline`},
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
	return twiliotest.Sign(apptest.FlexAuthToken, h.URL("handoff"), params)
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
