package twilio_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

func newFake(t *testing.T, cfg twiliotest.Config) (*twiliotest.Server, *twilio.Client) {
	t.Helper()
	s := twiliotest.NewServer(cfg)
	t.Cleanup(s.Close)
	return s, twilio.New(s.ClientConfig())
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// requestsTo returns the logged requests whose path starts with prefix.
func requestsTo(s *twiliotest.Server, method, prefix string) []twiliotest.Request {
	var out []twiliotest.Request
	for _, r := range s.Requests() {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func restError(t *testing.T, err error) *client.TwilioRestError {
	t.Helper()
	var te *client.TwilioRestError
	if !errors.As(err, &te) {
		t.Fatalf("error %v is not a *client.TwilioRestError", err)
	}
	return te
}

func TestListParticipantsPaginates(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{})
	ctx := ctxTimeout(t, 10*time.Second)
	res, err := s.CustomerTexts(ctx, "whatsapp:+15550001111", "whatsapp:+15559990000", "hi")
	if err != nil {
		t.Fatal(err)
	}
	conv := res.ConversationSID
	const workers = 130 // more than one page of 100
	for i := range workers {
		if _, err := c.AddParticipant(ctx, conv, fmt.Sprintf("w%03d@example.com", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	s.ClearRequests()

	ps, err := c.ListParticipants(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != workers+1 {
		t.Fatalf("got %d participants, want %d", len(ps), workers+1)
	}
	customer := ps[0]
	want := twilio.Participant{
		SID: res.ParticipantSID, ConversationSID: conv,
		Address: "whatsapp:+15550001111", ProxyAddress: "whatsapp:+15559990000", BindingType: "whatsapp",
		Attributes: "{}", DateCreated: customer.DateCreated,
	}
	if customer != want {
		t.Errorf("customer = %+v, want %+v", customer, want)
	}
	for i, p := range ps[1:] {
		if id := fmt.Sprintf("w%03d@example.com", i); p.Identity != id || p.Address != "" {
			t.Fatalf("participant %d = %+v, want identity %s", i+1, p, id)
		}
	}
	gets := requestsTo(s, http.MethodGet, "/v1/Conversations/"+conv+"/Participants")
	if len(gets) != 2 {
		t.Fatalf("%d list requests, want 2 pages", len(gets))
	}
	if gets[0].Query.Get("PageSize") != "100" || gets[1].Query.Get("PageToken") == "" {
		t.Errorf("page queries = %v, %v; want PageSize=100 then a PageToken", gets[0].Query, gets[1].Query)
	}
}

func TestAddParticipant(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{})
	ctx := ctxTimeout(t, 5*time.Second)
	conv := s.AddConversation("", "")

	p, err := c.AddParticipant(ctx, conv, "ann@example.com", `{"role":"expert"}`)
	if err != nil {
		t.Fatal(err)
	}
	if p.Identity != "ann@example.com" || p.Attributes != `{"role":"expert"}` || !strings.HasPrefix(p.SID, "MB") || p.ConversationSID != conv {
		t.Errorf("added %+v", p)
	}

	_, err = c.AddParticipant(ctx, conv, "ann@example.com", "")
	if !errors.Is(err, twilio.ErrParticipantExists) {
		t.Fatalf("second add: err = %v, want ErrParticipantExists", err)
	}
	if te := restError(t, err); te.Status != 409 || te.Code != twilio.CodeParticipantExists {
		t.Errorf("second add: %+v", te)
	}
	if n := len(s.Participants(conv)); n != 1 {
		t.Errorf("%d participants after adding twice, want 1", n)
	}

	_, err = c.AddParticipant(ctx, "CH00000000000000000000000000000000", "bob@example.com", "")
	if !errors.Is(err, twilio.ErrNotFound) {
		t.Errorf("unknown conversation: err = %v, want ErrNotFound", err)
	}
}

func TestParticipantAttributes(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{})
	ctx := ctxTimeout(t, 5*time.Second)
	res, err := s.CustomerTexts(ctx, "+15550001111", "+15559990000", "hi")
	if err != nil {
		t.Fatal(err)
	}

	const attrs = `{"customer_id":"42","display_name":"Ann"}`
	if err := c.UpdateParticipantAttributes(ctx, res.ConversationSID, res.ParticipantSID, attrs); err != nil {
		t.Fatal(err)
	}
	p, err := c.FetchParticipant(ctx, res.ConversationSID, res.ParticipantSID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Attributes != attrs || p.BindingType != "sms" || p.Address != "+15550001111" {
		t.Errorf("fetched %+v", p)
	}

	s.ClearRequests()
	err = c.UpdateParticipantAttributes(ctx, res.ConversationSID, res.ParticipantSID, "{not json")
	if te := restError(t, err); te.Status != 400 {
		t.Errorf("invalid attributes: status %d, want 400", te.Status)
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("a 400 was sent %d times, want once", n)
	}
	if _, err := c.FetchParticipant(ctx, res.ConversationSID, "MB00000000000000000000000000000000"); !errors.Is(err, twilio.ErrNotFound) {
		t.Errorf("unknown participant: err = %v, want ErrNotFound", err)
	}
}

func TestMessages(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{})
	ctx := ctxTimeout(t, 10*time.Second)
	conv := s.AddConversation("", "")
	if _, err := c.AddParticipant(ctx, conv, "ann@example.com", ""); err != nil {
		t.Fatal(err)
	}

	bot, err := c.PostMessage(ctx, conv, "", "Welcome", `{"bot":true}`)
	if err != nil {
		t.Fatal(err)
	}
	if bot.Author != "system" || bot.Index != 0 || bot.ParticipantSID != "" || bot.Attributes != `{"bot":true}` {
		t.Errorf("bot message = %+v", bot)
	}
	ann, err := c.PostMessage(ctx, conv, "ann@example.com", "Hello", "")
	if err != nil {
		t.Fatal(err)
	}
	if ann.Index != 1 || ann.ParticipantSID == "" || ann.Attributes != "{}" {
		t.Errorf("worker message = %+v", ann)
	}
	const total = 105 // more than one page of 100
	for i := 2; i < total; i++ {
		if _, err := c.PostMessage(ctx, conv, "", fmt.Sprint(i), ""); err != nil {
			t.Fatal(err)
		}
	}

	ms, err := c.ListMessages(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != total {
		t.Fatalf("listed %d messages, want %d", len(ms), total)
	}
	for i, m := range ms {
		if m.Index != i {
			t.Fatalf("message %d has index %d", i, m.Index)
		}
	}
	if ms[1] != ann {
		t.Errorf("listed %+v, posted %+v", ms[1], ann)
	}
}

func TestListAvailableWorkers(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{NullListAttributes: true})
	ctx := ctxTimeout(t, 10*time.Second)
	ws, pool := s.WorkspaceSID(), s.QueueSID()
	const other = "WQ0000000000000000000000000000beef"
	s.AddWorker("ann@example.com", true, map[string]any{"lastAcceptedTaskTime": 5}, pool)
	s.AddWorker("bob@example.com", false, nil, pool)
	s.AddWorker("cid@example.com", true, nil, other)
	for i := range 250 { // more than one page of 200
		s.AddWorker(fmt.Sprintf("pool%03d@example.com", i), true, nil, pool)
	}

	got, err := c.ListAvailableWorkers(ctx, ws, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 251 {
		t.Fatalf("%d available workers in the pool, want 251", len(got))
	}
	ann := got[0]
	if ann.Identity != "ann@example.com" || !ann.Available || ann.ActivityName != "Available" || ann.Attributes != "" {
		t.Errorf("listed %+v; want ann, available, attributes unknown (null on lists)", ann)
	}
	for _, w := range got {
		if w.Identity == "bob@example.com" || w.Identity == "cid@example.com" {
			t.Errorf("listed %s", w.Identity)
		}
	}

	all, err := c.ListAvailableWorkers(ctx, ws, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 252 {
		t.Errorf("%d available workers in the workspace, want 252", len(all))
	}

	full, _, err := c.FetchWorker(ctx, ws, ann.SID)
	if err != nil {
		t.Fatal(err)
	}
	if full.Attributes != `{"lastAcceptedTaskTime":5}` {
		t.Errorf("fetched attributes %q", full.Attributes)
	}
	if _, err := c.ListAvailableWorkers(ctx, "WS00000000000000000000000000000000", pool); !errors.Is(err, twilio.ErrNotFound) {
		t.Errorf("unknown workspace: err = %v, want ErrNotFound", err)
	}
}

func TestFindWorker(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{})
	ctx := ctxTimeout(t, 5*time.Second)
	ws := s.WorkspaceSID()
	sid := s.AddWorker("Ann@Example.com", false, map[string]any{"x": 1})
	s.AddWorker("bob@example.com", true, nil)

	tests := []struct {
		identity string
		wantSID  string
		wantErr  error
	}{
		{"Ann@Example.com", sid, nil},
		{"ann@example.com", sid, nil},
		{"ANN@EXAMPLE.COM", sid, nil},
		{"nobody@example.com", "", twilio.ErrWorkerNotFound},
		// Longer than any friendly name: not asked.
		{strings.Repeat("a", 1500) + "@example.com", "", twilio.ErrWorkerNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.identity[:min(len(tt.identity), 40)], func(t *testing.T) {
			s.ClearRequests()
			w, err := c.FindWorker(ctx, ws, tt.identity)
			wantReqs := 1
			if twilio.Chars(tt.identity) > twilio.MaxWorkerFriendlyName {
				wantReqs = 0
			}
			if n := len(s.Requests()); n != wantReqs {
				t.Errorf("%d requests, want %d", n, wantReqs)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if w.SID != tt.wantSID {
				t.Errorf("found %+v, want %s", w, tt.wantSID)
			}
		})
	}
}

func TestUpdateWorkerAttributesIfMatch(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{})
	ctx := ctxTimeout(t, 5*time.Second)
	ws := s.WorkspaceSID()
	sid := s.AddWorker("ann@example.com", true, map[string]any{"lastAcceptedTaskTime": 1})

	_, etag, err := c.FetchWorker(ctx, ws, sid)
	if err != nil {
		t.Fatal(err)
	}
	if etag == "" {
		t.Fatal("no ETag on fetch")
	}
	if err := c.UpdateWorkerAttributes(ctx, ws, sid, `{"lastAcceptedTaskTime":2}`, etag); err != nil {
		t.Fatalf("update with a fresh ETag: %v", err)
	}
	// The update changed the ETag: the old one is stale now.
	err = c.UpdateWorkerAttributes(ctx, ws, sid, `{"lastAcceptedTaskTime":3}`, etag)
	if !errors.Is(err, twilio.ErrPreconditionFailed) {
		t.Fatalf("update with a stale ETag: err = %v, want ErrPreconditionFailed", err)
	}
	if te := restError(t, err); te.Status != 412 || te.Code != twilio.CodePreconditionFailed {
		t.Errorf("stale ETag: %+v", te)
	}

	// Someone else changes the worker between our fetch and our update.
	w, etag, err := c.FetchWorker(ctx, ws, sid)
	if err != nil {
		t.Fatal(err)
	}
	if w.Attributes != `{"lastAcceptedTaskTime":2}` {
		t.Errorf("attributes = %s after the refused update", w.Attributes)
	}
	s.SetWorkerAttributes("ann@example.com", map[string]any{"lastAcceptedTaskTime": 9})
	if err := c.UpdateWorkerAttributes(ctx, ws, sid, `{"lastAcceptedTaskTime":4}`, etag); !errors.Is(err, twilio.ErrPreconditionFailed) {
		t.Errorf("concurrent change: err = %v, want ErrPreconditionFailed", err)
	}

	if err := c.UpdateWorkerAttributes(ctx, ws, sid, `{"lastAcceptedTaskTime":5}`, ""); err != nil {
		t.Fatalf("unconditional update: %v", err)
	}
	got, _ := s.Worker(sid)
	if got.Attributes != `{"lastAcceptedTaskTime":5}` {
		t.Errorf("attributes = %s", got.Attributes)
	}
	if _, _, err := c.FetchWorker(ctx, ws, "WK00000000000000000000000000000000"); !errors.Is(err, twilio.ErrNotFound) {
		t.Errorf("unknown worker: err = %v, want ErrNotFound", err)
	}
}

// TestRetries checks the retry policy of the package doc on each kind of
// call: how many requests reach Twilio, and what the caller gets.
func TestRetries(t *testing.T) {
	get := func(status int, retryAfter time.Duration) func(*twiliotest.Server) {
		return func(s *twiliotest.Server) { s.FailNext(http.MethodGet, "/v1/Conversations/", status, retryAfter) }
	}
	post := func(status int) func(*twiliotest.Server) {
		return func(s *twiliotest.Server) { s.FailNext(http.MethodPost, "/v1/Conversations/", status, 0) }
	}
	tests := []struct {
		name    string
		fault   func(s *twiliotest.Server) // sets up the failure
		times   int                        // how many times (default 1)
		call    func(ctx context.Context, c *twilio.Client, conv string) error
		worker  bool          // ann@example.com is a participant before the call
		ctx     time.Duration // the call's deadline (default 10 s)
		timeout time.Duration // client round-trip timeout
		method  string
		path    string // request path suffix after the conversation
		// wantReqs requests reach Twilio; wantErr is the HTTP status of the
		// error (0: success; -1: any error); unclear: it wraps ErrUnclear.
		wantReqs int
		wantErr  int
		unclear  bool
		// minGap is the least wait between the first two requests.
		minGap time.Duration
	}{
		{name: "429 with Retry-After on a read", fault: get(429, time.Second), call: listParticipants,
			method: http.MethodGet, path: "/Participants", wantReqs: 2, minGap: time.Second},
		{name: "503 on a read", fault: get(503, 0), call: listParticipants,
			method: http.MethodGet, path: "/Participants", wantReqs: 2},
		{name: "three 500s then success", fault: get(500, 0), times: 3, call: listParticipants,
			method: http.MethodGet, path: "/Participants", wantReqs: 4},
		{name: "gives up after four attempts", fault: get(502, 0), times: 5, call: listParticipants,
			method: http.MethodGet, path: "/Participants", wantReqs: 4, wantErr: 502},
		{name: "503 on an update", fault: post(503), call: updateParticipant, worker: true,
			method: http.MethodPost, path: "/Participants/ann@example.com", wantReqs: 2},
		{name: "timeout on a read", fault: func(s *twiliotest.Server) { s.HangNext(http.MethodGet, "/v1/Conversations/") },
			call: listParticipants, timeout: 200 * time.Millisecond,
			method: http.MethodGet, path: "/Participants", wantReqs: 2},
		{name: "no retry of adding a participant after 503", fault: post(503), call: addParticipant,
			method: http.MethodPost, path: "/Participants", wantReqs: 1, wantErr: 503, unclear: true},
		{name: "no retry of adding a participant after a timeout", fault: func(s *twiliotest.Server) { s.HangNext(http.MethodPost, "/v1/Conversations/") },
			call: addParticipant, timeout: 200 * time.Millisecond,
			method: http.MethodPost, path: "/Participants", wantReqs: 1, wantErr: -1, unclear: true},
		{name: "retry of adding a participant after 429", fault: post(429), call: addParticipant,
			method: http.MethodPost, path: "/Participants", wantReqs: 2},
		{name: "no retry of a post after 503", fault: post(503), call: postMessage,
			method: http.MethodPost, path: "/Messages", wantReqs: 1, wantErr: 503, unclear: true},
		{name: "no retry of a post after a timeout", fault: func(s *twiliotest.Server) { s.HangNext(http.MethodPost, "/v1/Conversations/") },
			call: postMessage, timeout: 200 * time.Millisecond,
			method: http.MethodPost, path: "/Messages", wantReqs: 1, wantErr: -1, unclear: true},
		{name: "retry of a post after 429", fault: post(429), call: postMessage,
			method: http.MethodPost, path: "/Messages", wantReqs: 2},
		{name: "a 400 on a post is clear", fault: post(400), call: postMessage,
			method: http.MethodPost, path: "/Messages", wantReqs: 1, wantErr: 400},
		{name: "no retry of a 400", fault: get(400, 0), call: listParticipants,
			method: http.MethodGet, path: "/Participants", wantReqs: 1, wantErr: 400},
		// Retry-After is past the deadline: the client gives up at once
		// rather than sleep until the deadline (see below).
		{name: "no wait past the deadline", fault: get(429, 10*time.Second), call: listParticipants, ctx: 3 * time.Second,
			method: http.MethodGet, path: "/Participants", wantReqs: 1, wantErr: 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := twiliotest.NewServer(twiliotest.Config{})
			t.Cleanup(s.Close)
			cfg := s.ClientConfig()
			cfg.Timeout = tt.timeout
			c := twilio.New(cfg)
			conv := s.AddConversation("", "")
			d := tt.ctx
			if d == 0 {
				d = 10 * time.Second
			}
			ctx := ctxTimeout(t, d)
			if tt.worker {
				if _, err := c.AddParticipant(ctx, conv, "ann@example.com", ""); err != nil {
					t.Fatal(err)
				}
				s.ClearRequests()
			}
			for range max(tt.times, 1) {
				tt.fault(s)
			}

			err := tt.call(ctx, c, conv)
			if ctx.Err() != nil {
				t.Errorf("the call ran to its deadline: %v", err)
			}
			switch {
			case tt.wantErr == 0 && err != nil:
				t.Fatalf("err = %v, want success", err)
			case tt.wantErr > 0:
				if te := restError(t, err); te.Status != tt.wantErr {
					t.Errorf("status %d, want %d", te.Status, tt.wantErr)
				}
			case tt.wantErr < 0 && err == nil:
				t.Error("succeeded, want a timeout error")
			}
			if errors.Is(err, twilio.ErrUnclear) != tt.unclear {
				t.Errorf("err = %v; wraps ErrUnclear: %v, want %v", err, !tt.unclear, tt.unclear)
			}
			// A request is logged once the fake let go of it; a hung one
			// shortly after the client gave up. All were sent by now.
			var reqs []twiliotest.Request
			for wait := time.Now().Add(2 * time.Second); time.Now().Before(wait); time.Sleep(10 * time.Millisecond) {
				if reqs = requestsTo(s, tt.method, "/v1/Conversations/"+conv+tt.path); len(reqs) >= tt.wantReqs {
					break
				}
			}
			if len(reqs) != tt.wantReqs {
				t.Errorf("%d requests, want %d", len(reqs), tt.wantReqs)
			}
			if tt.minGap > 0 && len(reqs) >= 2 {
				if gap := reqs[1].Start.Sub(reqs[0].End); gap < tt.minGap {
					t.Errorf("retried %v after the 429, want at least its Retry-After %v", gap, tt.minGap)
				}
			}
		})
	}
}

// TestPostMessageOnce: after an unclear failure the post is looked for,
// and never made again: a post Twilio answers late (held past the
// client's timeout) still lands, once. A clear refusal is not looked for.
func TestPostMessageOnce(t *testing.T) {
	posts := func(s *twiliotest.Server, conv string) string { return "/v1/Conversations/" + conv + "/Messages" }
	tests := []struct {
		name      string
		fault     func(s *twiliotest.Server, conv string)
		timeout   time.Duration // the client's round-trip timeout
		earlier   bool          // the conversation has the message already
		wantPosts int           // POST requests
		wantLists int           // GET requests of the messages
		wantMsgs  int           // messages in the end
		wantErr   bool
		unclear   bool // the error wraps ErrUnclear
	}{
		{name: "no fault", wantPosts: 1, wantMsgs: 1},
		{name: "503, not posted", fault: func(s *twiliotest.Server, conv string) {
			s.FailNext(http.MethodPost, posts(s, conv), 503, 0)
		}, wantPosts: 1, wantLists: 1, wantMsgs: 0, wantErr: true, unclear: true},
		// The 503 came back, but the message is there: an earlier post
		// went through.
		{name: "503, posted", earlier: true, fault: func(s *twiliotest.Server, conv string) {
			s.FailNext(http.MethodPost, posts(s, conv), 503, 0)
		}, wantPosts: 1, wantLists: 1, wantMsgs: 1},
		// Twilio answers after the client gave up, and posts: not
		// visible yet when the client looks, the message is not posted
		// again.
		{name: "held past the timeout", timeout: 200 * time.Millisecond, fault: func(s *twiliotest.Server, conv string) {
			s.HoldNext(http.MethodPost, posts(s, conv), 500*time.Millisecond)
		}, wantPosts: 1, wantLists: 1, wantMsgs: 1, wantErr: true, unclear: true},
		{name: "400", fault: func(s *twiliotest.Server, conv string) {
			s.FailNext(http.MethodPost, posts(s, conv), 400, 0)
		}, wantPosts: 1, wantMsgs: 0, wantErr: true},
	}
	const marker = `{"in_reply_to":"IM1"}`
	mine := func(m twilio.Message) bool { return m.Author == "system" && m.Attributes == marker }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := twiliotest.NewServer(twiliotest.Config{})
			t.Cleanup(s.Close)
			cfg := s.ClientConfig()
			cfg.Timeout = tt.timeout
			c := twilio.New(cfg)
			ctx := ctxTimeout(t, 10*time.Second)
			conv := s.AddConversation("", "")
			if tt.earlier {
				if _, err := c.PostMessage(ctx, conv, "", "hello", marker); err != nil {
					t.Fatal(err)
				}
				s.ClearRequests()
			}
			if tt.fault != nil {
				tt.fault(s, conv)
			}
			m, err := c.PostMessageOnce(ctx, conv, "", "hello", marker, mine)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil && (m.Body != "hello" || !mine(m)) {
				t.Errorf("returned %+v", m)
			}
			if errors.Is(err, twilio.ErrUnclear) != tt.unclear {
				t.Errorf("err = %v; wraps ErrUnclear: %v, want %v", err, !tt.unclear, tt.unclear)
			}
			// A held post lands after the call returned: wait for it.
			path := posts(s, conv)
			for wait := time.Now().Add(2 * time.Second); time.Now().Before(wait) && len(requestsTo(s, http.MethodPost, path)) < tt.wantPosts; {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			if n := len(requestsTo(s, http.MethodPost, path)); n != tt.wantPosts {
				t.Errorf("%d posts, want %d", n, tt.wantPosts)
			}
			if n := len(requestsTo(s, http.MethodGet, path)); n != tt.wantLists {
				t.Errorf("%d lists, want %d", n, tt.wantLists)
			}
			if n := len(s.Messages(conv)); n != tt.wantMsgs {
				t.Errorf("%d messages, want %d", n, tt.wantMsgs)
			}
		})
	}
}

// TestPostContentOnce: a Content API template is posted as ContentSid
// and ContentVariables, without a Body; a malformed one is refused by
// Twilio (the fake, as Twilio: 400); after a 503 it is looked for, not
// posted again.
func TestPostContentOnce(t *testing.T) {
	const (
		sid    = "HX0123456789abcdef0123456789abcdef"
		marker = `{"in_reply_to":"handoff:h1"}`
	)
	mine := func(m twilio.Message) bool { return m.Attributes == marker }
	tests := []struct {
		name     string
		content  twilio.Content
		fail     int // a status the first post gets; 0 none
		wantErr  bool
		wantMsgs int
	}{
		{name: "template", content: twilio.Content{SID: sid, Variables: `{"1":"Susan"}`}, wantMsgs: 1},
		{name: "no variables", content: twilio.Content{SID: sid}, wantMsgs: 1},
		{name: "malformed SID", content: twilio.Content{SID: "HX123"}, wantErr: true},
		{name: "variables not an object", content: twilio.Content{SID: sid, Variables: `["Susan"]`}, wantErr: true},
		{name: "503", content: twilio.Content{SID: sid}, fail: 503, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := twiliotest.NewServer(twiliotest.Config{})
			t.Cleanup(s.Close)
			c := twilio.New(s.ClientConfig())
			ctx := ctxTimeout(t, 10*time.Second)
			conv := s.AddConversation("", "")
			path := "/v1/Conversations/" + conv + "/Messages"
			if tt.fail != 0 {
				s.FailNext(http.MethodPost, path, tt.fail, 0)
			}
			_, err := c.PostContentOnce(ctx, conv, "", tt.content, marker, mine)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			ms := s.Messages(conv)
			if len(ms) != tt.wantMsgs {
				t.Fatalf("%d messages, want %d", len(ms), tt.wantMsgs)
			}
			if n := len(requestsTo(s, http.MethodPost, path)); n != 1 {
				t.Errorf("%d posts, want 1", n)
			}
			if tt.wantMsgs == 1 {
				if m := ms[0]; m.ContentSID != tt.content.SID || m.ContentVariables != tt.content.Variables || m.Body != "" {
					t.Errorf("message %+v, want content %+v and no body", m, tt.content)
				}
			}
		})
	}
}

func listParticipants(ctx context.Context, c *twilio.Client, conv string) error {
	_, err := c.ListParticipants(ctx, conv)
	return err
}

func addParticipant(ctx context.Context, c *twilio.Client, conv string) error {
	_, err := c.AddParticipant(ctx, conv, "ann@example.com", "")
	return err
}

func updateParticipant(ctx context.Context, c *twilio.Client, conv string) error {
	// Twilio takes a participant's identity in place of its SID.
	return c.UpdateParticipantAttributes(ctx, conv, "ann@example.com", `{"role":"expert"}`)
}

func postMessage(ctx context.Context, c *twilio.Client, conv string) error {
	_, err := c.PostMessage(ctx, conv, "", "hello", "")
	return err
}

func TestRetryOfCreateAfter429PostsOnce(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{})
	conv := s.AddConversation("", "")
	s.FailNext(http.MethodPost, "/v1/Conversations/"+conv+"/Messages", 429, 0)
	if _, err := c.PostMessage(ctxTimeout(t, 5*time.Second), conv, "", "hello", ""); err != nil {
		t.Fatal(err)
	}
	if ms := s.Messages(conv); len(ms) != 1 || ms[0].Body != "hello" {
		t.Errorf("messages = %+v, want one", ms)
	}
}

func TestContext(t *testing.T) {
	t.Run("done before the call", func(t *testing.T) {
		s, c := newFake(t, twiliotest.Config{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.ListParticipants(ctx, "CH00000000000000000000000000000001"); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if n := len(s.Requests()); n != 0 {
			t.Errorf("%d requests sent with a done context", n)
		}
	})
	// The client's timeout is longer than the test: only the context's
	// cancellation can end the hung request, and it shows in the error.
	t.Run("cancelled during the call", func(t *testing.T) {
		s := twiliotest.NewServer(twiliotest.Config{})
		t.Cleanup(s.Close)
		cfg := s.ClientConfig()
		cfg.Timeout = time.Minute
		c := twilio.New(cfg)
		s.HangNext("", "/")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(200*time.Millisecond, cancel)
		_, err := c.ListParticipants(ctx, "CH00000000000000000000000000000001")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

func TestAuthentication(t *testing.T) {
	const key, secret = "SK0000000000000000000000000000cafe", "keysecret0123"
	s := twiliotest.NewServer(twiliotest.Config{APIKey: key, APISecret: secret})
	t.Cleanup(s.Close)
	conv := s.AddConversation("", "")
	ctx := ctxTimeout(t, 5*time.Second)

	tests := []struct {
		name    string
		modify  func(*twilio.Config)
		wantErr int
	}{
		{"auth token", func(*twilio.Config) {}, 0},
		{"api key", func(c *twilio.Config) { c.AuthToken, c.APIKey, c.APISecret = "", key, secret }, 0},
		{"wrong token", func(c *twilio.Config) { c.AuthToken = "wrong" }, 401},
		{"wrong secret", func(c *twilio.Config) { c.APIKey, c.APISecret = key, "wrong" }, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := s.ClientConfig()
			tt.modify(&cfg)
			s.ClearRequests()
			_, err := twilio.New(cfg).ListParticipants(ctx, conv)
			if tt.wantErr == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if te := restError(t, err); te.Status != tt.wantErr || te.Code != 20003 {
				t.Errorf("%+v, want %d/20003", te, tt.wantErr)
			}
			if n := len(s.Requests()); n != 1 {
				t.Errorf("%d requests, want 1 (no retry)", n)
			}
		})
	}
}

func TestBadBaseURL(t *testing.T) {
	for _, base := range []string{"localhost:8080", "://x"} {
		c := twilio.New(twilio.Config{AccountSID: "AC1", AuthToken: "t", BaseURL: base})
		if _, err := c.ListMessages(context.Background(), "CH1"); err == nil {
			t.Errorf("BaseURL %q: no error", base)
		}
	}
}

// TestNoWebhookHeader checks that no call asks Twilio to fire our own
// post-event webhooks (https://www.twilio.com/docs/conversations/conversations-webhooks).
func TestNoWebhookHeader(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{})
	ctx := ctxTimeout(t, 5*time.Second)
	res, err := s.CustomerTexts(ctx, "+15550001111", "+15559990000", "hi")
	if err != nil {
		t.Fatal(err)
	}
	conv, ws := res.ConversationSID, s.WorkspaceSID()
	sid := s.AddWorker("ann@example.com", true, nil, s.QueueSID())
	s.ClearRequests()

	calls := []func() error{
		func() error { _, err := c.ListParticipants(ctx, conv); return err },
		func() error { _, err := c.AddParticipant(ctx, conv, "ann@example.com", ""); return err },
		func() error { _, err := c.FetchParticipant(ctx, conv, res.ParticipantSID); return err },
		func() error {
			return c.UpdateParticipantAttributes(ctx, conv, res.ParticipantSID, `{"customer_id":"1"}`)
		},
		func() error { _, err := c.PostMessage(ctx, conv, "", "hi", ""); return err },
		func() error { _, err := c.ListMessages(ctx, conv); return err },
		func() error { _, err := c.ListAvailableWorkers(ctx, ws, s.QueueSID()); return err },
		func() error { _, err := c.FindWorker(ctx, ws, "ann@example.com"); return err },
		func() error { _, _, err := c.FetchWorker(ctx, ws, sid); return err },
		func() error { return c.UpdateWorkerAttributes(ctx, ws, sid, "{}", "") },
	}
	for i, call := range calls {
		if err := call(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	reqs := s.Requests()
	if len(reqs) != len(calls) {
		t.Errorf("%d requests for %d calls", len(reqs), len(calls))
	}
	for _, r := range reqs {
		if v := r.Header.Get("X-Twilio-Webhook-Enabled"); v != "" {
			t.Errorf("%s %s sent X-Twilio-Webhook-Enabled: %s", r.Method, r.Path, v)
		}
	}
	if n := len(s.Deliveries()); n != 0 {
		t.Errorf("REST calls fired %d webhooks", n)
	}
}

// TestSequentialRoundTrips shows how a test measures the latency cost of
// an operation in Twilio round trips.
func TestSequentialRoundTrips(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{})
	ctx := ctxTimeout(t, 5*time.Second)
	conv := s.AddConversation("", "")
	s.SetLatency(50 * time.Millisecond)
	s.ClearRequests()

	done := make(chan error, 2)
	go func() { _, err := c.ListParticipants(ctx, conv); done <- err }()
	go func() { _, err := c.ListMessages(ctx, conv); done <- err }()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PostMessage(ctx, conv, "", "after both", ""); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	if n := twiliotest.SequentialRoundTrips(reqs); n != 2 {
		t.Errorf("%d sequential round trips, want 2 (two parallel reads, then a post)", n)
	}
}

// TestFetchFrontlineUser: the Frontline Users API, through the same base
// URL as every host, by identity or SID; an identity is escaped in the
// path, and an unknown user is ErrNotFound.
// TestFetchContentApproval: a Content template's WhatsApp approval, its
// absence when never submitted, and an unknown template.
func TestFetchContentApproval(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{})
	ctx := ctxTimeout(t, 10*time.Second)
	approved := s.AddContent("opener", "approved")
	rejected := s.AddContent("opener_2", "rejected")
	draft := s.AddContent("draft", "")
	tests := []struct {
		sid  string
		want twilio.ContentApproval
		err  error
	}{
		{approved, twilio.ContentApproval{Name: "opener", Status: twilio.ContentApproved}, nil},
		{rejected, twilio.ContentApproval{Name: "opener_2", Status: "rejected"}, nil},
		{draft, twilio.ContentApproval{}, nil},
		{"HX0123456789abcdef0123456789abcdef", twilio.ContentApproval{}, twilio.ErrNotFound},
	}
	for _, tt := range tests {
		got, err := c.FetchContentApproval(ctx, tt.sid)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("FetchContentApproval(%s) = %+v, %v; want %+v, %v", tt.sid, got, err, tt.want, tt.err)
		}
	}
}

func TestFetchFrontlineUser(t *testing.T) {
	s, c := newFake(t, twiliotest.Config{})
	ctx := ctxTimeout(t, 10*time.Second)
	s.AddWorker("ann@example.com", true, nil)
	s.SetDisplayName("ann@example.com", "Ann Lee")
	s.AddWorker("bob@example.com", false, nil)
	s.SetUserActive("bob@example.com", false)
	odd := "o/d?d#1%2F+x@example.com"
	s.AddWorker(odd, true, nil)
	s.SetDisplayName(odd, "Odd")
	ann, _ := s.Worker("ann@example.com")

	tests := []struct {
		key  string
		want twilio.User
		err  error
	}{
		{"ann@example.com", twilio.User{Identity: "ann@example.com", FriendlyName: "Ann Lee", State: twilio.UserActive}, nil},
		{ann.UserSID, twilio.User{Identity: "ann@example.com", FriendlyName: "Ann Lee", State: twilio.UserActive}, nil},
		{"bob@example.com", twilio.User{Identity: "bob@example.com", State: twilio.UserDeactivated}, nil},
		{odd, twilio.User{Identity: odd, FriendlyName: "Odd", State: twilio.UserActive}, nil},
		{"Ann@Example.com", twilio.User{}, twilio.ErrNotFound}, // identities are case-sensitive
		{"zoe@example.com", twilio.User{}, twilio.ErrNotFound},
		{"", twilio.User{}, twilio.ErrNotFound},
		{strings.Repeat("a", 65), twilio.User{}, twilio.ErrNotFound},
	}
	for _, tt := range tests {
		got, err := c.FetchFrontlineUser(ctx, tt.key)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("FetchFrontlineUser(%q) = %+v, %v; want %+v, %v", tt.key, got, err, tt.want, tt.err)
		}
	}
	if n := len(requestsTo(s, http.MethodGet, "/v1/Users/")); n != 6 {
		t.Errorf("%d requests to /v1/Users/, want 6 (none for an empty or overlong identity)", n)
	}
}
