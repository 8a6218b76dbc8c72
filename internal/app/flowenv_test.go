package app_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// Numbers of the sample customers (apptest's stores hold them; maria and
// joAnne are declared with the other suites), a stranger and the
// company.
const (
	susan    = "whatsapp:+5521989500003"
	stranger = "+14155550123"
	company  = apptest.ProxyNumber
)

// env is the whole App (apptest) with a fake Twilio calling its
// conversation flow, and the helpers the conversation suites share: the
// end-to-end counterpart of the flow's unit tests on doubles
// (internal/conversation).
type env struct {
	*apptest.Harness
	t *testing.T
}

func newEnv(t *testing.T, opts apptest.Options) *env {
	t.Helper()
	return &env{Harness: apptest.New(t, opts), t: t}
}

// workers adds available workers of the pool queue.
func (e *env) workers(identities ...string) {
	for _, id := range identities {
		e.Twilio.AddWorker(id, true, nil, e.Twilio.QueueSID())
	}
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// text plays the customer at from texting body to the company.
func (e *env) text(from, body string) twiliotest.TextResult {
	e.t.Helper()
	return e.Text(e.t, from, body)
}

// customer returns the conversation's SMS/WhatsApp participant.
func (e *env) customer(conv string) twiliotest.Participant {
	e.t.Helper()
	for _, p := range e.Twilio.Participants(conv) {
		if p.Binding != nil {
			return p
		}
	}
	e.t.Fatalf("no customer in %s", conv)
	return twiliotest.Participant{}
}

// requests returns the REST requests whose method is method and whose
// path matches the pattern (path.Match style segments: "*" for one).
func (e *env) requests(method, pattern string) []twiliotest.Request {
	var out []twiliotest.Request
	for _, r := range e.Twilio.Requests() {
		if r.Method == method && pathMatch(pattern, r.Path) {
			out = append(out, r)
		}
	}
	return out
}

func pathMatch(pattern, path string) bool {
	ps, qs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(qs) {
		return false
	}
	for i := range ps {
		if ps[i] != "*" && ps[i] != qs[i] {
			return false
		}
	}
	return true
}

// post sends a signed webhook to one of the functions directly.
func (e *env) post(name string, params url.Values) (int, string) {
	e.t.Helper()
	status, body, err := e.Post(function.Name(name), params)
	if err != nil {
		e.t.Fatal(err)
	}
	return status, body
}

// checkNoWebhookLoops checks that none of our REST calls asked Twilio to
// fire webhooks (X-Twilio-Webhook-Enabled), and that Twilio fired none
// for them.
func (e *env) checkNoWebhookLoops() {
	e.t.Helper()
	for _, r := range e.Twilio.Requests() {
		if v, ok := r.Header["X-Twilio-Webhook-Enabled"]; ok {
			e.t.Errorf("%s %s sent X-Twilio-Webhook-Enabled: %v", r.Method, r.Path, v)
		}
	}
	for _, d := range e.Twilio.Deliveries() {
		if d.Params.Get("Source") == "API" {
			e.t.Errorf("a REST action fired %s %s", d.Target, d.EventType)
		}
	}
}

// checkRepliesFollow checks that every bot reply comes after the message
// it answers.
func (e *env) checkRepliesFollow(conv string) {
	e.t.Helper()
	index := map[string]int{}
	for _, m := range e.Twilio.Messages(conv) {
		index[m.SID] = m.Index
		var a struct {
			InReplyTo string `json:"in_reply_to"`
		}
		if m.Author != "system" || json.Unmarshal([]byte(m.Attributes), &a) != nil || !strings.HasPrefix(a.InReplyTo, "IM") {
			continue
		}
		i, ok := index[a.InReplyTo]
		if !ok {
			e.t.Errorf("reply %d %q answers %s, which is not before it", m.Index, m.Body, a.InReplyTo)
		} else if i >= m.Index {
			e.t.Errorf("reply %d comes before the message %d it answers", m.Index, i)
		}
	}
}

// delivery returns the onMessageAdded delivery of message sid.
func (e *env) delivery(sid string) (twiliotest.Delivery, bool) {
	for _, d := range e.Twilio.Deliveries() {
		if d.Target == twiliotest.TargetPost && d.EventType == "onMessageAdded" && d.Params.Get("MessageSid") == sid {
			return d, true
		}
	}
	return twiliotest.Delivery{}, false
}

// worker returns the fake's worker of the one identity in ids.
func (e *env) worker(ids []string) twiliotest.Worker {
	e.t.Helper()
	if len(ids) != 1 {
		e.t.Fatalf("workers %v, want one", ids)
	}
	w, _ := e.Twilio.Worker(ids[0])
	return w
}

// eventually waits, a few seconds at most, until cond holds: for work
// done in the background.
func (e *env) eventually(cond func() bool, msg string) {
	e.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Error(msg)
			return
		}
	}
}
