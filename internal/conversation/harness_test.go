package conversation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crm/crmtest"
	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/fsstore"
	"github.com/experthub/experthub/internal/inmem"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twiliofake"
	"github.com/experthub/experthub/internal/webhook"
)

func TestMain(m *testing.M) { firestoretest.Main(m) }

// Numbers of the sample customers (crmtest.SampleCustomers), a stranger
// and the company.
const (
	maria    = "+33679500001"
	joAnne   = "+447491000002"
	susan    = "whatsapp:+5521989500003"
	stranger = "+14155550123"
	company  = "+15555550100"
)

// Stores the suite runs against.
const (
	inMemory    = "inmem"
	onFirestore = "firestore"
)

// options configure a test environment.
type options struct {
	store string // inMemory (default) or onFirestore
	flow  conversation.Config
	// timeout is each handler's deadline; default HANDLER_TIMEOUT's.
	timeout time.Duration
	// customers replaces the sample CRM.
	customers conversation.Customers
	// ledger wraps the store's ledger.
	ledger func(conversation.Ledger) conversation.Ledger
	fake   twiliofake.Config
	// filters are the Conversations webhook filters; default: the
	// recommended ones plus onMessageAdd, as the seed installs it.
	filters []string
}

// env is the flow's three functions served behind the signature check
// and a deadline, as app.New serves them, with a fake Twilio calling them.
type env struct {
	t     *testing.T
	fake  *twiliofake.Server
	srv   *httptest.Server
	rest  *twilio.Client
	logs  *buffer
	clock *clock
	opts  options

	assignments conversation.Assignments
}

var recommendedFilters = []string{"onConversationAdd", "onMessageAdd", "onParticipantAdded", "onMessageAdded"}

func newEnv(t *testing.T, opts options) *env {
	t.Helper()
	if opts.timeout == 0 {
		opts.timeout = config.DefaultHandlerTimeout
	}
	if opts.filters == nil {
		opts.filters = recommendedFilters
	}
	e := &env{t: t, logs: &buffer{}, clock: &clock{}, opts: opts}
	e.fake = twiliofake.NewServer(opts.fake)
	t.Cleanup(e.fake.Close)
	e.rest = twilio.New(e.fake.ClientConfig())

	var (
		ledger      conversation.Ledger
		assignments conversation.Assignments
	)
	switch opts.store {
	case "", inMemory:
		ledger, assignments = inmem.NewLedger(), inmem.NewAssignments()
	case onFirestore:
		c := firestoretest.Client(t)
		ledger, assignments = fsstore.NewLedger(c), fsstore.NewAssignments(c)
	default:
		t.Fatalf("unknown store %q", opts.store)
	}
	if opts.ledger != nil {
		ledger = opts.ledger(ledger)
	}
	e.assignments = assignments
	customers := opts.customers
	if customers == nil {
		store := inmem.NewStore()
		if err := store.Upsert(context.Background(), crmtest.SampleCustomers()...); err != nil {
			t.Fatal(err)
		}
		customers = crm.NewService(store, nil, crm.ServiceOptions{})
	}
	cfg := opts.flow
	cfg.Workspace, cfg.PoolQueue = e.fake.WorkspaceSID(), e.fake.QueueSID()
	if cfg.Lease == 0 {
		cfg.Lease = opts.timeout
	}
	log := logging.New(e.logs, "debug")
	f := conversation.New(cfg, conversation.Deps{
		Twilio: e.rest, Customers: customers, Ledger: ledger, Assignments: assignments,
		Logger: log, Now: e.clock.Now,
	})

	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	for name, h := range map[string]http.Handler{"routing": f.Routing(), "pre-event": f.PreEvent(), "post-event": f.PostEvent()} {
		v := webhook.NewVerifier(e.fake.AuthToken(), log, e.url(name))
		mux.Handle("/"+name, withDeadline(opts.timeout, v.Wrap(h)))
	}
	e.fake.SetWebhooks(twiliofake.Webhooks{
		PreWebhookURL:  e.url("pre-event"),
		PostWebhookURL: e.url("post-event"),
		Filters:        opts.filters,
		RoutingURL:     e.url("routing"),
	})
	return e
}

func withDeadline(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (e *env) url(name string) string { return e.srv.URL + "/" + name }

// workers adds available workers of the pool queue.
func (e *env) workers(identities ...string) {
	for _, id := range identities {
		e.fake.AddWorker(id, true, nil, e.fake.QueueSID())
	}
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// text plays the customer at from texting body to the company.
func (e *env) text(from, body string) twiliofake.TextResult {
	e.t.Helper()
	res, err := e.fake.CustomerTexts(e.ctx(), from, company, body)
	if err != nil {
		e.t.Fatalf("%s texts %q: %v", from, body, err)
	}
	if res.Rejected {
		e.t.Fatalf("%s texts %q: rejected by a pre-event hook: %+v", from, body, e.fake.Rejections())
	}
	return res
}

// transcript returns the conversation's messages as "author: body", in
// index order.
func (e *env) transcript(conv string) []string {
	var out []string
	for _, m := range e.fake.Messages(conv) {
		out = append(out, m.Author+": "+m.Body)
	}
	return out
}

// workersIn returns the identities of the conversation's chat participants.
func (e *env) workersIn(conv string) []string {
	var out []string
	for _, p := range e.fake.Participants(conv) {
		if p.Identity != "" {
			out = append(out, p.Identity)
		}
	}
	return out
}

// customer returns the conversation's SMS/WhatsApp participant.
func (e *env) customer(conv string) twiliofake.Participant {
	e.t.Helper()
	for _, p := range e.fake.Participants(conv) {
		if p.Binding != nil {
			return p
		}
	}
	e.t.Fatalf("no customer in %s", conv)
	return twiliofake.Participant{}
}

// requests returns the REST requests whose method is method and whose
// path matches the pattern (path.Match style segments: "*" for one).
func (e *env) requests(method, pattern string) []twiliofake.Request {
	var out []twiliofake.Request
	for _, r := range e.fake.Requests() {
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
	status, body, err := e.send(name, params)
	if err != nil {
		e.t.Fatal(err)
	}
	return status, body
}

// send is post for any goroutine.
func (e *env) send(name string, params url.Values) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, e.url(name), strings.NewReader(params.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliofake.Sign(e.fake.AuthToken(), e.url(name), params))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), err
}

// checkNoWebhookLoops checks that none of our REST calls asked Twilio to
// fire webhooks (X-Twilio-Webhook-Enabled), and that Twilio fired none
// for them.
func (e *env) checkNoWebhookLoops() {
	e.t.Helper()
	for _, r := range e.fake.Requests() {
		if v, ok := r.Header["X-Twilio-Webhook-Enabled"]; ok {
			e.t.Errorf("%s %s sent X-Twilio-Webhook-Enabled: %v", r.Method, r.Path, v)
		}
	}
	for _, d := range e.fake.Deliveries() {
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
	for _, m := range e.fake.Messages(conv) {
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

// clock is the flow's clock: real time plus an offset a test advances.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// buffer collects log output; safe for concurrent use.
type buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the decoded log lines whose message contains s.
func (b *buffer) lines(s string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && strings.Contains(fmt.Sprint(m["message"]), s) {
			out = append(out, m)
		}
	}
	return out
}
