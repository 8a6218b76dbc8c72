package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/strapitest"
	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
	"github.com/experthub/experthub/internal/webhook"
)

const (
	proxyNumber = "+15555550100"
	namedWorker = "alice@example.com"
)

// BenchmarkBotTurn times one bot turn: a customer, already welcomed,
// writes "agent" (or a worker's e-mail), until the bot's reply is posted
// and a worker is a participant. Expert Hub runs it from the real
// post-event handler against the fake Twilio; "seed" is the seed's
// pre-event handler, which makes the same kind of calls one after another
// (and then downloads the CRM to name the conversation).
//
// ns/op is the whole webhook round (the customer's text until Twilio is
// done with its webhooks); ms-reply+worker is the critical path,
// round-trips the sequential Twilio round trips on it.
func BenchmarkBotTurn(b *testing.B) {
	stub := strapitest.NewServer(5,
		strapitest.WithCustomers(1000),
		strapitest.WithAPIToken(strapiToken),
		strapitest.WithUser(strapiUser, strapiPassword),
		strapitest.WithLatency(strapiLatency),
		strapitest.WithAuthRateLimit(0))
	defer stub.Close()
	customers := stub.Customers()
	sample := customersFile(b, customers)
	// The fake's SIDs are the same from one fake to the next, so each run
	// needs a store (ledger, claims) of its own.
	stores := map[string]func(*testing.B) apptest.Options{
		"experthub": func(b *testing.B) apptest.Options {
			return apptest.Options{Store: apptest.Firestore,
				Env: config.Env{"GOOGLE_CLOUD_PROJECT": firestoreProject(b, customers)["GOOGLE_CLOUD_PROJECT"]}}
		},
		"experthub-inmem": func(*testing.B) apptest.Options {
			return apptest.Options{Env: config.Env{"CRM_SAMPLE_FILE": sample}}
		},
	}
	for _, sc := range []struct{ name, body string }{
		{"agent", "I want to talk to an agent please"},
		{"worker", "Can I speak with " + namedWorker + "?"},
	} {
		b.Run(sc.name+"/seed", func(b *testing.B) {
			fake := twiliotest.NewServer(twiliotest.Config{})
			b.Cleanup(fake.Close)
			s := &seedPreEvent{twilio: twilio.New(fake.ClientConfig()), fake: fake,
				crm: &seed{base: stub.URL, identifier: strapiUser, password: strapiPassword}}
			mux := http.NewServeMux()
			srv := httptest.NewServer(mux)
			b.Cleanup(srv.Close)
			v := webhook.NewVerifier(authToken, logging.New(io.Discard, "error"), srv.URL+"/pre-event")
			mux.Handle("/pre-event", v.Wrap(s))
			fake.SetWebhooks(twiliotest.Webhooks{
				PreWebhookURL: srv.URL + "/pre-event",
				Filters:       []string{"onMessageAdd"},
			})
			newTurnBench(fake, customers).run(b, sc.body)
		})
		for _, variant := range []string{"experthub", "experthub-inmem"} {
			b.Run(sc.name+"/"+variant, func(b *testing.B) {
				opts := stores[variant](b)
				opts.Env["CACHE_TTL"] = "" // the default
				// The recommended filters (package conversation), without
				// onMessageAdd.
				opts.Filters = []string{"onConversationAdd", "onParticipantAdded", "onMessageAdded"}
				h := newApp(b, opts)
				newTurnBench(h.Twilio, customers).run(b, sc.body)
			})
		}
	}
}

// turnBench is a fake Twilio, with workers, whose webhooks go to the
// handlers measured.
type turnBench struct {
	fake      *twiliotest.Server
	customers []crm.Customer
	next      int // the next customer to write in
}

func newTurnBench(fake *twiliotest.Server, customers []crm.Customer) *turnBench {
	t := &turnBench{fake: fake, customers: customers}
	// Five agents in the pool, idle for different times, and the worker
	// customers ask for by name.
	for i, name := range []string{"ann", "bob", "cho", "dev", "eve"} {
		t.fake.AddWorker(name+"@example.com", true,
			map[string]any{"lastAcceptedTaskTime": time.Now().Add(-time.Duration(i+1) * time.Hour).UnixMilli()},
			t.fake.QueueSID())
	}
	t.fake.AddWorker(namedWorker, true, nil, t.fake.QueueSID())
	t.fake.SetLatency(twilioLatency)
	return t
}

// run times the turn: each iteration a new customer says hello (untimed:
// the conversation is created and welcomed), then writes body.
func (t *turnBench) run(b *testing.B, body string) {
	ctx := context.Background()
	var critical time.Duration
	var onPath, all, calls int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if t.next == len(t.customers) {
			b.Fatal("out of customers")
		}
		from := t.customers[t.next].Channels[0].Value
		t.next++
		first, err := t.fake.CustomerTexts(ctx, from, proxyNumber, "hello")
		if err != nil || first.Rejected {
			b.Fatalf("first text: %+v, %v", first, err)
		}
		conv := first.ConversationSID
		t.fake.ClearRequests()
		b.StartTimer()

		start := time.Now()
		res, err := t.fake.CustomerTexts(ctx, from, proxyNumber, body)

		b.StopTimer()
		if err != nil || res.Rejected {
			b.Fatalf("turn: %+v, %v", res, err)
		}
		reqs := ofTurn(t.fake.Requests(), conv)
		var reply, added time.Time
		for _, r := range reqs {
			if r.Method != http.MethodPost || r.Status >= 300 {
				continue
			}
			switch {
			case strings.HasSuffix(r.Path, "/Messages"):
				reply = r.End
			case strings.HasSuffix(r.Path, "/Participants"):
				added = r.End
			}
		}
		if reply.IsZero() || added.IsZero() || !hasWorker(t.fake.Participants(conv)) {
			b.Fatalf("turn did not reply (%v) and add a worker (%v); requests: %v", !reply.IsZero(), !added.IsZero(), paths(reqs))
		}
		done := later(reply, added)
		critical += done.Sub(start)
		var path []twiliotest.Request
		for _, r := range reqs {
			if r.Start.Before(done) {
				path = append(path, r)
			}
		}
		onPath += twiliotest.SequentialRoundTrips(path)
		all += twiliotest.SequentialRoundTrips(reqs)
		calls += len(reqs)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(ms(critical)/n, "ms-reply+worker")
	b.ReportMetric(float64(onPath)/n, "round-trips")
	b.ReportMetric(float64(all)/n, "round-trips-all")
	b.ReportMetric(float64(calls)/n, "twilio-req/op")
}

// ofTurn drops the requests about other conversations: the safety-net
// tasks of earlier iterations, due WORK_DELAY after their webhooks, may
// run during this one.
func ofTurn(reqs []twiliotest.Request, conv string) []twiliotest.Request {
	return slices.DeleteFunc(reqs, func(r twiliotest.Request) bool {
		return strings.HasPrefix(r.Path, "/v1/Conversations/") && !strings.HasPrefix(r.Path, "/v1/Conversations/"+conv)
	})
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func hasWorker(ps []twiliotest.Participant) bool {
	return slices.ContainsFunc(ps, func(p twiliotest.Participant) bool { return p.Identity != "" })
}

func paths(reqs []twiliotest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// seedPreEvent is the seed's pre-event.js (onMessageAdd), with its
// getLongestIdleAvailableWorker and crm.fetch: every call waits for the
// one before.
type seedPreEvent struct {
	twilio *twilio.Client
	fake   *twiliotest.Server
	crm    *seed
}

func (s *seedPreEvent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f := r.PostForm
	if f.Get("EventType") != "onMessageAdd" || f.Get("Source") == "SDK" {
		io.WriteString(w, "All good. Let the conversation flow")
		return
	}
	conv := f.Get("ConversationSid")
	ps, err := s.twilio.ListParticipants(ctx, conv)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if len(ps) > 1 {
		io.WriteString(w, "All participants added")
		return
	}
	d := bot.Decide(f.Get("Body"))
	reply := d.Reply
	switch d.Route {
	case bot.RouteWorker:
		reply = bot.Connecting(d.Worker)
	case bot.RouteAgent:
		reply = bot.ConnectingAgent("")
	}
	if _, err := s.twilio.PostMessage(ctx, conv, "system", reply, ""); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var selected string
	switch d.Route {
	case bot.RouteNone:
		io.WriteString(w, "No routing. Bot interacting with participant")
		return
	case bot.RouteWorker:
		selected = d.Worker
	case bot.RouteAgent:
		selected, err = s.longestIdle(ctx)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if _, err := s.twilio.AddParticipant(ctx, conv, selected, ""); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	c, err := s.crm.fetchByPhoneNumber(ctx, f.Get("Author"))
	if err == nil && c.DisplayName != "" {
		if err := s.renameConversation(ctx, conv, c.DisplayName); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	io.WriteString(w, conv)
}

// renameConversation is the seed's conversation update, which Expert Hub
// does not make (its pre-event answer names the conversation): a plain
// REST request to the fake.
func (s *seedPreEvent) renameConversation(ctx context.Context, conv, name string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.fake.URL+"/v1/Conversations/"+conv,
		strings.NewReader(url.Values{"FriendlyName": {name}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.fake.AccountSID(), s.fake.AuthToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("rename conversation: " + resp.Status)
	}
	return nil
}

// longestIdle is the seed's getLongestIdleAvailableWorker: list the
// queue's available workers, take the one with the oldest
// lastAcceptedTaskTime, stamp it now.
func (s *seedPreEvent) longestIdle(ctx context.Context) (string, error) {
	ws, err := s.twilio.ListAvailableWorkers(ctx, s.fake.WorkspaceSID(), s.fake.QueueSID())
	if err != nil {
		return "", err
	}
	if len(ws) == 0 {
		return "", errors.New("no available worker")
	}
	last := func(w twilio.Worker) int64 {
		var a struct {
			LastAcceptedTaskTime int64 `json:"lastAcceptedTaskTime"`
		}
		json.Unmarshal([]byte(w.Attributes), &a)
		return a.LastAcceptedTaskTime
	}
	slices.SortFunc(ws, func(a, b twilio.Worker) int { return cmp.Compare(last(a), last(b)) })
	attrs, _ := json.Marshal(map[string]any{"lastAcceptedTaskTime": time.Now().UnixMilli()})
	if err := s.twilio.UpdateWorkerAttributes(ctx, s.fake.WorkspaceSID(), ws[0].SID, string(attrs), ""); err != nil {
		return "", err
	}
	return ws[0].Identity, nil
}
