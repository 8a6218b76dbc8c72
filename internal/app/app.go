// Package app builds Expert Hub from its configuration: the clients, the
// stores, and one http.Handler per function. The Cloud Functions entry
// package and the local runner both use it.
package app

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/experthub/experthub/internal/cloudtasks"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crmsync"
	"github.com/experthub/experthub/internal/flexauth"
	"github.com/experthub/experthub/internal/frontline"
	"github.com/experthub/experthub/internal/fsstore"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/gcpauth"
	"github.com/experthub/experthub/internal/handoff"
	"github.com/experthub/experthub/internal/inmem"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/strapi"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/taskqueue/engine"
	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilioflow"
	"github.com/experthub/experthub/internal/waitline"
	"github.com/experthub/experthub/internal/webhook"
)

// App is a built Expert Hub.
type App struct {
	Config    *config.Config
	Store     crm.Store
	Customers *crm.Service
	// Templates caches the CRM's message templates.
	Templates crm.TemplateStore
	// Assignments records who takes which conversation, and Queue
	// carries conversation work; both nil without Twilio credentials.
	Assignments conversation.Assignments
	Queue       taskqueue.Queue
	// Line is the waiting line; nil without Twilio credentials.
	Line waitline.Line

	// The CRM: nil without one configured.
	source        crm.Source
	webhooks      crmsync.WebhookDecoder
	templates     crm.TemplateSource
	templateHooks crmsync.TemplateWebhookDecoder

	// handoffs keeps the contact center's handoff bindings and notes,
	// used with a contact center only.
	handoffs handoffStore

	// The flow's stores, in Firestore or in memory (buildStore).
	ledger      conversation.Ledger
	assignments conversation.Assignments
	line        waitline.Line

	handlers map[function.Name]http.Handler
	log      *slog.Logger
	closers  []func() error
}

//go:embed sample_crm.json
var sampleCRM []byte

// Option adjusts the App New builds; tests use them to inject a clock or
// faults. Without options the App is built as deployed.
type Option func(*options)

type options struct {
	now       func() time.Time
	customers conversation.Customers
	ledger    func(conversation.Ledger) conversation.Ledger
	scheduler gcpauth.Validator
	queue     gcpauth.Validator
	bindings  func(handoff.Bindings) handoff.Bindings
}

// WithClock makes the conversation flow and the in-process customer layer
// read the time from now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithFlowCustomers makes the conversation flow look customers up in c
// instead of the customer cache; the crm function keeps the cache.
func WithFlowCustomers(c conversation.Customers) Option {
	return func(o *options) { o.customers = c }
}

// WrapLedger makes the conversation flow record its work in wrap(ledger)
// instead of the store's ledger.
func WrapLedger(wrap func(conversation.Ledger) conversation.Ledger) Option {
	return func(o *options) { o.ledger = wrap }
}

// WithSchedulerTokens makes sync and taskrouter-events check the
// scheduler's OIDC tokens with v instead of Google's keys: tests mint
// their own.
func WithSchedulerTokens(v gcpauth.Validator) Option {
	return func(o *options) { o.scheduler = v }
}

// schedulerTokens validates the scheduler's ID tokens: Google's, or the
// test's (WithSchedulerTokens).
func (o options) schedulerTokens() gcpauth.Validator {
	if o.scheduler != nil {
		return o.scheduler
	}
	return &gcpauth.GoogleIDTokens{}
}

// WithQueueTokens makes the work function check its callers' OIDC tokens
// with v instead of Google's keys: the Cloud Tasks fake signs its own
// (CLOUD_TASKS_EMULATOR_HOST). cmd/experthub injects it for local runs;
// the deployed functions never do.
func WithQueueTokens(v gcpauth.Validator) Option {
	return func(o *options) { o.queue = v }
}

// New builds the application. It makes no network call: clients connect on
// first use, so a cold start stays short.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, opts ...Option) (*App, error) {
	a := &App{Config: cfg, log: log, handlers: map[function.Name]http.Handler{}}
	if err := a.buildStore(ctx); err != nil {
		return nil, err
	}
	// The CRM authenticates the sync function's webhook calls with or
	// without a CRM behind the cache (see syncHandler).
	client := NewCRM(cfg)
	a.webhooks, a.templateHooks = client, client
	if cfg.CRM.Configured() {
		a.source, a.templates = client, client
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	a.Customers = crm.NewService(a.Store, a.source, crm.ServiceOptions{
		CacheTTL: cfg.CacheTTL, CacheSize: cfg.CacheSize, Logger: log, Now: o.now,
	})
	var notes frontline.Notes
	if cfg.HasFlex() {
		notes = a.handoffs
	}
	a.twilioFacing(function.CRM, frontline.CRMHandler(a.Customers, notes, log))
	a.twilioFacing(function.Outgoing, frontline.OutgoingHandler(frontline.ProxyNumbers{
		Default: cfg.ProxyNumber, ByCountry: cfg.ProxyNumbers,
	}, log))
	a.twilioFacing(function.Templates, frontline.TemplatesHandler(a.Customers, a.Templates, log))
	a.handlers[function.Sync] = a.named(function.Sync, a.syncHandler(o.schedulerTokens()))
	a.buildFlow(o)
	return a, nil
}

// buildFlow registers the conversation flow: routing, pre-event and
// post-event. Without Twilio credentials they answer as Unavailable does
// (pre-event still lets every action through).
func (a *App) buildFlow(o options) {
	cfg := a.Config
	if !cfg.HasTwilio() {
		// Handler answers for them as Unavailable does.
		a.log.Warn("no Twilio credentials: routing, pre-event and post-event are unavailable")
		return
	}
	rest := NewTwilio(cfg)
	timers := twilio.Timers{Inactive: cfg.InactiveAfter, Closed: cfg.CloseAfter}
	ports := twilioflow.Config{Workspace: cfg.Workspace, PoolQueue: cfg.PoolQueue, MessagingService: cfg.MessagingService, Timers: timers, Logger: a.log, Now: o.now}
	convs := twilioflow.NewConversations(rest, ports)
	// One Flow serves the conversation functions: each request's context
	// names its function for the logs (see named).
	deps := conversation.Deps{
		Conversations: convs, Workers: twilioflow.NewWorkers(rest, ports), Handoffs: convs,
		Directory: a.Customers, Customers: a.Customers, Logger: a.log, Now: o.now,
	}
	var cc conversation.ContactCenter
	// users checks the Flex users' tokens; nil without a contact center.
	var users *flexauth.Checker
	if cfg.HasFlex() {
		flex := NewFlexTwilio(cfg)
		deps.Flex = twilioflow.NewFlex(flex, cfg.FlexWorkspace, cfg.FlexWorkflow)
		users = flexauth.NewChecker(flex, o.now)
		proxies := frontline.ProxyNumbers{Default: cfg.ProxyNumber, ByCountry: cfg.ProxyNumbers}
		cc = conversation.ContactCenter{
			Proxy:    proxies.For,
			Keywords: cfg.ContactCenterKeywords,
			After:    cfg.ContactCenterAfter,
			Region:   cfg.DefaultRegion,
			Message:  cfg.HandoffMessage,
			Closing:  cfg.ContactCenterClosing,
			Opener: whatsAppOpener(conversation.Content{SID: cfg.HandoffContentSID, Variables: cfg.HandoffContentVariables},
				a.Templates, a.log),
		}
		deps.Bindings, deps.Notes, deps.Open = a.handoffs, a.handoffs, a.handoffs
		if o.bindings != nil {
			deps.Bindings = o.bindings(deps.Bindings)
		}
	}
	if o.customers != nil {
		deps.Customers = o.customers
	}
	deps.Ledger, deps.Assignments, deps.Line = a.ledger, a.assignments, a.line
	a.Line = deps.Line
	if o.ledger != nil {
		deps.Ledger = o.ledger(deps.Ledger)
	}
	// The local queue delivers to the Flow's consumer, which needs the
	// queue built first: consume reaches the Flow through a variable.
	var consume http.Handler
	a.Queue = a.buildQueue(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { consume.ServeHTTP(w, r) }))
	a.Assignments, deps.Queue = deps.Assignments, a.Queue
	flow := conversation.New(conversation.Config{
		FallbackWorker: cfg.FallbackWorker,
		WelcomeMessage: cfg.WelcomeMessage,
		Returning:      cfg.ReturningCustomer,
		Policy:         cfg.RoutingPolicy,
		Areas:          cfg.ExpertiseAreas,
		Lease:          cfg.HandlerTimeout,
		WorkDelay:      cfg.WorkDelay,
		MaxAge:         cfg.WorkMaxAge,
		ContactCenter:  cc,
		MaxWait:        cfg.MaxWait,
		Timers:         conversation.Timers{Inactive: cfg.InactiveAfter, Closed: cfg.CloseAfter},
	}, deps)
	consume = a.named(function.Work, taskqueue.Consumer(flow.Consume, a.log))
	a.handlers[function.Work] = a.queueFacing(consume, o.queue)
	a.twilioFacing(function.Routing, routingHandler(flow, a.log))
	a.twilioFacing(function.PreEvent, preEventHandler(flow, a.log))
	a.twilioFacing(function.PostEvent, postEventHandler(flow, a.log))
	// The Flex UI calls handoff and experts from the browser: they, and
	// only they, answer its CORS checks.
	origins := flexauth.Origins(cfg.FlexUIOrigins)
	handoffLog, handoff := a.log.With(logging.FunctionKey, string(function.Handoff)), handoffHandler(flow, cfg.DefaultRegion, a.log)
	a.handlers[function.Handoff] = a.named(function.Handoff, origins.CORS(withDeadline(cfg.HandlerTimeout,
		handoffGate(cfg.HandoffSecret, users, handoffLog, a.flexSigned(function.Handoff, handoffLog, handoff), handoff))))
	a.handlers[function.Experts] = a.named(function.Experts, origins.CORS(withDeadline(cfg.HandlerTimeout,
		expertsGate(cfg.HandoffSecret, users, a.log.With(logging.FunctionKey, string(function.Experts)), expertsHandler(flow, a.log)))))
	a.taskrouterEvents(flow, o)
	a.flexEvents(flow)
}

// taskrouterEvents registers the taskrouter-events function: TaskRouter's
// workspace event callback, signed as every Twilio webhook, and the
// scheduler's sweep of the waiting line, a POST with the OIDC token of
// SYNC_SCHEDULER_SERVICE_ACCOUNT (as sync checks it) minted for the
// function's URL. A request with a bearer token is the scheduler's; any
// other must carry Twilio's signature.
func (a *App) taskrouterEvents(flow *conversation.Flow, o options) {
	const name = function.TaskRouterEvents
	a.twilioFacing(name, eventsHandler(flow, a.log))
	events := a.handlers[name]
	scheduler := gcpauth.Caller{Validator: o.schedulerTokens(), Audience: a.Config.PublicURL(name), Account: a.Config.SchedulerAccount}
	sweep := a.named(name, gcpauth.Require(scheduler, sweepHandler(flow, a.log), a.log.With(logging.FunctionKey, string(name))))
	a.handlers[name] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			sweep.ServeHTTP(w, r)
			return
		}
		events.ServeHTTP(w, r)
	})
}

// NewCRM returns the client of the CRM the configuration describes (its
// settings: config.CRM); the functions and experthub doctor share it.
// Another CRM is another package behind this line and config.CRM.
func NewCRM(cfg *config.Config) *strapi.Client { return strapi.Open(cfg.CRM, cfg.DefaultRegion) }

// NewTwilio returns the Twilio REST client the configuration describes;
// the functions and the operations commands (setup, doctor) share it.
func NewTwilio(cfg *config.Config) *twilio.Client {
	return twilioClient(cfg, cfg.TwilioAccountSID, cfg.TwilioAuthToken, cfg.TwilioAPIKey, cfg.TwilioAPISecret)
}

// NewFlexTwilio returns the REST client of the Flex contact center's
// account (FLEX_*); the functions and setup share it.
func NewFlexTwilio(cfg *config.Config) *twilio.Client {
	return twilioClient(cfg, cfg.FlexAccountSID, cfg.FlexAuthToken, cfg.FlexAPIKey, cfg.FlexAPISecret)
}

// twilioClient is a client of one account, through the Twilio hosts and
// with the timeout every client has.
func twilioClient(cfg *config.Config, account, token, key, secret string) *twilio.Client {
	return twilio.New(twilio.Config{
		AccountSID: account, AuthToken: token, APIKey: key, APISecret: secret,
		BaseURL: cfg.TwilioAPIBaseURL, Timeout: cfg.TwilioTimeout,
	})
}

// buildQueue returns the queue of conversation work: Cloud Tasks (or its
// fake) with WORK_QUEUE, else an in-process queue delivering to consume.
func (a *App) buildQueue(consume http.Handler) taskqueue.Queue {
	cfg := a.Config
	if !cfg.UsesCloudTasks() {
		q := taskqueue.NewLocal(consume, taskqueue.LocalOptions{Options: engine.Options{Logger: a.log}})
		a.closers = append(a.closers, q.Close)
		return q
	}
	q := cloudtasks.New(cloudtasks.Config{
		Queue:          cfg.WorkQueue,
		TargetURL:      cfg.PublicURL(function.Work),
		ServiceAccount: cfg.WorkServiceAccount,
		Endpoint:       cfg.TasksEmulator,
	})
	a.closers = append(a.closers, q.Close)
	return q
}

// queueFacing guards the work function: only the queue's OIDC identity
// gets in. Without Cloud Tasks the in-process queue calls the consumer
// directly and the function lets nobody in.
//
// With CLOUD_TASKS_EMULATOR_HOST the queue is a fake whose tokens only
// the validator given (WithQueueTokens) accepts; without one, Google's
// check refuses them, which the log says.
func (a *App) queueFacing(consume http.Handler, tokens gcpauth.Validator) http.Handler {
	cfg := a.Config
	if !cfg.UsesCloudTasks() {
		return a.named(function.Work, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.log.WarnContext(r.Context(), "work called without a Cloud Tasks queue (WORK_QUEUE is not set); refused", "remote", r.RemoteAddr)
			http.Error(w, "conversation work is delivered in-process: WORK_QUEUE is not set", http.StatusForbidden)
		}))
	}
	var v gcpauth.Validator = &gcpauth.GoogleIDTokens{}
	switch {
	case tokens != nil:
		v = tokens
	case cfg.TasksEmulator != "":
		a.log.Warn("CLOUD_TASKS_EMULATOR_HOST is set, but no validator of the fake's tokens was given (experthub serve gives one): work accepts Google's tokens only")
	}
	queue := gcpauth.Caller{Validator: v, Audience: cfg.PublicURL(function.Work), Account: cfg.WorkServiceAccount}
	return a.named(function.Work, gcpauth.Require(queue, consume, a.log))
}

// NewSyncer returns a full/incremental sync of the customers from the CRM
// into the cache, or nil without a CRM.
func (a *App) NewSyncer(progress func(crmsync.Progress)) *crmsync.Syncer[crm.Customer] {
	if a.source == nil {
		return nil
	}
	s := crmsync.New(crmsync.Customers(a.source, a.Store), crmsync.Options{
		Name:     "customers",
		Progress: progress,
		Logger:   a.log.With(logging.FunctionKey, string(function.Sync)),
	})
	// The webhook reaches one instance: this one answers the change at
	// once, the others when their in-process entries expire (CACHE_TTL).
	s.OnApplied(func(ctx context.Context, c crm.Customer, ap crmsync.Applied) {
		if c.ID == "" {
			c.ID = ap.ID
		}
		n := a.Customers.Forget(c)
		for _, old := range ap.Replaced {
			n += a.Customers.Forget(crm.Customer{ID: old})
		}
		a.log.DebugContext(ctx, "in-process customer entries dropped", "customer_id", c.ID, "entries", n)
	})
	return s
}

// NewTemplateSyncer returns the sync of the message templates from the
// CRM into the cache, or nil without a CRM.
func (a *App) NewTemplateSyncer() *crmsync.Syncer[crm.Template] {
	if a.templates == nil {
		return nil
	}
	return crmsync.New(crmsync.Templates(a.templates, a.Templates), crmsync.Options{
		Name:   "templates",
		Logger: a.log.With(logging.FunctionKey, string(function.Sync)),
	})
}

// syncHandler returns the sync function. Without a CRM it still checks
// every caller first (crmsync.NewHandler with a nil Syncer): an
// unauthenticated request learns nothing of the configuration, and the
// deployment's smoke test sees the same refusal with or without a CRM.
func (a *App) syncHandler(scheduler gcpauth.Validator) http.Handler {
	if a.source == nil {
		a.log.Warn("no CRM configured: sync authenticates its callers and syncs nothing", logging.FunctionKey, string(function.Sync))
	}
	// No handler deadline here: a full sync of a large CRM takes longer
	// than a webhook may, and the function's own timeout bounds it.
	return crmsync.NewHandler(a.NewSyncer(nil), a.webhooks, crmsync.HandlerConfig{
		Templates:     a.NewTemplateSyncer(),
		TemplateHooks: a.templateHooks,
		Scheduler:     gcpauth.Caller{Validator: scheduler, Audience: a.Config.SyncAudience, Account: a.Config.SchedulerAccount},
		Logger:        a.log,
	})
}

// buildStore opens the stores: in Firestore with GOOGLE_CLOUD_PROJECT or
// the emulator, else in memory with the sample customers.
func (a *App) buildStore(ctx context.Context) error {
	cfg := a.Config
	if cfg.UsesFirestore() {
		s, err := fsstore.Open(ctx, cfg.Project, cfg.FirestoreDatabase, cfg.FirestoreCollection)
		if err != nil {
			return err
		}
		a.closers = append(a.closers, s.Close)
		a.Store, a.Templates = s.Store, s.Templates
		a.ledger, a.assignments, a.line, a.handoffs = s.Ledger, s.Assignments, s.Line, s.Handoffs
		return nil
	}
	s := inmem.Open()
	a.Store, a.Templates = s.Store, s.Templates
	a.ledger, a.assignments, a.line, a.handoffs = s.Ledger, s.Assignments, s.Line, s.Handoffs
	return seedSample(ctx, s.Store, cfg)
}

// seedSample writes the sample customers (CRM_SAMPLE_FILE, or the
// built-in ones) to the in-memory cache.
func seedSample(ctx context.Context, store crm.Store, cfg *config.Config) error {
	sample := sampleCRM
	if cfg.SampleFile != "" {
		b, err := os.ReadFile(cfg.SampleFile)
		if err != nil {
			return fmt.Errorf("read CRM_SAMPLE_FILE: %w", err)
		}
		sample = b
	}
	var customers []crm.Customer
	if err := json.Unmarshal(sample, &customers); err != nil {
		return fmt.Errorf("sample CRM: %w", err)
	}
	now := time.Now()
	for i := range customers {
		// National numbers read as the sync reads Strapi's.
		customers[i].Localize(cfg.DefaultRegion)
		customers[i].SyncedAt = now
	}
	return store.Upsert(ctx, customers...)
}

// twilioFacing registers a handler behind the signature check and the
// handler deadline.
func (a *App) twilioFacing(name function.Name, h http.Handler) {
	// The verifier's own logger names the function: it may warn when
	// built, outside any request.
	v := webhook.NewVerifier(a.Config.TwilioAuthToken, a.log.With(logging.FunctionKey, string(name)), a.Config.PublicURL(name))
	if name == function.PreEvent {
		// Conversations may be configured to call its webhooks with GET;
		// refusing the pre-event call would drop the customer's message.
		v.AllowGET()
	}
	a.handlers[name] = a.named(name, withDeadline(a.Config.HandlerTimeout, v.Wrap(h)))
}

// named puts the function's name and the request's Cloud Trace context
// in each request's context, where the logger reads them
// (logging.WithFunction, logging.WithTrace): every line of one request
// names its function and links to its trace.
func (a *App) named(name function.Name, h http.Handler) http.Handler {
	project := a.Config.Project
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := logging.WithFunction(r.Context(), string(name))
		if t, ok := logging.TraceFromHeader(r.Header); ok {
			ctx = logging.WithTrace(ctx, project, t)
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

func withDeadline(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Handler returns the named function's handler: one of function.All, or
// Unavailable for any other name.
func (a *App) Handler(name function.Name) http.Handler {
	if h, ok := a.handlers[name]; ok {
		return h
	}
	return Unavailable(name)
}

// Close releases the clients.
func (a *App) Close() error {
	var first error
	for _, c := range a.closers {
		if err := c(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Unavailable answers for a function that could not be built. The
// pre-action webhook must still answer 200: any other status would make
// Twilio drop the customer's message.
func Unavailable(name function.Name) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name == function.PreEvent {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("{}"))
			return
		}
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
	})
}
