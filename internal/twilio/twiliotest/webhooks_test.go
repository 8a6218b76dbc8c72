package twiliotest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	twiliogo "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	conv "github.com/twilio/twilio-go/rest/conversations/v1"
	tr "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// app plays our webhook endpoints: it checks every signature with
// twilio-go's own validator and answers with handle.
type app struct {
	t         *testing.T
	authToken string
	srv       *httptest.Server
	handle    func(path string, form url.Values) (status int, body string)

	mu      sync.Mutex
	invalid []string // requests whose signature did not validate
	tokens  []string
}

func newApp(t *testing.T, authToken string, handle func(path string, form url.Values) (int, string)) *app {
	a := &app{t: t, authToken: authToken, handle: handle}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fullURL := a.srv.URL + r.URL.RequestURI()
	sig := r.Header.Get("X-Twilio-Signature")
	params := map[string]string{}
	for k := range form {
		params[k] = form.Get(k)
	}
	rv := client.NewRequestValidator(a.authToken)
	a.mu.Lock()
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
		!rv.Validate(fullURL, params, sig) || !rv.ValidateBody(fullURL, body, sig) {
		a.invalid = append(a.invalid, r.URL.Path)
	}
	a.tokens = append(a.tokens, r.Header.Get("I-Twilio-Idempotency-Token"))
	a.mu.Unlock()
	status, answer := a.handle(r.URL.Path, form)
	if answer != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	io.WriteString(w, answer)
}

func (a *app) url(path string) string { return a.srv.URL + path }

func (a *app) checkSignatures() {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.invalid) > 0 {
		a.t.Errorf("signatures not valid for %v", a.invalid)
	}
}

type event struct{ target, eventType string }

func events(ds []twiliotest.Delivery) []event {
	out := make([]event, len(ds))
	for i, d := range ds {
		out[i] = event{d.Target, d.EventType}
	}
	return out
}

var allFilters = []string{"onConversationAdd", "onMessageAdd", "onParticipantAdded", "onMessageAdded"}

// TestInboundSequence plays a customer's first and second texts against a
// fake backend that does what Expert Hub does at each step.
func TestInboundSequence(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	rest := twilio.New(s.ClientConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	a := newApp(t, s.AuthToken(), backend(ctx, t, rest))
	s.SetWebhooks(twiliotest.Webhooks{
		PreWebhookURL:  a.url("/pre-event?v=1"),
		PostWebhookURL: a.url("/post-event"),
		Filters:        allFilters,
		RoutingURL:     a.url("/routing"),
	})

	res, err := s.CustomerTexts(ctx, "+15550001111", "+15559990000", "Hello")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Rejected || res.Message.Index != 1 || res.Message.Attributes != `{"seen":true}` {
		t.Errorf("first text: %+v", res)
	}
	a.checkSignatures()

	want := []event{
		{"pre", "onConversationAdd"},
		{"post", "onParticipantAdded"},
		{"routing", ""},
		{"pre", "onMessageAdd"},
		{"post", "onMessageAdded"},
	}
	ds := s.Deliveries()
	if got := events(ds); !slices.Equal(got, want) {
		t.Fatalf("deliveries = %v, want %v", got, want)
	}
	if ds[0].URL != a.url("/pre-event?v=1") {
		t.Errorf("pre-event URL = %s, want the configured one with its query", ds[0].URL)
	}

	checkInboundParams(t, s, ds, res)
	checkInboundState(t, s, res)

	// The second text goes to the same conversation, without creation.
	convSID := res.ConversationSID
	res2, err := s.CustomerTexts(ctx, "+15550001111", "+15559990000", "Ann please")
	if err != nil {
		t.Fatal(err)
	}
	if res2.Created || res2.ConversationSID != convSID || res2.Message.Index != 3 {
		t.Errorf("second text: %+v, want index 3 in %s", res2, convSID)
	}
	want = append(want, event{"pre", "onMessageAdd"}, event{"post", "onMessageAdded"})
	if got := events(s.Deliveries()); !slices.Equal(got, want) {
		t.Errorf("deliveries = %v, want %v", got, want)
	}
	a.checkSignatures()
	a.mu.Lock()
	defer a.mu.Unlock()
	seen := map[string]bool{}
	for _, tok := range a.tokens {
		if tok == "" || seen[tok] {
			t.Errorf("idempotency tokens %q are not unique and set", a.tokens)
			break
		}
		seen[tok] = true
	}
}

// backend does what Expert Hub does at each step of a first text.
func backend(ctx context.Context, t *testing.T, rest *twilio.Client) func(path string, form url.Values) (int, string) {
	return func(path string, form url.Values) (int, string) {
		conv := form.Get("ConversationSid")
		var answer string
		var err error
		switch path + " " + form.Get("EventType") {
		case "/pre-event onConversationAdd":
			answer = `{"friendly_name":"Ann Customer","attributes":"{\"avatar\":\"https://x/a.png\"}"}`
		case "/post-event onParticipantAdded":
			err = rest.UpdateParticipantAttributes(ctx, conv, form.Get("ParticipantSid"), `{"customer_id":"42"}`)
		case "/routing ":
			_, err = rest.AddParticipant(ctx, conv, "expert@example.com", "")
		case "/pre-event onMessageAdd":
			// The bot answers while Twilio holds the customer's message.
			_, err = rest.PostMessage(ctx, conv, "", "Who do you want to talk to?", "")
			answer = `{"attributes":"{\"seen\":true}"}`
		case "/post-event onMessageAdded":
		default:
			t.Errorf("unexpected %s %s", path, form.Get("EventType"))
			return 500, ""
		}
		if err != nil {
			t.Error(err)
		}
		return 200, answer
	}
}

// checkInboundParams checks the parameters of each event of a first text,
// as https://www.twilio.com/docs/conversations/conversations-webhooks.
func checkInboundParams(t *testing.T, s *twiliotest.Server, ds []twiliotest.Delivery, res twiliotest.TextResult) {
	t.Helper()
	convSID, partSID := res.ConversationSID, res.ParticipantSID
	params := []map[string]string{
		{
			"EventType": "onConversationAdd", "Source": "SMS", "AccountSid": s.AccountSID(), "RetryCount": "0",
			"MessagingBinding.Address": "+15550001111", "MessagingBinding.ProxyAddress": "+15559990000",
			"MessageBody": "Hello", "ConversationSid": "",
		},
		{
			"EventType": "onParticipantAdded", "Source": "SMS", "ConversationSid": convSID, "ParticipantSid": partSID,
			"MessagingBinding.Address": "+15550001111", "MessagingBinding.ProxyAddress": "+15559990000",
			"MessagingBinding.Type": "SMS", "Attributes": "{}", "Identity": "",
		},
		{"ConversationSid": convSID, "MessagingBinding.Address": "+15550001111"},
		{
			"EventType": "onMessageAdd", "Source": "SMS", "ConversationSid": convSID, "ParticipantSid": partSID,
			"Author": "+15550001111", "Body": "Hello", "Attributes": "{}", "MessageSid": "", "Index": "", "ClientIdentity": "",
		},
		{
			"EventType": "onMessageAdded", "Source": "SMS", "ConversationSid": convSID, "ParticipantSid": partSID,
			"Author": "+15550001111", "Body": "Hello", "Attributes": `{"seen":true}`,
			"MessageSid": res.Message.SID, "Index": "1",
		},
	}
	for i, want := range params {
		for k, v := range want {
			if got := ds[i].Params.Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", ds[i].Target, ds[i].EventType, k, got, v)
			}
		}
	}
}

// checkInboundState checks the conversation a first text left.
func checkInboundState(t *testing.T, s *twiliotest.Server, res twiliotest.TextResult) {
	t.Helper()
	convSID, partSID := res.ConversationSID, res.ParticipantSID
	c, _ := s.Conversation(convSID)
	if c.FriendlyName != "Ann Customer" || c.Attributes != `{"avatar":"https://x/a.png"}` || c.State != "active" {
		t.Errorf("conversation = %+v", c)
	}
	ps := s.Participants(convSID)
	if len(ps) != 2 || ps[0].Attributes != `{"customer_id":"42"}` || ps[0].Binding == nil || ps[0].Binding.Type != "sms" ||
		ps[1].Identity != "expert@example.com" {
		t.Errorf("participants = %+v", ps)
	}
	ms := s.Messages(convSID)
	if len(ms) != 2 || ms[0].Author != "system" || ms[0].Index != 0 || ms[1].Author != "+15550001111" || ms[1].ParticipantSID != partSID {
		t.Errorf("messages = %+v; want the bot's reply published before the customer's message", ms)
	}
}

func TestPreEventAnswers(t *testing.T) {
	tests := []struct {
		name   string
		answer func() (int, string)
		// want is the published message's body, author and attributes;
		// empty body: rejected.
		wantBody, wantAuthor, wantAttrs string
		wantRejectStatus                int
		wantTimedOut                    bool
	}{
		{"empty 200", func() (int, string) { return 200, "" }, "hi", "+15550001111", "{}", 0, false},
		{"empty object", func() (int, string) { return 200, "{}" }, "hi", "+15550001111", "{}", 0, false},
		{"modifications", func() (int, string) {
			return 200, `{"body":"[Ann] hi","author":"Ann","attributes":"{\"k\":\"v\"}"}`
		}, "[Ann] hi", "Ann", `{"k":"v"}`, 0, false},
		{"plain text 200", func() (int, string) { return 200, "CH123" }, "hi", "+15550001111", "{}", 0, false},
		{"204", func() (int, string) { return 204, "" }, "hi", "+15550001111", "{}", 0, false},
		{"500 drops the message", func() (int, string) { return 500, "" }, "", "", "", 500, false},
		{"403 drops the message", func() (int, string) { return 403, "" }, "", "", "", 403, false},
		{"invalid attributes drop the message", func() (int, string) {
			return 200, `{"attributes":"{not json"}`
		}, "", "", "", 200, false},
		{"non-string body drops the message", func() (int, string) { return 200, `{"body":7}` }, "", "", "", 200, false},
		{"slow answer publishes unmodified", func() (int, string) {
			time.Sleep(500 * time.Millisecond)
			return 500, ""
		}, "hi", "+15550001111", "{}", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := twiliotest.NewServer(twiliotest.Config{WebhookTimeout: 100 * time.Millisecond})
			t.Cleanup(s.Close)
			a := newApp(t, s.AuthToken(), func(string, url.Values) (int, string) { return tt.answer() })
			s.SetWebhooks(twiliotest.Webhooks{PreWebhookURL: a.url("/pre"), Filters: []string{"onMessageAdd"}})

			res, err := s.CustomerTexts(context.Background(), "+15550001111", "+15559990000", "hi")
			if err != nil {
				t.Fatal(err)
			}
			ms := s.Messages(res.ConversationSID)
			rejections := s.Rejections()
			if tt.wantBody == "" {
				if !res.Rejected || len(ms) != 0 {
					t.Errorf("rejected = %v, messages = %+v; want the message dropped", res.Rejected, ms)
				}
				if len(rejections) != 1 || rejections[0].Status != tt.wantRejectStatus || rejections[0].EventType != "onMessageAdd" {
					t.Errorf("rejections = %+v", rejections)
				}
			} else {
				if res.Rejected || len(ms) != 1 || len(rejections) != 0 {
					t.Fatalf("rejected = %v, messages = %+v, rejections = %+v", res.Rejected, ms, rejections)
				}
				if m := ms[0]; m.Body != tt.wantBody || m.Author != tt.wantAuthor || m.Attributes != tt.wantAttrs || m.ParticipantSID != res.ParticipantSID {
					t.Errorf("published %+v, want %q by %q with %s", m, tt.wantBody, tt.wantAuthor, tt.wantAttrs)
				}
			}
			if ds := s.Deliveries(); len(ds) != 1 || ds[0].TimedOut != tt.wantTimedOut {
				t.Errorf("deliveries = %+v, want one, timed out = %v", ds, tt.wantTimedOut)
			}
		})
	}
}

func TestConversationAddRejected(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	a := newApp(t, s.AuthToken(), func(string, url.Values) (int, string) { return 403, "" })
	s.SetWebhooks(twiliotest.Webhooks{PreWebhookURL: a.url("/pre"), PostWebhookURL: a.url("/post"), Filters: allFilters, RoutingURL: a.url("/routing")})

	res, err := s.CustomerTexts(context.Background(), "+15550001111", "+15559990000", "hi")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Rejected || res.ConversationSID != "" {
		t.Errorf("result %+v, want rejected", res)
	}
	if cs := s.Conversations(); len(cs) != 0 {
		t.Errorf("conversations = %+v, want none", cs)
	}
	if got := events(s.Deliveries()); !slices.Equal(got, []event{{"pre", "onConversationAdd"}}) {
		t.Errorf("deliveries = %v", got)
	}
}

// TestConversationAddNameLimit: a friendly_name over 256 characters is an
// invalid modification, which drops the conversation.
func TestConversationAddNameLimit(t *testing.T) {
	tests := []struct {
		name         string
		friendly     string
		wantRejected bool
	}{
		{"256 characters", strings.Repeat("é", 256), false},
		{"257 characters", strings.Repeat("é", 257), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := twiliotest.NewServer(twiliotest.Config{})
			t.Cleanup(s.Close)
			answer, _ := json.Marshal(map[string]string{"friendly_name": tt.friendly})
			a := newApp(t, s.AuthToken(), func(string, url.Values) (int, string) { return 200, string(answer) })
			s.SetWebhooks(twiliotest.Webhooks{PreWebhookURL: a.url("/pre"), Filters: []string{"onConversationAdd"}})

			res, err := s.CustomerTexts(context.Background(), "+15550001111", "+15559990000", "hi")
			if err != nil {
				t.Fatal(err)
			}
			if res.Rejected != tt.wantRejected {
				t.Fatalf("rejected = %v, want %v: %+v", res.Rejected, tt.wantRejected, s.Rejections())
			}
			if !tt.wantRejected {
				if c, _ := s.Conversation(res.ConversationSID); c.FriendlyName != tt.friendly {
					t.Errorf("friendly name %q", c.FriendlyName)
				}
			} else if cs := s.Conversations(); len(cs) != 0 {
				t.Errorf("conversations = %d, want none", len(cs))
			}
		})
	}
}

func TestWhatsAppAndFilters(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	a := newApp(t, s.AuthToken(), func(string, url.Values) (int, string) { return 200, "" })
	// Only post-events are filtered in: pre-events are not sent.
	s.SetWebhooks(twiliotest.Webhooks{PreWebhookURL: a.url("/pre"), PostWebhookURL: a.url("/post"), Filters: []string{"onParticipantAdded"}})

	res, err := s.CustomerTexts(context.Background(), "whatsapp:+15550001111", "whatsapp:+15559990000", "hola")
	if err != nil {
		t.Fatal(err)
	}
	ds := s.Deliveries()
	if got := events(ds); !slices.Equal(got, []event{{"post", "onParticipantAdded"}}) {
		t.Fatalf("deliveries = %v", got)
	}
	if v := ds[0].Params.Get("MessagingBinding.Type"); v != "WHATSAPP" {
		t.Errorf("MessagingBinding.Type = %q, want WHATSAPP", v)
	}
	if ps := s.Participants(res.ConversationSID); len(ps) != 1 || ps[0].Binding.Type != "whatsapp" {
		t.Errorf("participants = %+v", ps)
	}
	// The same customer on another of our numbers is another conversation.
	res2, err := s.CustomerTexts(context.Background(), "whatsapp:+15550001111", "whatsapp:+15559990001", "hola")
	if err != nil {
		t.Fatal(err)
	}
	if !res2.Created || res2.ConversationSID == res.ConversationSID {
		t.Errorf("second number: %+v, want a new conversation", res2)
	}
	a.checkSignatures()
}

func TestClosedConversationStartsANewOne(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	ctx := context.Background()
	first, err := s.CustomerTexts(ctx, "+15550001111", "+15559990000", "hi")
	if err != nil {
		t.Fatal(err)
	}
	rc := restClient(s)
	if _, err := rc.ConversationsV1.UpdateConversation(first.ConversationSID, (&conv.UpdateConversationParams{}).SetState("closed")); err != nil {
		t.Fatal(err)
	}
	second, err := s.CustomerTexts(ctx, "+15550001111", "+15559990000", "hi again")
	if err != nil {
		t.Fatal(err)
	}
	if !second.Created || second.ConversationSID == first.ConversationSID {
		t.Errorf("after closing: %+v, want a new conversation", second)
	}
}

func TestWorkerTexts(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	ctx := context.Background()
	a := newApp(t, s.AuthToken(), func(string, url.Values) (int, string) { return 200, "" })
	res, err := s.CustomerTexts(ctx, "+15550001111", "+15559990000", "hi")
	if err != nil {
		t.Fatal(err)
	}
	worker, err := twilio.New(s.ClientConfig()).AddParticipant(ctx, res.ConversationSID, "ann@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	s.SetWebhooks(twiliotest.Webhooks{PreWebhookURL: a.url("/pre"), PostWebhookURL: a.url("/post"), Filters: allFilters})

	w, err := s.WorkerTexts(ctx, res.ConversationSID, "ann@example.com", "How can I help?")
	if err != nil {
		t.Fatal(err)
	}
	if w.Message.Index != 1 || w.Message.Author != "ann@example.com" || w.ParticipantSID != worker.SID || w.Message.ParticipantSID != worker.SID {
		t.Errorf("worker text = %+v", w)
	}
	ds := s.Deliveries()
	if got := events(ds); !slices.Equal(got, []event{{"pre", "onMessageAdd"}, {"post", "onMessageAdded"}}) {
		t.Fatalf("deliveries = %v", got)
	}
	for _, d := range ds {
		if d.Params.Get("Source") != "SDK" || d.Params.Get("ClientIdentity") != "ann@example.com" || d.Params.Get("Author") != "ann@example.com" {
			t.Errorf("%s params = %v", d.EventType, d.Params)
		}
	}
	a.checkSignatures()

	if _, err := s.WorkerTexts(ctx, res.ConversationSID, "bob@example.com", "hi"); err == nil {
		t.Error("a non-participant could text")
	}
}

func TestRedeliver(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	ctx := context.Background()
	var mu sync.Mutex
	var got []url.Values
	a := newApp(t, s.AuthToken(), func(_ string, form url.Values) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, form)
		return 200, ""
	})
	s.SetWebhooks(twiliotest.Webhooks{PostWebhookURL: a.url("/post"), Filters: []string{"onMessageAdded"}})
	if _, err := s.CustomerTexts(ctx, "+15550001111", "+15559990000", "hi"); err != nil {
		t.Fatal(err)
	}
	first := s.Deliveries()[0]
	again := s.Redeliver(ctx, first)

	if !again.Redelivery || again.IdempotencyToken != first.IdempotencyToken || again.Status != 200 {
		t.Errorf("redelivery = %+v", again)
	}
	if again.Params.Get("RetryCount") != "1" || again.Params.Get("MessageSid") != first.Params.Get("MessageSid") {
		t.Errorf("redelivered params = %v", again.Params)
	}
	if again.Signature == first.Signature {
		t.Error("the redelivery was not signed anew (RetryCount changed)")
	}
	a.checkSignatures()
	a.mu.Lock()
	if len(a.tokens) != 2 || a.tokens[0] != a.tokens[1] {
		t.Errorf("tokens received = %q, want the same twice", a.tokens)
	}
	a.mu.Unlock()
	if len(got) != 2 {
		t.Errorf("app got %d deliveries, want 2", len(got))
	}
	if n := len(s.Deliveries()); n != 2 {
		t.Errorf("%d deliveries recorded, want 2", n)
	}
}

// TestWebhookEnabledHeader: REST actions asking for webhooks
// (X-Twilio-Webhook-Enabled) are refused, naming the header: Expert Hub
// must not fire its own webhooks (https://www.twilio.com/docs/conversations/conversations-webhooks).
func TestWebhookEnabledHeader(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	convSID := s.AddConversation("", "")
	rc := restClient(s)
	if _, err := rc.ConversationsV1.CreateConversationMessage(convSID, (&conv.CreateConversationMessageParams{}).SetBody("quiet")); err != nil {
		t.Fatal(err)
	}
	_, err := rc.ConversationsV1.CreateConversationMessage(convSID,
		(&conv.CreateConversationMessageParams{}).SetBody("loud").SetXTwilioWebhookEnabled("true"))
	var te *client.TwilioRestError
	if !errors.As(err, &te) || te.Status != 400 || !strings.Contains(te.Message, "X-Twilio-Webhook-Enabled") {
		t.Errorf("with X-Twilio-Webhook-Enabled: %v, want a 400 naming it", err)
	}
	if ms := s.Messages(convSID); len(ms) != 1 || ms[0].Body != "quiet" {
		t.Errorf("messages = %+v, want the quiet one only", ms)
	}
}

// restClient is a bare twilio-go client on the fake, for what
// internal/twilio does not wrap.
func restClient(s *twiliotest.Server) *twiliogo.RestClient {
	base, _ := url.Parse(s.URL)
	c := &client.Client{
		Credentials: client.NewCredentials(s.AccountSID(), s.AuthToken()),
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.URL.Scheme, r.URL.Host, r.Host = base.Scheme, base.Host, ""
			return http.DefaultTransport.RoundTrip(r)
		})},
	}
	c.SetAccountSid(s.AccountSID())
	return twiliogo.NewRestClientWithParams(twiliogo.ClientParams{Client: c})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSignMatchesTwilioValidator(t *testing.T) {
	const token = "12345abcdef"
	tests := []struct {
		name   string
		url    string
		params url.Values
	}{
		{"no params", "https://example.com/hook", url.Values{}},
		{"sorted keys", "https://example.com/pre-event", url.Values{
			"Body": {"Hello"}, "AccountSid": {"AC1"}, "MessagingBinding.Address": {"+15550001111"}, "Attributes": {"{}"},
		}},
		{"query and port", "https://example.com:8443/fn/pre-event?key=v&a=b", url.Values{"EventType": {"onMessageAdd"}}},
		{"unicode and empty", "http://localhost:8080/pre", url.Values{"Body": {"¿Qué tal? 👋 & = +"}, "Empty": {""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := twiliotest.Sign(token, tt.url, tt.params)
			rv := client.NewRequestValidator(token)
			params := map[string]string{}
			for k := range tt.params {
				params[k] = tt.params.Get(k)
			}
			if !rv.Validate(tt.url, params, sig) {
				t.Error("Validate rejects the signature")
			}
			if !rv.ValidateBody(tt.url, []byte(tt.params.Encode()), sig) {
				t.Error("ValidateBody rejects the signature")
			}
			wrong := client.NewRequestValidator("other")
			if wrong.Validate(tt.url, params, sig) {
				t.Error("another token validates the signature")
			}
			if rv.Validate(strings.Replace(tt.url, "/pre", "/post", 1)+"x", params, sig) {
				t.Error("another URL validates the signature")
			}
		})
	}
}

func TestDeliveryFailures(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	// Nothing listens there: no answer, so the message is published.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	s.SetWebhooks(twiliotest.Webhooks{PreWebhookURL: deadURL + "/pre", Filters: allFilters})

	res, err := s.CustomerTexts(context.Background(), "+15550001111", "+15559990000", "hi")
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected || res.Message.Body != "hi" {
		t.Errorf("result %+v, want published unmodified", res)
	}
	ds := s.Deliveries()
	if len(ds) != 2 || ds[0].Err == nil || ds[0].TimedOut {
		t.Errorf("deliveries = %+v, want two failed, not timed out", ds)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.CustomerTexts(ctx, "+15550002222", "+15559990000", "hi"); err == nil {
		t.Error("no error with a cancelled context")
	}
}

func TestPreEventJSONAnswerIsObject(t *testing.T) {
	// A Frontline-style answer: attributes is a JSON string inside JSON.
	answer, _ := json.Marshal(map[string]string{
		"friendly_name": "Ann",
		"attributes":    fmt.Sprintf(`{"avatar":%q}`, "https://x/a.png"),
	})
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	a := newApp(t, s.AuthToken(), func(string, url.Values) (int, string) { return 200, string(answer) })
	s.SetWebhooks(twiliotest.Webhooks{PreWebhookURL: a.url("/pre"), Filters: []string{"onConversationAdd"}})
	res, err := s.CustomerTexts(context.Background(), "+15550001111", "+15559990000", "hi")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s.Conversation(res.ConversationSID)
	if c.FriendlyName != "Ann" || c.Attributes != `{"avatar":"https://x/a.png"}` {
		t.Errorf("conversation = %+v", c)
	}
}

// TestTaskEvents: a task's moves, by REST or by the test's hand, post
// their TaskRouter events to the workspace's event callback, signed with
// the account's token; a deleted task is gone; a canceled or completed
// one stays so; an assigned task cannot be canceled.
func TestTaskEvents(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	var mu sync.Mutex
	var got []string
	a := newApp(t, s.AuthToken(), func(_ string, form url.Values) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, form.Get("EventType")+" "+form.Get("TaskSid")+" "+form.Get("TaskAssignmentStatus"))
		return http.StatusNoContent, ""
	})
	s.SetEventCallback(a.url("/events"), "task.completed", "task.canceled", "task.deleted", "task.wrapup")
	c := twilio.New(twilio.Config{AccountSID: s.AccountSID(), AuthToken: s.AuthToken(), BaseURL: s.URL})
	ctx := context.Background()
	newTask := func() string {
		tk, err := c.CreateTask(ctx, s.WorkspaceSID(), s.WorkflowSID(), "chat", `{"frontline_conversation_sid":"CH1"}`, 0)
		if err != nil {
			t.Fatal(err)
		}
		return tk.SID
	}
	rc := restClient(s)
	done, canceled, deleted := newTask(), newTask(), newTask()
	s.SetTaskStatus(done, "assigned", "")
	if _, err := rc.TaskrouterV1.UpdateTask(s.WorkspaceSID(), done, (&tr.UpdateTaskParams{}).SetAssignmentStatus("canceled")); err == nil {
		t.Error("an assigned task was canceled")
	}
	if _, err := rc.TaskrouterV1.UpdateTask(s.WorkspaceSID(), done, (&tr.UpdateTaskParams{}).SetAssignmentStatus("wrapping")); err != nil {
		t.Fatal(err)
	}
	s.SetTaskStatus(done, "completed", "resolved")
	s.SetTaskStatus(done, "completed", "again") // no second event
	s.SetTaskStatus(canceled, "canceled", "Task TTL Exceeded")
	if err := rc.TaskrouterV1.DeleteTask(s.WorkspaceSID(), deleted, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FetchTask(ctx, s.WorkspaceSID(), deleted); !errors.Is(err, twilio.ErrNotFound) {
		t.Errorf("deleted task fetched: %v", err)
	}
	if tk, err := c.FetchTask(ctx, s.WorkspaceSID(), done); err != nil || tk.AssignmentStatus != "completed" {
		t.Errorf("completed task = %+v, %v", tk, err)
	}
	want := []string{
		"task.wrapup " + done + " wrapping", "task.completed " + done + " completed",
		"task.canceled " + canceled + " canceled", "task.deleted " + deleted + " pending",
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	a.checkSignatures()
}

// TestClosedConversationRefusesMessages: closing is final (50377): no
// message, no update, and closing again is refused the same way.
func TestClosedConversationRefusesMessages(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	ctx := context.Background()
	res, err := s.CustomerTexts(ctx, "+15550001111", "+15559990000", "hi")
	if err != nil {
		t.Fatal(err)
	}
	c := twilio.New(twilio.Config{AccountSID: s.AccountSID(), AuthToken: s.AuthToken(), BaseURL: s.URL})
	for range 2 {
		if err := c.CloseConversation(ctx, res.ConversationSID); err != nil {
			t.Fatalf("close: %v", err)
		}
	}
	if cv, _ := s.Conversation(res.ConversationSID); cv.State != "closed" {
		t.Errorf("state %q", cv.State)
	}
	if _, err := c.PostMessage(ctx, res.ConversationSID, "system", "late", "{}"); err == nil {
		t.Error("a closed conversation took a message")
	}
	if n := len(s.Messages(res.ConversationSID)); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}
