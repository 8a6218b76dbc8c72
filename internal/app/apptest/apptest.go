// Package apptest builds a whole Expert Hub for tests and benchmarks: the
// App from an in-memory configuration, on the in-memory stores or the
// Firestore emulator, a fake Twilio whose webhooks call it and, if asked,
// a fake Strapi, every log line in a buffer, and an HTTP server that hands
// each function its requests as Cloud Functions' front end does (function
// name stripped from the path, plain HTTP to localhost, X-Forwarded-*
// headers). It is the one place tests wire the application: use it
// wherever the whole App is needed.
package apptest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/cloudtasks/cloudtaskstest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/crm/crmtest"
	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/fsstore"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/gcpauth"
	"github.com/experthub/experthub/internal/handoff"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/strapitest"
	"github.com/experthub/experthub/internal/taskqueue/engine"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// The configured secrets. They look like the real thing, so that a test
// scanning the logs for them would find a leak, but are obviously fake.
const (
	StrapiAPIToken   = "strapi-api-token-f4ke00000000000000000000000000c0ffee"
	WebhookSecret    = "strapi-webhook-secret-f4ke0000000000000000000000beef"
	SchedulerAccount = "sync-scheduler@expert-hub-test.iam.gserviceaccount.com"
	// ProxyNumber and ProxyNumberGB are the company numbers.
	ProxyNumber   = "+15555550100"
	ProxyNumberGB = "+445555550100"
	// The Flex contact center's account (Options.Flex): a second account
	// of the fake Twilio, and the secret its plugin's backend sends.
	FlexAccountSID = "ACf1e0000000000000000000000000f1e0"
	FlexAuthToken  = "f1e0a0000000000000000000000f1e0a"
	HandoffSecret  = "handoff-secret-f4ke000000000000000000000000000c0ffee"
	// FlexAgent is the Flex account's one agent.
	FlexAgent = "agent@contact-center.example.com"
)

// Store is where the App keeps its customer cache, its webhook ledger and
// its assignments.
type Store string

// The stores.
const (
	// InMemory is the local runner's in-memory store, holding the
	// built-in sample customers.
	InMemory Store = "inmem"
	// Firestore is the Firestore emulator (FIRESTORE_EMULATOR_HOST) on a
	// project of the test's own, holding the sample customers
	// (crmtest.SampleCustomers). When Options.Env names
	// GOOGLE_CLOUD_PROJECT, that project is used as it is.
	Firestore Store = "firestore"
)

// Stores are the stores, for tests that run on each.
var Stores = []Store{InMemory, Firestore}

// DefaultFilters are the Conversations webhook filters the fake Twilio
// fires by default: the recommended ones plus onMessageAdd, as the seed
// installs it.
var DefaultFilters = []string{"onConversationAdd", "onMessageAdd", "onParticipantAdded", "onMessageAdded", "onConversationStateUpdated", "onParticipantRemoved"}

// Options configure New. The zero value is an App on the in-memory store
// with the fake Twilio, no Strapi, and debug logs in Harness.Logs.
type Options struct {
	// Store is InMemory (default) or Firestore.
	Store Store
	// Twilio configures the fake Twilio; its credentials and SIDs are the
	// App's.
	Twilio twiliotest.Config
	// Filters are the Conversations webhook filters; nil: DefaultFilters.
	Filters []string
	// StrapiVersion is 3, 4 or 5 to run a fake Strapi the App syncs and
	// reads through to; 0 runs none.
	StrapiVersion int
	// StrapiCustomers is how many customers the fake Strapi starts with.
	StrapiCustomers int
	// StrapiOptions are more options of the fake Strapi (latency, say).
	StrapiOptions []strapitest.Option
	// StrapiWebhooks makes the fake Strapi send its webhooks, as
	// configured in Strapi, to the sync function of the instance
	// Harness.SetWebhookInstance names (the first by default).
	StrapiWebhooks bool
	// Env adds or overrides variables; an empty value removes one.
	Env config.Env
	// LogLevel defaults to "debug", where most is logged.
	LogLevel string
	// LogOutput, when set, receives the log lines instead of Harness.Logs.
	LogOutput io.Writer
	// FlowCustomers, when set, is what the conversation flow looks
	// customers up in (app.WithFlowCustomers): a CRM that fails, say.
	FlowCustomers conversation.Customers
	// WrapLedger, when set, wraps the conversation flow's ledger
	// (app.WrapLedger).
	WrapLedger func(conversation.Ledger) conversation.Ledger
	// WrapBindings, when set, wraps the store binding handoff ids to
	// customers (app.WrapBindings).
	WrapBindings func(handoff.Bindings) handoff.Bindings
	// Instances is how many Apps serve the functions, as Cloud Run runs
	// instances of them: they share the fake Twilio, the Firestore
	// project and the Cloud Tasks fake, and Server hands each request to
	// the next live one. More than one needs the Firestore store and
	// CloudTasks. 0 means 1.
	Instances int
	// CloudTasks carries conversation work through a Cloud Tasks fake
	// (Harness.Tasks) instead of the in-process queue, as deployed.
	CloudTasks bool
	// FunctionPrefix, when set, is the prefix of the deployed function
	// names, as in an environment (eh-staging-): Server serves function
	// <name> at /<prefix><name> only, and the App is given each URL as
	// PUBLIC_URL_<FUNCTION>, as both deploy paths do.
	FunctionPrefix string
	// TasksRetry is the Cloud Tasks fake's retry configuration; zero:
	// quick retries (100 ms to 1 s), for as long as the work may live.
	TasksRetry engine.RetryConfig
	// Flex adds a Flex contact center: a second account of the fake
	// Twilio (Harness.Flex) with one agent, and the FLEX_* settings.
	Flex bool
	// NoEventCallback leaves the fake workspace without an event
	// callback, as when another system owns it: only the sweep
	// (Harness.Sweep) serves the waiting line. By default the workspace
	// posts worker.activity.update to taskrouter-events.
	NoEventCallback bool
}

// TasksServiceAccount is the identity of the Cloud Tasks fake's tokens.
const TasksServiceAccount = "expert-hub-tasks@expert-hub-test.iam.gserviceaccount.com"

// Harness is a running Expert Hub with its fakes.
type Harness struct {
	// App is the first instance; Apps all of them.
	App  *app.App
	Apps []*app.App
	// Tasks is the Cloud Tasks fake; nil without Options.CloudTasks.
	Tasks  *cloudtaskstest.Fake
	Config *config.Config
	Twilio *twiliotest.Server
	// Flex is the contact center's account on the same fake Twilio; nil
	// without Options.Flex.
	Flex   *twiliotest.Fake
	Strapi *strapitest.Server // nil without Options.StrapiVersion
	// Server serves function <name> at URL(name), which is also its
	// public URL: the URL Twilio signs.
	Server *httptest.Server
	// Logs holds every line the App logged, unless Options.LogOutput.
	Logs *Buffer
	// Clock is the conversation flow's clock: real time until advanced.
	Clock *Clock

	t         testing.TB
	appOpts   []app.Option
	logOut    io.Writer
	logLevel  string
	scheduler *SchedulerTokens
	closeOnce sync.Once
	next      atomic.Uint64
	hookTo    atomic.Int32
	mu        sync.Mutex
	stopped   map[int]bool
}

// New builds and starts an Expert Hub; everything stops when t ends, or
// at Close.
func New(t testing.TB, opts Options) *Harness {
	t.Helper()
	h := &Harness{Logs: &Buffer{}, Clock: &Clock{}, t: t}
	t.Cleanup(h.Close)

	// The server comes first, its URL being the App's public one; the
	// App is built before any webhook can call it.
	var built atomic.Bool
	h.Server = httptest.NewServer(h.front(&built, opts.FunctionPrefix))
	h.Twilio = twiliotest.NewServer(opts.Twilio)

	env := config.Env{
		"PUBLIC_BASE_URL":                h.Server.URL,
		"TWILIO_ACCOUNT_SID":             h.Twilio.AccountSID(),
		"TWILIO_AUTH_TOKEN":              h.Twilio.AuthToken(),
		"TWILIO_API_BASE_URL":            h.Twilio.URL,
		"FRONTLINE_WORKSPACE":            h.Twilio.WorkspaceSID(),
		"FRONTLINE_DEFAULT_POOL_QUEUE":   h.Twilio.QueueSID(),
		"FRONTLINE_MESSAGING_SERVICE":    twiliotest.DefaultMessaging,
		"FRONTLINE_PROXY_NUMBER":         ProxyNumber,
		"FRONTLINE_PROXY_NUMBER_GB":      ProxyNumberGB,
		"CACHE_TTL":                      "0",
		"SYNC_SCHEDULER_SERVICE_ACCOUNT": SchedulerAccount,
	}
	if opts.Flex {
		h.addFlex(env)
	}
	h.prefixedURLs(env, opts.FunctionPrefix)
	h.startStrapi(env, opts)
	instances := max(opts.Instances, 1)
	if instances > 1 && (opts.Store != Firestore || !opts.CloudTasks) {
		t.Fatalf("apptest: %d instances need the Firestore store and Cloud Tasks", instances)
	}
	if opts.CloudTasks {
		h.startTasks(t, env, opts.TasksRetry)
	}
	seed := h.useStore(t, env, opts)
	for k, v := range opts.Env {
		if v == "" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	cfg, err := config.Parse(env)
	if err != nil {
		t.Fatalf("apptest: %v", err)
	}
	h.Config = cfg
	if seed {
		seedFirestore(t, cfg)
	}

	level := opts.LogLevel
	if level == "" {
		level = "debug"
	}
	var out io.Writer = h.Logs
	if opts.LogOutput != nil {
		out = opts.LogOutput
	}
	h.scheduler = &SchedulerTokens{secret: randomSecret()}
	h.appOpts, h.logOut, h.logLevel = h.appOptions(opts), out, level
	for range instances {
		h.Apps = append(h.Apps, h.newApp(t))
	}
	h.App = h.Apps[0]
	built.Store(true)

	filters := opts.Filters
	if filters == nil {
		filters = DefaultFilters
	}
	h.Twilio.SetWebhooks(twiliotest.Webhooks{
		PreWebhookURL:  cfg.PublicURL(function.PreEvent),
		PostWebhookURL: cfg.PublicURL(function.PostEvent),
		Filters:        filters,
		RoutingURL:     cfg.PublicURL(function.Routing),
	})
	if !opts.NoEventCallback {
		h.Twilio.SetEventCallback(cfg.PublicURL(function.TaskRouterEvents), "worker.activity.update")
	}
	return h
}

// startStrapi runs the fake Strapi opts asks for, and points env at it.
func (h *Harness) startStrapi(env config.Env, opts Options) {
	if opts.StrapiVersion == 0 {
		return
	}
	sopts := []strapitest.Option{strapitest.WithCustomers(opts.StrapiCustomers), strapitest.WithExtraFields()}
	if opts.StrapiVersion != 3 {
		sopts = append(sopts, strapitest.WithAPIToken(StrapiAPIToken))
	}
	if opts.StrapiWebhooks {
		sopts = append(sopts, strapitest.WithWebhooks(h.strapiWebhook))
	}
	h.Strapi = strapitest.NewServer(opts.StrapiVersion, append(sopts, opts.StrapiOptions...)...)
	maps.Copy(env, config.Env{
		"STRAPI_URL":                     h.Strapi.URL,
		"STRAPI_API_TOKEN":               StrapiAPIToken,
		"STRAPI_VERSION":                 strconv.Itoa(opts.StrapiVersion),
		"STRAPI_WEBHOOK_SECRET":          WebhookSecret,
		"SYNC_SCHEDULER_SERVICE_ACCOUNT": SchedulerAccount,
	})
}

// useStore points env at the store opts asks for, and reports whether
// the store must be seeded with the sample customers.
func (h *Harness) useStore(t testing.TB, env config.Env, opts Options) bool {
	t.Helper()
	seed := false
	switch opts.Store {
	case "", InMemory:
	case Firestore:
		if opts.Env["GOOGLE_CLOUD_PROJECT"] == "" {
			env["GOOGLE_CLOUD_PROJECT"] = firestoretest.Project(t)
			seed = true
		}
		// Never Google's Firestore: the emulator or nothing.
		host := os.Getenv(firestoretest.EnvHost)
		if host == "" {
			t.Fatalf("apptest: no Firestore emulator: %s is not set", firestoretest.EnvHost)
		}
		env[firestoretest.EnvHost] = host
	default:
		t.Fatalf("apptest: unknown store %q", opts.Store)
	}
	return seed
}

// appOptions are the options every App of the harness is built with.
func (h *Harness) appOptions(opts Options) []app.Option {
	out := []app.Option{app.WithClock(h.Clock.Now), app.WithSchedulerTokens(h.scheduler)}
	if opts.FlowCustomers != nil {
		out = append(out, app.WithFlowCustomers(opts.FlowCustomers))
	}
	if opts.WrapLedger != nil {
		out = append(out, app.WrapLedger(opts.WrapLedger))
	}
	if opts.WrapBindings != nil {
		out = append(out, app.WrapBindings(opts.WrapBindings))
	}
	if h.Tasks != nil {
		out = append(out, app.WithQueueTokens(h.Tasks.Validator()))
	}
	return out
}

func (h *Harness) newApp(t testing.TB) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), h.Config, logging.New(h.logOut, h.logLevel), h.appOpts...)
	if err != nil {
		t.Fatalf("apptest: app.New: %v", err)
	}
	return a
}

// Restart replaces instance i with a new App on the same configuration
// and stores, as Cloud Run replaces an instance: the old one is closed
// (its in-process state, an in-process queue included, is gone) and the
// next requests may reach the new one.
func (h *Harness) Restart(t testing.TB, i int) {
	t.Helper()
	h.Stop(i)
	a := h.newApp(t)
	h.mu.Lock()
	h.Apps[i] = a
	if i == 0 {
		h.App = a
	}
	h.stopped[i] = false
	h.mu.Unlock()
}

// SchedulerToken returns an OIDC token of SchedulerAccount minted for the
// named function, as Cloud Scheduler sends it; the App accepts it
// (app.WithSchedulerTokens).
func (h *Harness) SchedulerToken(name function.Name) string {
	return h.IDToken(SchedulerAccount, h.URL(name))
}

// IDToken returns an OIDC token of email minted for audience, which the
// App's scheduler check validates (app.WithSchedulerTokens).
func (h *Harness) IDToken(email, audience string) string {
	return h.scheduler.Mint(email, audience)
}

// Sweep calls taskrouter-events as the scheduler does, and returns the
// status.
func (h *Harness) Sweep(t testing.TB) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.URL(function.TaskRouterEvents), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.SchedulerToken(function.TaskRouterEvents))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// SchedulerTokens mints and checks the test's stand-in for Google-signed
// OIDC tokens: "<email>|<audience>|<HMAC>".
type SchedulerTokens struct{ secret []byte }

// Mint returns a token of email for audience.
func (s *SchedulerTokens) Mint(email, audience string) string {
	return email + "|" + audience + "|" + s.mac(email, audience)
}

func (s *SchedulerTokens) mac(email, audience string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(email + "|" + audience))
	return hex.EncodeToString(m.Sum(nil))
}

// Validate checks a token Mint made for audience.
func (s *SchedulerTokens) Validate(_ context.Context, token, audience string) (gcpauth.Identity, error) {
	parts := strings.Split(token, "|")
	if len(parts) != 3 || !hmac.Equal([]byte(parts[2]), []byte(s.mac(parts[0], parts[1]))) {
		return gcpauth.Identity{}, errors.New("apptest: not a token of ours")
	}
	if parts[1] != audience {
		return gcpauth.Identity{}, fmt.Errorf("apptest: token for %s, not %s", parts[1], audience)
	}
	return gcpauth.Identity{Email: parts[0], EmailVerified: true}, nil
}

func randomSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// seedFirestore writes the sample customers to the App's Firestore cache,
// as a sync would have.
func seedFirestore(t testing.TB, cfg *config.Config) {
	t.Helper()
	ctx := context.Background()
	client, err := fsstore.NewClient(ctx, cfg.Project, cfg.FirestoreDatabase)
	if err != nil {
		t.Fatalf("apptest: %v", err)
	}
	defer client.Close()
	customers := crmtest.SampleCustomers()
	for i := range customers {
		customers[i].SyncedAt = time.Now()
	}
	if err := fsstore.NewStore(client, cfg.FirestoreCollection).Upsert(ctx, customers...); err != nil {
		t.Fatalf("apptest: seed the Firestore cache: %v", err)
	}
}

// SetWebhookInstance makes the fake Strapi's webhooks (Options.
// StrapiWebhooks) reach instance i, as Cloud Run hands a webhook to any one
// instance.
func (h *Harness) SetWebhookInstance(i int) { h.hookTo.Store(int32(i)) }

// strapiWebhook delivers one webhook of the fake Strapi to the sync
// function of the chosen instance, signed with the webhook secret as
// configured in Strapi, and fails the test unless it is applied.
func (h *Harness) strapiWebhook(event string, body []byte) {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Strapi-Event", event)
	r.Header.Set("Authorization", "Bearer "+WebhookSecret)
	rec := h.ServeOn(int(h.hookTo.Load()), function.Sync, r)
	if rec.Code != http.StatusOK {
		h.t.Errorf("apptest: Strapi webhook %s: %d %s", event, rec.Code, rec.Body)
	}
}

// FullSync runs the sync function's full sync on the first instance, as
// the scheduler does, and returns its answer.
func (h *Harness) FullSync(t testing.TB) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "Bearer "+WebhookSecret)
	rec := h.Serve(function.Sync, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("apptest: full sync: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// Close stops the server, the App and the fakes; New arranges it for the
// end of the test, and a benchmark may call it sooner to free what the
// App holds. It is safe to call more than once.
func (h *Harness) Close() {
	h.closeOnce.Do(func() {
		// The queue first, then the server: it waits for the requests in
		// flight, which may still use the App and the fakes.
		if h.Tasks != nil {
			h.Tasks.Close()
		}
		if h.Server != nil {
			h.Server.Close()
		}
		for i, a := range h.Apps {
			if h.isStopped(i) {
				continue
			}
			if err := a.Close(); err != nil {
				h.t.Errorf("apptest: close: %v", err)
			}
		}
		if h.Twilio != nil {
			h.Twilio.Close()
		}
		if h.Strapi != nil {
			h.Strapi.Close()
		}
	})
}

// WaitWork waits until the queue of conversation work (the Cloud Tasks
// fake, or each App's in-process queue) has delivered every task it
// holds, retries included, or fails the test after five minutes.
func (h *Harness) WaitWork(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	type idler interface{ WaitIdle(context.Context) error }
	var queues []idler
	if h.Tasks != nil {
		queues = append(queues, h.Tasks)
	} else {
		for _, a := range h.Apps {
			q, ok := a.Queue.(idler)
			if !ok {
				t.Fatalf("apptest: the App's queue (%T) is not in-process", a.Queue)
			}
			queues = append(queues, q)
		}
	}
	for _, q := range queues {
		if err := q.WaitIdle(ctx); err != nil {
			t.Fatalf("apptest: conversation work still queued: %v", err)
		}
	}
}

// Stop takes instance i out of service, as Cloud Run does with an
// instance that died: the next requests go to the others, and its App
// is closed.
func (h *Harness) Stop(i int) {
	h.mu.Lock()
	if h.stopped == nil {
		h.stopped = map[int]bool{}
	}
	was := h.stopped[i]
	h.stopped[i] = true
	h.mu.Unlock()
	if !was {
		_ = h.Apps[i].Close()
	}
}

func (h *Harness) isStopped(i int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stopped[i]
}

// pick returns the App to serve the next request: the instances take
// turns, skipping stopped ones.
func (h *Harness) pick() *app.App {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := uint64(len(h.Apps))
	for range n {
		i := int(h.next.Add(1) % n)
		if !h.stopped[i] {
			return h.Apps[i]
		}
	}
	return nil
}

// startTasks starts the Cloud Tasks fake and points env at it, with the
// deployed queue's limits and quick retries unless retry says otherwise.
func (h *Harness) startTasks(t testing.TB, env config.Env, retry engine.RetryConfig) {
	t.Helper()
	if retry == (engine.RetryConfig{}) {
		retry = engine.RetryConfig{MaxAttempts: -1, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxDoublings: 4}
	}
	d, err := deployment.Load()
	if err != nil {
		t.Fatalf("apptest: %v", err)
	}
	_, rate, err := d.Queues["work"].Dispatch()
	if err != nil {
		t.Fatalf("apptest: %v", err)
	}
	f, err := cloudtaskstest.Start(context.Background(), cloudtaskstest.Options{
		Queues: []cloudtaskstest.Queue{{
			Name:  cloudtaskstest.DefaultQueue,
			Retry: retry,
			Rate:  rate,
		}},
		RequireOIDC: true,
	})
	if err != nil {
		t.Fatalf("apptest: Cloud Tasks fake: %v", err)
	}
	h.Tasks = f
	maps.Copy(env, config.Env{
		"WORK_QUEUE":             cloudtaskstest.DefaultQueue,
		"WORK_SERVICE_ACCOUNT":   TasksServiceAccount,
		cloudtaskstest.EnvHost:   f.Addr(),
		cloudtaskstest.EnvSecret: f.Secret(),
	})
}

// front hands each request to the next live App, as Cloud Functions'
// front end does: function <name> is at /<prefix><name>.
func (h *Harness) front(built *atomic.Bool, prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := h.pick()
		if !built.Load() || a == nil {
			http.Error(w, "apptest: no App is serving", http.StatusServiceUnavailable)
			return
		}
		path, ok := strings.CutPrefix(strings.Trim(r.URL.Path, "/"), prefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		ProxyRequest(r, h.Server.URL)
		a.Handler(function.Name(path)).ServeHTTP(w, r)
	})
}

// prefixedURLs tells the App every function's URL when the functions
// have an environment's names (Options.FunctionPrefix), as deploy does.
func (h *Harness) prefixedURLs(env config.Env, prefix string) {
	if prefix == "" {
		return
	}
	for _, name := range function.All() {
		env[config.PublicURLVar(name)] = h.Server.URL + "/" + prefix + string(name)
	}
}

// URL is the named function's URL, which Twilio signs.
func (h *Harness) URL(name function.Name) string { return h.Config.PublicURL(name) }

// ProxyRequest rewrites r as Cloud Functions' front end hands it to the
// function: the function name stripped from the path, the public host in
// X-Forwarded-Host, the container's own address in Host.
func ProxyRequest(r *http.Request, publicOrigin string) {
	pub, _ := url.Parse(publicOrigin)
	r.Header.Set("X-Forwarded-Proto", "https")
	if pub != nil {
		r.Header.Set("X-Forwarded-Host", pub.Host)
	}
	r.Header.Set("X-Forwarded-For", "66.249.84.1")
	r.Header.Set("Forwarded", `for=66.249.84.1;proto=https`)
	r.Host = "localhost:8080"
	r.URL.Path, r.URL.RawPath = "/", ""
	r.RequestURI = r.URL.RequestURI()
}

// Serve sends r to the named function directly, as the front end would
// hand it over, and returns the answer.
func (h *Harness) Serve(name function.Name, r *http.Request) *httptest.ResponseRecorder {
	return h.ServeOn(0, name, r)
}

// ServeOn sends r to the named function of instance i.
func (h *Harness) ServeOn(i int, name function.Name, r *http.Request) *httptest.ResponseRecorder {
	ProxyRequest(r, h.Server.URL)
	rec := httptest.NewRecorder()
	h.Apps[i].Handler(name).ServeHTTP(rec, r)
	return rec
}

// SignedForm returns a form POST to the named function, signed as Twilio
// signs it for the function's public URL.
func (h *Harness) SignedForm(name function.Name, params url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(params.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", twiliotest.Sign(h.Config.TwilioAuthToken, h.URL(name), params))
	return r
}

// Post sends the named function a signed form over HTTP, as Twilio does,
// and returns the answer. It may be called from any goroutine.
func (h *Harness) Post(name function.Name, params url.Values) (status int, body string, err error) {
	return h.signedPost(name, params, h.Config.TwilioAuthToken)
}

// addFlex adds the Flex contact center's account, with its agent, and
// its settings to env.
func (h *Harness) addFlex(env config.Env) {
	h.Flex = h.Twilio.AddAccount(twiliotest.AccountConfig{AccountSID: FlexAccountSID, AuthToken: FlexAuthToken})
	h.Flex.AddWorker(FlexAgent, true, nil, h.Flex.QueueSID())
	maps.Copy(env, config.Env{
		"FLEX_ACCOUNT_SID": FlexAccountSID,
		"FLEX_AUTH_TOKEN":  FlexAuthToken,
		"FLEX_WORKSPACE":   h.Flex.WorkspaceSID(),
		"FLEX_WORKFLOW":    h.Flex.WorkflowSID(),
		"HANDOFF_SECRET":   HandoffSecret,
	})
}

// Handoff calls the handoff function over HTTP as a Flex plugin's
// backend does: params as a form, with Authorization: Bearer auth (none
// when empty). It may be called from any goroutine.
func (h *Harness) Handoff(params url.Values, auth string) (status int, body string, err error) {
	header := http.Header{}
	if auth != "" {
		header.Set("Authorization", "Bearer "+auth)
	}
	return postForm(h.URL(function.Handoff), params, header)
}

// FlexSignedHandoff calls the handoff function as a Twilio Function of
// the Flex account does: a form signed with token (FlexAuthToken for the
// real thing).
func (h *Harness) FlexSignedHandoff(params url.Values, token string) (status int, body string, err error) {
	return h.signedPost(function.Handoff, params, token)
}

// signedPost posts params to the named function, signed with token as
// Twilio signs a webhook.
func (h *Harness) signedPost(name function.Name, params url.Values, token string) (int, string, error) {
	return postForm(h.URL(name), params, http.Header{"X-Twilio-Signature": {twiliotest.Sign(token, h.URL(name), params)}})
}

// PostForm posts params as a form to target, with header (a signature,
// say), and returns the answer. It may be called from any goroutine.
func PostForm(target string, params url.Values, header http.Header) (int, string, error) {
	return postForm(target, params, header)
}

// postForm posts params as a form to target, with header, and returns the
// answer.
func postForm(target string, params url.Values, header http.Header) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(params.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header = header
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), err
}

// Text plays the customer at from texting body to ProxyNumber (from's
// channel: "whatsapp:" for WhatsApp). It fails the test when the text
// fails or a pre-event hook rejects it.
func (h *Harness) Text(t testing.TB, from, body string) twiliotest.TextResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	to := ProxyNumber
	if channel, _, ok := strings.Cut(from, ":"); ok {
		to = channel + ":" + to
	}
	res, err := h.Twilio.CustomerTexts(ctx, from, to, body)
	if err != nil {
		t.Fatalf("%s texts %q: %v", from, body, err)
	}
	if res.Rejected {
		t.Fatalf("%s texts %q: rejected by a pre-event hook: %+v", from, body, h.Twilio.Rejections())
	}
	return res
}

// Transcript returns the conversation's messages as "author: body", in
// index order.
func (h *Harness) Transcript(conv string) []string {
	var out []string
	for _, m := range h.Twilio.Messages(conv) {
		out = append(out, m.Author+": "+m.Body)
	}
	return out
}

// Marked is Transcript with each bot message that promises a worker, or
// offers to wait for one, shown by its mark — {"connect": worker} or
// {"offer": worker} in its attributes — as Connect(worker) or
// Offer(worker): tests assert whom the bot names, internal/bot words it.
func (h *Harness) Marked(conv string) []string {
	var out []string
	for _, m := range h.Twilio.Messages(conv) {
		mk := botMark(m)
		switch {
		case mk.Connect != "":
			out = append(out, Connect(mk.Connect))
		case mk.Offer != "":
			out = append(out, Offer(mk.Offer))
		default:
			out = append(out, m.Author+": "+m.Body)
		}
	}
	return out
}

// Promised returns the worker a bot message promises the customer (its
// {"connect": worker} mark), "" for none.
func Promised(m twiliotest.Message) string { return botMark(m).Connect }

type mark struct {
	Connect string `json:"connect"`
	Offer   string `json:"offer"`
}

func botMark(m twiliotest.Message) mark {
	var mk mark
	if m.Author != "system" || json.Unmarshal([]byte(m.Attributes), &mk) != nil {
		return mark{}
	}
	return mk
}

// Connect is how Marked shows a bot message promising worker.
func Connect(worker string) string { return "system: {connect: " + worker + "}" }

// Offer is how Marked shows a bot message offering to wait for worker.
func Offer(worker string) string { return "system: {offer: " + worker + "}" }

// Workers returns the identities of the conversation's chat participants.
func (h *Harness) Workers(conv string) []string {
	var out []string
	for _, p := range h.Twilio.Participants(conv) {
		if p.Identity != "" {
			out = append(out, p.Identity)
		}
	}
	return out
}

// Clock is real time plus an offset a test advances. It is safe for
// concurrent use.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns the time, advanced.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock d forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Buffer is a bytes.Buffer safe for concurrent use, as log output is.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns the decoded log lines whose message contains s.
func (b *Buffer) Lines(s string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && strings.Contains(fmt.Sprint(m["message"]), s) {
			out = append(out, m)
		}
	}
	return out
}
