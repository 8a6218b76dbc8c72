// Package config reads Expert Hub's settings from the environment (and a
// .env file for local runs), validates them once, and names every problem
// in one error.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config/envvar"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/strapi"
)

// DefaultHandlerTimeout is HANDLER_TIMEOUT when unset: each webhook's
// deadline, inside the 5 s Twilio waits for an answer.
const DefaultHandlerTimeout = 4 * time.Second

// Defaults of the durable conversation work (WORK_DELAY, WORK_MAX_AGE):
// the queue's safety net runs once the webhook's own attempt is over
// (HANDLER_TIMEOUT) and Twilio has given up waiting (5 s); a job still
// failing after a quarter of an hour is given up and logged.
const (
	DefaultWorkDelay  = 5 * time.Second
	DefaultWorkMaxAge = 15 * time.Minute
)

// DefaultCacheTTL is CACHE_TTL when unset: a Strapi change must show in
// every answer within 5 s of its webhook on every instance, and the
// webhook reaches one instance only; the others rely on this expiry.
const DefaultCacheTTL = 2 * time.Second

// DefaultWaitingLineMaxWait is WAITING_LINE_MAX_WAIT when unset: how long
// a customer waits in line before they are told so, once, and
// FALLBACK_WORKER takes them.
const DefaultWaitingLineMaxWait = 10 * time.Minute

// Defaults of the conversation timers (CONVERSATION_INACTIVE_AFTER,
// CONVERSATION_CLOSE_AFTER), Twilio's Timers.Inactive and Timers.Closed,
// counted from a conversation's last message. A retailer's clienteling
// thread lives for weeks (an order, a repair, a fitting): after a week
// without a message it is inactive (the next message reactivates it),
// after 30 days it is closed, and the customer's
// next text starts a new conversation routed by ROUTING_POLICY, advisor
// first. Twilio's minimums are 1 and 10 minutes
// (https://www.twilio.com/docs/conversations/states-timers).
const (
	DefaultConversationInactiveAfter = 7 * 24 * time.Hour
	DefaultConversationCloseAfter    = 30 * 24 * time.Hour
	MinConversationInactiveAfter     = time.Minute
	MinConversationCloseAfter        = 10 * time.Minute
)

// timerOff is the value that turns a conversation timer off (and a message
// that may be turned off: offIsEmpty).
const timerOff = "off"

// Var documents one environment variable. Vars is the single list the
// table of docs/configuration.md and the deploy consistency check are
// checked against.
type Var = envvar.Var

// CRM is the settings of the CRM the cache is synced from: Strapi's. The
// CRM's package reads, checks and documents them (Read, Vars); another
// CRM is another package whose Settings have the same methods.
type CRM = strapi.Settings

// Vars lists every variable the product reads, config's own then the
// CRM's: the README table and the deploy consistency check are built
// from it.
var Vars = slices.Concat(vars, CRM{}.Vars())

// vars are config's own variables. FRONTLINE_PROXY_NUMBER_<CC> is a
// family and appears once with its pattern.
var vars = []Var{
	{Name: "PUBLIC_BASE_URL", Help: "Origin Twilio calls (e.g. `https://europe-west1-myproj.cloudfunctions.net`); each function's signed URL is this plus `/<function>`. Locally defaults to `http://localhost:$PORT`."},
	{Name: "PUBLIC_URL_<FUNCTION>", Help: "Exact URL of one function when it is not `PUBLIC_BASE_URL/<function>` (e.g. `PUBLIC_URL_PRE_EVENT=https://pre-event-abc-ew.a.run.app`). Both deploy paths set it for every function of an environment, whose deployed name is `eh-<environment>-<function>`."},
	{Name: "TWILIO_ACCOUNT_SID", Aliases: []string{"ACCOUNT_SID"}, Help: "Twilio account SID (`AC…`)."},
	{Name: "TWILIO_AUTH_TOKEN", Aliases: []string{"AUTH_TOKEN"}, Secret: true, Help: "Twilio auth token: checks `X-Twilio-Signature`, and authenticates REST calls unless an API key is set."},
	{Name: "TWILIO_API_KEY", Help: "Optional API key SID (`SK…`) for REST calls."},
	{Name: "TWILIO_API_SECRET", Secret: true, Help: "Secret of `TWILIO_API_KEY`."},
	{Name: "TWILIO_API_BASE_URL", Help: "Send every Twilio REST request to this origin (same path) instead of `https://<product>.twilio.com`: tests, the sandbox, contract mocks."},
	{Name: "TWILIO_TIMEOUT", Default: "2s", Help: "Timeout of one Twilio REST request (twilio-go's default is 10 s, longer than a webhook may take)."},
	{Name: "FRONTLINE_WORKSPACE", Help: "Frontline TaskRouter workspace SID (`WS…`): where workers are looked up."},
	{Name: "FRONTLINE_DEFAULT_POOL_QUEUE", Aliases: []string{"DEFAULT_POOL_QUEUE_SID"}, Help: "TaskRouter queue SID (`WQ…`) whose available workers take \"agent\" requests."},
	{Name: "FRONTLINE_MESSAGING_SERVICE", Help: "Messaging service SID (`MG…`) holding the Frontline numbers; `handoff` creates conversations in it."},
	{Name: "FRONTLINE_PROXY_NUMBER", Help: "Default sender for outgoing conversations (E.164)."},
	{Name: "FRONTLINE_PROXY_NUMBER_<CC>", Help: "Sender for customers in country `<CC>` (ISO code; `UK` is read as `GB`), e.g. `FRONTLINE_PROXY_NUMBER_FR`."},
	{Name: "FLEX_ACCOUNT_SID", Help: "Account SID (`AC…`) of the Flex contact center, a second Twilio account. The `FLEX_*` settings and `HANDOFF_SECRET` are set together or not at all; unset: no contact center."},
	{Name: "FLEX_AUTH_TOKEN", Secret: true, Help: "Auth token of the Flex account: checks `X-Twilio-Signature` on `handoff`, and authenticates REST calls to Flex (the Flex users' tokens' validation included) unless `FLEX_API_KEY` is set."},
	{Name: "FLEX_API_KEY", Help: "Optional API key SID (`SK…`) of the Flex account for REST calls."},
	{Name: "FLEX_API_SECRET", Secret: true, Help: "Secret of `FLEX_API_KEY`."},
	{Name: "FLEX_WORKSPACE", Help: "TaskRouter workspace SID (`WS…`) of the Flex account, where contact-center tasks are created."},
	{Name: "FLEX_WORKFLOW", Help: "TaskRouter workflow SID (`WW…`) of `FLEX_WORKSPACE` that routes those tasks to Flex agents."},
	{Name: "HANDOFF_SECRET", Secret: true, Help: "Shared secret (at least 32 characters) a Flex plugin's backend sends as `Authorization: Bearer <secret>` to `handoff` and `experts` (the plugin in the browser sends the Flex user's token instead)."},
	{Name: "FLEX_UI_ORIGINS", Default: DefaultFlexUIOrigins, Help: "Comma-separated browser origins (`scheme://host[:port]`; `:*` for any port) allowed to call `handoff` and `experts` from the browser (CORS), as the Flex plugin does; no other function answers a browser. The sandbox adds `http://localhost:*` and `http://127.0.0.1:*` unless it is set."},
	{Name: "CONTACT_CENTER_KEYWORDS", Default: bot.DefaultContactCenterKeywords, Help: "Comma-separated words or phrases with which a customer asks the bot for the contact center (case-insensitive, whole words)."},
	{Name: "CONTACT_CENTER_AFTER", Default: "0", Help: "With a contact center configured: a customer who has waited longer than this for an expert (since their first message) is handed to Flex; `0` never."},
	{Name: "HANDOFF_MESSAGE", Default: bot.DefaultHandoffMessage, Help: "The one message a customer the contact center hands over gets (`handoff`): `{name}` is the expert's display name, `one of our experts` when it is unknown. The agent's summary and transcript never go to the customer."},
	{Name: "HANDOFF_WHATSAPP_CONTENT_SID", Help: "Content API template (`HX…`, approved for WhatsApp in the Frontline account) that opens a handoff to a WhatsApp customer outside WhatsApp's 24-hour window, instead of `HANDOFF_MESSAGE`: since April 2025 WhatsApp takes a template outside the window only this way. Unset: the first CRM template marked `whatsAppApproved`, sent as text."},
	{Name: "HANDOFF_WHATSAPP_CONTENT_VARIABLES", Help: "The variables of `HANDOFF_WHATSAPP_CONTENT_SID`, a JSON object of strings such as `{\"1\": \"{{customer.first_name}}\"}`; values take the templates' customer placeholders (`{{customer.first_name}}`, `{{customer.display_name}}`, `{{customer.id}}`), not the worker's (the expert is chosen after)."},
	{Name: "CONTACT_CENTER_CLOSING_MESSAGE", Default: bot.DefaultContactCenterClosing, Help: "The last message a customer the bot handed to the contact center gets when the Flex task is completed, before their Frontline conversation is closed (their next message starts a new one); `off`: none."},
	{Name: "FALLBACK_WORKER", Help: "Identity to route \"agent\" requests to when no worker is available (optional)."},
	{Name: "WAITING_LINE_MAX_WAIT", Default: DefaultWaitingLineMaxWait.String(), Help: "How long a customer waits in line before the bot tells them so (once) and `FALLBACK_WORKER`, if set, takes them."},
	{Name: "CONVERSATION_INACTIVE_AFTER", Default: DefaultConversationInactiveAfter.String(), Help: "A conversation Expert Hub routes becomes inactive after this long without a message (Twilio's `Timers.Inactive`, at least `1m`); its next message reactivates it. `off`: no timer."},
	{Name: "CONVERSATION_CLOSE_AFTER", Default: DefaultConversationCloseAfter.String(), Help: "A conversation Expert Hub routes is closed after this long without a message (Twilio's `Timers.Closed`, at least `10m`): its claim and place in line go, and the customer's next text starts a new conversation routed by `ROUTING_POLICY`. `off`: no timer."},
	{Name: "WELCOME_MESSAGE", Default: bot.DefaultWelcome, Help: "The bot's first message (routing callback)."},
	{Name: "RETURNING_CUSTOMER", Default: string(assign.ReturningOff), Help: "`off`, `offer` (the bot suggests the last worker) or `route` (a returning customer goes straight back to the last worker: an alias for `last` in `ROUTING_POLICY`)."},
	{Name: "ROUTING_POLICY", Default: string(assign.Bot), Help: "Who a new conversation goes to, in order, comma-separated: `advisor` (the customer's advisor, the CRM's `worker` field: added when available, otherwise the bot offers to wait for them), `last` (the worker the customer last spoke with, if still a worker), `bot` (the menu; always last, implied). E.g. `advisor,last,bot`."},
	{Name: "EXPERTISE_AREAS", Help: "Labels and synonyms of the expertise areas workers carry in their TaskRouter attributes (`{\"expertise\": [\"watches\"]}`), in menu order: `key=Label|synonym|…` separated by `;`, e.g. `watches=Watches|montre|watch;bridal=Bridal|wedding`. Areas found among the pool's workers but not named here are offered under their key."},
	{Name: "DEFAULT_REGION", Help: "ISO country code (`FR`) of phone numbers stored without a country code (`06 79 50 00 98`): such numbers are read as numbers of that country, in the sync and in lookups alike. Unset: only international numbers are understood."},
	{Name: "SYNC_SCHEDULER_SERVICE_ACCOUNT", Help: "E-mail of the service account whose OIDC token may trigger a full sync (Cloud Scheduler)."},
	{Name: "SYNC_OIDC_AUDIENCE", Help: "Audience of that OIDC token; defaults to the `sync` function's public URL."},
	{Name: "GOOGLE_CLOUD_PROJECT", Help: "Project of the Firestore cache. Unset and no emulator: in-memory cache (local runs)."},
	{Name: "FIRESTORE_EMULATOR_HOST", Local: true, Help: "`host:port` of the Firestore emulator (tests, local)."},
	{Name: "FIRESTORE_DATABASE", Default: "(default)", Help: "Firestore database id. Environments sharing a project need one each (docs/deploy.md, \"Environments\")."},
	{Name: "FIRESTORE_COLLECTION", Default: "customers", Help: "Collection holding the customer cache."},
	{Name: "CACHE_TTL", Default: DefaultCacheTTL.String(), Help: "Lifetime of the in-process customer cache in front of Firestore (`0` disables it). A Strapi change reaches the instance that receives its webhook at once; other instances see it within this time (see docs/benchmarks.md, freshness)."},
	{Name: "CACHE_SIZE", Default: "10000", Help: "Entries the in-process cache holds at most; its memory grows with use, not reserved at start."},
	{Name: "CRM_SAMPLE_FILE", Local: true, Help: "JSON file of customers to seed the in-memory cache (national numbers read with DEFAULT_REGION, as the sync reads Strapi's); default: the four built-in sample customers (one with an advisor)."},
	{Name: "WORK_QUEUE", Help: "Cloud Tasks queue that carries conversation work, `projects/<project>/locations/<region>/queues/eh-<environment>-work`. Both deploy paths set it on `routing`, `post-event`, `work`, `taskrouter-events` and `handoff`."},
	{Name: "WORK_SERVICE_ACCOUNT", Help: "E-mail of the service account (`eh-<environment>-tasks@<project>.iam.gserviceaccount.com`) whose OIDC token Cloud Tasks sends to the `work` function. Set by deploy with `WORK_QUEUE`."},
	{Name: "WORK_DELAY", Default: DefaultWorkDelay.String(), Help: "When, after its webhook, the queue delivers a piece of conversation work (a welcome, a bot turn, a customer's attributes) to finish what the webhook's own attempt left undone."},
	{Name: "WORK_MAX_AGE", Default: DefaultWorkMaxAge.String(), Help: "Age after which the `work` function gives up on a task: it logs an ERROR and drops it (Cloud Tasks has no dead-letter queue)."},
	{Name: "CLOUD_TASKS_EMULATOR_HOST", Local: true, Help: "`host:port` of a Cloud Tasks fake (`experthub queue-fake`) to use instead of Cloud Tasks: production-like local runs and tests."},
	{Name: "CLOUD_TASKS_EMULATOR_SECRET", Local: true, Help: "Key the Cloud Tasks fake signs its OIDC tokens with (`experthub queue-fake` prints it); the `work` function accepts those tokens only while `CLOUD_TASKS_EMULATOR_HOST` is set."},
	{Name: "HANDLER_TIMEOUT", Default: DefaultHandlerTimeout.String(), Help: "Deadline of each webhook (Twilio gives up after 5 s)."},
	{Name: "LOG_LEVEL", Default: "info", Help: "`debug`, `info`, `warn` or `error`."},
	{Name: "PORT", Default: "8080", Local: true, Help: "Port of the local server (`go run ./cmd/experthub`)."},
	{Name: "SANDBOX_PORT", Local: true, Help: "Port of the local Twilio sandbox, started when no Twilio credentials are set; default `PORT`+1."},
}

// Config is the validated configuration.
type Config struct {
	PublicBaseURL string
	// PublicURLs maps a function to its exact URL (PUBLIC_URL_<FUNCTION>).
	PublicURLs map[function.Name]string

	TwilioAccountSID string
	TwilioAuthToken  string
	TwilioAPIKey     string
	TwilioAPISecret  string
	TwilioAPIBaseURL string
	TwilioTimeout    time.Duration

	Workspace        string
	PoolQueue        string
	MessagingService string
	ProxyNumber      string
	ProxyNumbers     map[string]string // ISO country code → sender
	FallbackWorker   string
	MaxWait          time.Duration
	// InactiveAfter and CloseAfter are the conversations' timers; zero:
	// off.
	InactiveAfter  time.Duration
	CloseAfter     time.Duration
	WelcomeMessage string

	// The Flex contact center: a second Twilio account (all or none).
	FlexAccountSID string
	FlexAuthToken  string
	FlexAPIKey     string
	FlexAPISecret  string
	FlexWorkspace  string
	FlexWorkflow   string
	HandoffSecret  string
	// FlexUIOrigins are the browser origins allowed to call handoff and
	// experts (CORS).
	FlexUIOrigins         []string
	ContactCenterKeywords []string
	ContactCenterAfter    time.Duration
	HandoffMessage        string
	// ContactCenterClosing is the last message before a conversation
	// whose Flex task is completed is closed; "" (off): none.
	ContactCenterClosing string
	// HandoffContentSID and HandoffContentVariables are the Content API
	// template a handoff outside WhatsApp's window opens with, and its
	// variables (a JSON object of strings, placeholders unfilled).
	HandoffContentSID       string
	HandoffContentVariables string

	ReturningCustomer assign.Returning
	// RoutingPolicy is ROUTING_POLICY, validated, ending with assign.Bot;
	// RETURNING_CUSTOMER=route adds assign.Last before it.
	RoutingPolicy []assign.Step
	// ExpertiseAreas is EXPERTISE_AREAS, parsed.
	ExpertiseAreas bot.Areas

	CRM              CRM
	DefaultRegion    string
	SchedulerAccount string
	SyncAudience     string

	Project             string
	FirestoreEmulator   string
	FirestoreDatabase   string
	FirestoreCollection string
	CacheTTL            time.Duration
	CacheSize           int
	SampleFile          string

	WorkQueue          string
	WorkServiceAccount string
	WorkDelay          time.Duration
	WorkMaxAge         time.Duration
	TasksEmulator      string
	TasksSecret        string

	HandlerTimeout time.Duration
	LogLevel       string
	Port           string
	SandboxPort    string
}

// HasTwilio reports whether Twilio credentials are set; without them the
// local runner starts the sandbox.
func (c *Config) HasTwilio() bool { return c.TwilioAccountSID != "" }

// HasFlex reports whether a Flex contact center is configured.
func (c *Config) HasFlex() bool { return c.FlexAccountSID != "" }

// UsesCloudTasks reports whether conversation work goes through a Cloud
// Tasks queue (or its fake); otherwise an in-process queue carries it.
func (c *Config) UsesCloudTasks() bool { return c.WorkQueue != "" }

// UsesFirestore reports whether the cache lives in Firestore.
func (c *Config) UsesFirestore() bool { return c.Project != "" || c.FirestoreEmulator != "" }

// PublicURL is the URL Twilio signs for function f.
func (c *Config) PublicURL(f function.Name) string {
	if u, ok := c.PublicURLs[f]; ok {
		return u
	}
	return strings.TrimRight(c.PublicBaseURL, "/") + "/" + string(f)
}

// PublicURLVar is the setting that gives function f its exact URL, e.g.
// PUBLIC_URL_PRE_EVENT for pre-event.
func PublicURLVar(f function.Name) string {
	return "PUBLIC_URL_" + strings.ToUpper(strings.ReplaceAll(string(f), "-", "_"))
}

// Load reads the environment. A .env file in the working directory, if
// present, fills in variables the environment does not set.
func Load() (*Config, error) {
	env, err := LoadEnv()
	if err != nil {
		return nil, err
	}
	return Parse(env)
}

// LoadEnv returns the variables Load parses: the environment, and what a
// .env file in the working directory adds. A command that overrides a
// setting (doctor --base-url) changes them before Parse.
func LoadEnv() (Env, error) {
	env := Environ()
	if err := env.mergeDotEnv(".env"); err != nil {
		return nil, err
	}
	return env, nil
}

// Env is a set of environment variables.
type Env map[string]string

// Environ returns the process environment.
func Environ() Env {
	env := Env{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

var (
	sidPattern       = regexp.MustCompile(`^[A-Z]{2}[0-9a-fA-F]{32}$`)
	proxyVarPattern  = regexp.MustCompile(`^FRONTLINE_PROXY_NUMBER_([A-Z]{2})$`)
	publicURLPattern = regexp.MustCompile(`^PUBLIC_URL_([A-Z_]+)$`)
	queuePattern     = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/queues/[A-Za-z0-9-]+$`)
)

// Parse validates env and returns the configuration, or one error listing
// every missing or malformed variable.
func Parse(env Env) (*Config, error) {
	p := parser{env: env}
	c := &Config{
		Port:             p.str("PORT"),
		TwilioAccountSID: p.str("TWILIO_ACCOUNT_SID"),
		TwilioAuthToken:  p.str("TWILIO_AUTH_TOKEN"),
		TwilioAPIKey:     p.str("TWILIO_API_KEY"),
		TwilioAPISecret:  p.str("TWILIO_API_SECRET"),
		TwilioAPIBaseURL: p.url("TWILIO_API_BASE_URL"),
		TwilioTimeout:    p.duration("TWILIO_TIMEOUT"),

		Workspace:         p.str("FRONTLINE_WORKSPACE"),
		PoolQueue:         p.str("FRONTLINE_DEFAULT_POOL_QUEUE"),
		MessagingService:  p.str("FRONTLINE_MESSAGING_SERVICE"),
		ProxyNumber:       p.str("FRONTLINE_PROXY_NUMBER"),
		FallbackWorker:    strings.ToLower(p.str("FALLBACK_WORKER")),
		MaxWait:           p.duration("WAITING_LINE_MAX_WAIT"),
		InactiveAfter:     p.timer("CONVERSATION_INACTIVE_AFTER", MinConversationInactiveAfter),
		CloseAfter:        p.timer("CONVERSATION_CLOSE_AFTER", MinConversationCloseAfter),
		WelcomeMessage:    p.str("WELCOME_MESSAGE"),
		ReturningCustomer: parse(&p, "RETURNING_CUSTOMER", assign.ParseReturning),
		ExpertiseAreas:    parse(&p, "EXPERTISE_AREAS", bot.ParseAreas),

		FlexAccountSID:          p.str("FLEX_ACCOUNT_SID"),
		FlexAuthToken:           p.str("FLEX_AUTH_TOKEN"),
		FlexAPIKey:              p.str("FLEX_API_KEY"),
		FlexAPISecret:           p.str("FLEX_API_SECRET"),
		FlexWorkspace:           p.str("FLEX_WORKSPACE"),
		FlexWorkflow:            p.str("FLEX_WORKFLOW"),
		HandoffSecret:           p.str("HANDOFF_SECRET"),
		ContactCenterKeywords:   splitList(p.str("CONTACT_CENTER_KEYWORDS")),
		FlexUIOrigins:           splitList(p.str("FLEX_UI_ORIGINS")),
		ContactCenterAfter:      p.duration("CONTACT_CENTER_AFTER"),
		HandoffMessage:          p.str("HANDOFF_MESSAGE"),
		ContactCenterClosing:    offIsEmpty(p.str("CONTACT_CENTER_CLOSING_MESSAGE")),
		HandoffContentSID:       p.str("HANDOFF_WHATSAPP_CONTENT_SID"),
		HandoffContentVariables: p.str("HANDOFF_WHATSAPP_CONTENT_VARIABLES"),

		DefaultRegion:    strings.ToUpper(p.str("DEFAULT_REGION")),
		SchedulerAccount: p.str("SYNC_SCHEDULER_SERVICE_ACCOUNT"),
		SyncAudience:     p.str("SYNC_OIDC_AUDIENCE"),

		Project:             p.str("GOOGLE_CLOUD_PROJECT"),
		FirestoreEmulator:   p.str("FIRESTORE_EMULATOR_HOST"),
		FirestoreDatabase:   p.str("FIRESTORE_DATABASE"),
		FirestoreCollection: p.str("FIRESTORE_COLLECTION"),
		CacheTTL:            p.duration("CACHE_TTL"),
		CacheSize:           p.positiveInt("CACHE_SIZE"),
		SampleFile:          p.str("CRM_SAMPLE_FILE"),

		WorkQueue:          p.str("WORK_QUEUE"),
		WorkServiceAccount: p.str("WORK_SERVICE_ACCOUNT"),
		WorkDelay:          p.duration("WORK_DELAY"),
		WorkMaxAge:         p.duration("WORK_MAX_AGE"),
		TasksEmulator:      p.str("CLOUD_TASKS_EMULATOR_HOST"),
		TasksSecret:        p.str("CLOUD_TASKS_EMULATOR_SECRET"),

		HandlerTimeout: p.duration("HANDLER_TIMEOUT"),
		LogLevel:       p.oneOf("LOG_LEVEL", "debug", "info", "warn", "error"),
		SandboxPort:    p.str("SANDBOX_PORT"),
	}
	c.RoutingPolicy = p.policy("ROUTING_POLICY", c.ReturningCustomer)
	c.CRM.Read(crmEnv{&p})
	c.PublicBaseURL = p.url("PUBLIC_BASE_URL")
	if c.PublicBaseURL == "" {
		c.PublicBaseURL = "http://localhost:" + c.Port
	}
	c.PublicBaseURL = strings.TrimRight(c.PublicBaseURL, "/")
	c.ProxyNumbers, c.PublicURLs = p.families()
	if c.SyncAudience == "" {
		c.SyncAudience = c.PublicURL(function.Sync)
	}

	p.check(c.TwilioAccountSID == "" || sidPattern.MatchString(c.TwilioAccountSID) && strings.HasPrefix(c.TwilioAccountSID, "AC"),
		"TWILIO_ACCOUNT_SID", "must be AC followed by 32 hex digits")
	p.check(c.TwilioAccountSID == "" || c.TwilioAuthToken != "",
		"TWILIO_AUTH_TOKEN", "is required with TWILIO_ACCOUNT_SID (it checks webhook signatures)")
	p.check((c.TwilioAPIKey == "") == (c.TwilioAPISecret == ""),
		"TWILIO_API_KEY", "and TWILIO_API_SECRET must be set together")
	p.check(c.TwilioAccountSID == "" || c.Workspace != "",
		"FRONTLINE_WORKSPACE", "is required with Twilio credentials")
	p.check(c.Workspace == "" || strings.HasPrefix(c.Workspace, "WS"), "FRONTLINE_WORKSPACE", "must start with WS")
	p.check(c.DefaultRegion == "" || crm.ValidRegion(c.DefaultRegion), "DEFAULT_REGION", "must be an ISO country code such as FR")
	p.check(c.PoolQueue == "" || strings.HasPrefix(c.PoolQueue, "WQ"), "FRONTLINE_DEFAULT_POOL_QUEUE", "must start with WQ")
	p.check(c.TwilioTimeout > 0, "TWILIO_TIMEOUT", "must be positive")
	p.check(c.HandlerTimeout > 0, "HANDLER_TIMEOUT", "must be positive")
	p.check(c.WorkQueue == "" || queuePattern.MatchString(c.WorkQueue),
		"WORK_QUEUE", "must be projects/<project>/locations/<location>/queues/<queue>")
	p.check(c.WorkQueue == "" || c.WorkServiceAccount != "",
		"WORK_SERVICE_ACCOUNT", "is required with WORK_QUEUE (the identity of the queue's OIDC tokens)")
	p.check(c.TasksEmulator == "" || c.WorkQueue != "", "CLOUD_TASKS_EMULATOR_HOST", "needs WORK_QUEUE")
	p.check(c.TasksEmulator == "" || c.TasksSecret != "",
		"CLOUD_TASKS_EMULATOR_SECRET", "is required with CLOUD_TASKS_EMULATOR_HOST (experthub queue-fake prints it)")
	p.checkFlex(c)
	p.check(c.WorkDelay > 0, "WORK_DELAY", "must be positive")
	p.check(c.MaxWait > 0, "WAITING_LINE_MAX_WAIT", "must be positive")
	p.check(c.WorkMaxAge > c.WorkDelay, "WORK_MAX_AGE", "must be longer than WORK_DELAY")
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// parser reads variables through their aliases and defaults, collecting
// every problem instead of stopping at the first.
type parser struct {
	env      Env
	problems []string
}

// families reads the variables of the families FRONTLINE_PROXY_NUMBER_<CC>
// (by ISO country code) and PUBLIC_URL_<FUNCTION>.
func (p *parser) families() (proxyNumbers map[string]string, publicURLs map[function.Name]string) {
	proxyNumbers, publicURLs = map[string]string{}, map[function.Name]string{}
	for k, v := range p.env {
		if m := proxyVarPattern.FindStringSubmatch(k); m != nil {
			cc := m[1]
			if cc == "UK" {
				cc = "GB"
			}
			proxyNumbers[cc] = strings.TrimSpace(v)
		}
		if m := publicURLPattern.FindStringSubmatch(k); m != nil {
			name := function.Name(strings.ToLower(strings.ReplaceAll(m[1], "_", "-")))
			publicURLs[name] = strings.TrimRight(p.url(k), "/")
		}
	}
	// An explicit GB number wins over the seed's UK spelling.
	if v := strings.TrimSpace(p.env["FRONTLINE_PROXY_NUMBER_GB"]); v != "" {
		proxyNumbers["GB"] = v
	}
	return proxyNumbers, publicURLs
}

func lookupVar(name string) Var {
	for _, v := range Vars {
		if v.Name == name {
			return v
		}
	}
	return Var{Name: name}
}

func (p *parser) str(name string) string {
	v := lookupVar(name)
	for _, k := range append([]string{v.Name}, v.Aliases...) {
		if s, ok := p.env[k]; ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return v.Default
}

func (p *parser) url(name string) string {
	s := p.env[name]
	if s == "" {
		s = p.str(name)
	}
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.problems = append(p.problems, name+": must be an http(s) URL")
		return ""
	}
	return s
}

func (p *parser) duration(name string) time.Duration {
	s := p.str(name)
	if s == "0" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		p.problems = append(p.problems, fmt.Sprintf("%s: %q is not a duration like 2s or 500ms", name, s))
	}
	return d
}

// timer reads a conversation timer: off (zero) or a duration of at
// least minimum, Twilio's.
func (p *parser) timer(name string, minimum time.Duration) time.Duration {
	if strings.EqualFold(p.str(name), timerOff) {
		return 0
	}
	d := p.duration(name)
	p.check(d >= minimum, name, fmt.Sprintf("must be %s or at least %v (Twilio's minimum)", timerOff, minimum))
	return d
}

func (p *parser) positiveInt(name string) int {
	s := p.str(name)
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		p.problems = append(p.problems, fmt.Sprintf("%s: %q is not a positive number", name, s))
	}
	return n
}

func (p *parser) oneOf(name string, allowed ...string) string {
	s := strings.ToLower(p.str(name))
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	p.problems = append(p.problems, fmt.Sprintf("%s: %q is not one of %s", name, s, strings.Join(allowed, ", ")))
	return allowed[0]
}

// DefaultFlexUIOrigins is where the Flex UI runs: the one origin allowed
// to call handoff and experts from a browser unless FLEX_UI_ORIGINS says
// otherwise.
const DefaultFlexUIOrigins = "https://flex.twilio.com"

// validOrigin reports whether s is a browser origin FLEX_UI_ORIGINS may
// list: scheme://host[:port], or scheme://host:* for any port.
func validOrigin(s string) bool {
	u, err := url.Parse(strings.Replace(s, ":*", "", 1))
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.Opaque == "" &&
		u.Path == "" && u.RawQuery == "" && !u.ForceQuery && u.Fragment == "" && u.User == nil
}

// MinHandoffSecret is the fewest characters HANDOFF_SECRET may have: a
// shared secret guessable in fewer tries than a 128-bit key is no lock.
const MinHandoffSecret = 32

// checkFlex validates the contact center's settings, which stand or fall
// together: half a second account would fail at the first handoff.
func (p *parser) checkFlex(c *Config) {
	set := map[string]bool{
		"FLEX_ACCOUNT_SID": c.FlexAccountSID != "",
		"FLEX_AUTH_TOKEN":  c.FlexAuthToken != "",
		"FLEX_WORKSPACE":   c.FlexWorkspace != "",
		"FLEX_WORKFLOW":    c.FlexWorkflow != "",
		"HANDOFF_SECRET":   c.HandoffSecret != "",
	}
	n := 0
	for _, ok := range set {
		if ok {
			n++
		}
	}
	if n > 0 && n < len(set) {
		for name, ok := range set {
			p.check(ok, name, "is required with the other FLEX_* settings and HANDOFF_SECRET (all or none)")
		}
	}
	p.check(c.FlexAccountSID == "" || sidPattern.MatchString(c.FlexAccountSID) && strings.HasPrefix(c.FlexAccountSID, "AC"),
		"FLEX_ACCOUNT_SID", "must be AC followed by 32 hex digits")
	p.check(c.FlexAccountSID == "" || c.FlexAccountSID != c.TwilioAccountSID,
		"FLEX_ACCOUNT_SID", "must be another account than TWILIO_ACCOUNT_SID (Frontline cannot be installed in a Flex account)")
	p.check(c.FlexWorkspace == "" || sidPattern.MatchString(c.FlexWorkspace) && strings.HasPrefix(c.FlexWorkspace, "WS"),
		"FLEX_WORKSPACE", "must be WS followed by 32 hex digits")
	p.check(c.FlexWorkflow == "" || sidPattern.MatchString(c.FlexWorkflow) && strings.HasPrefix(c.FlexWorkflow, "WW"),
		"FLEX_WORKFLOW", "must be WW followed by 32 hex digits")
	p.check((c.FlexAPIKey == "") == (c.FlexAPISecret == ""), "FLEX_API_KEY", "and FLEX_API_SECRET must be set together")
	p.check(c.FlexAPIKey == "" || c.FlexAccountSID != "", "FLEX_API_KEY", "needs FLEX_ACCOUNT_SID")
	p.check(c.HandoffSecret == "" || len(c.HandoffSecret) >= MinHandoffSecret,
		"HANDOFF_SECRET", fmt.Sprintf("must have at least %d characters (e.g. openssl rand -hex 32)", MinHandoffSecret))
	p.check(c.ContactCenterAfter == 0 || c.FlexAccountSID != "", "CONTACT_CENTER_AFTER", "needs a contact center (FLEX_ACCOUNT_SID)")
	p.checkHandoffContent(c)
	for _, o := range c.FlexUIOrigins {
		p.check(validOrigin(o), "FLEX_UI_ORIGINS", fmt.Sprintf("%q is not an origin (scheme://host[:port], or :* for any port)", o))
	}
}

// checkHandoffContent validates the WhatsApp template of handoffs outside
// WhatsApp's 24-hour window.
func (p *parser) checkHandoffContent(c *Config) {
	p.check(c.HandoffContentSID == "" || sidPattern.MatchString(c.HandoffContentSID) && strings.HasPrefix(c.HandoffContentSID, "HX"),
		"HANDOFF_WHATSAPP_CONTENT_SID", "must be HX followed by 32 hex digits")
	p.check(c.HandoffContentVariables == "" || c.HandoffContentSID != "",
		"HANDOFF_WHATSAPP_CONTENT_VARIABLES", "needs HANDOFF_WHATSAPP_CONTENT_SID")
	var variables map[string]string
	p.check(c.HandoffContentVariables == "" || json.Unmarshal([]byte(c.HandoffContentVariables), &variables) == nil,
		"HANDOFF_WHATSAPP_CONTENT_VARIABLES", `must be a JSON object of strings, e.g. {"1": "{{customer.first_name}}"}`)
	// The opener is chosen before the expert: a worker placeholder would
	// always be empty.
	p.check(!strings.Contains(c.HandoffContentVariables, "{{worker."),
		"HANDOFF_WHATSAPP_CONTENT_VARIABLES", "takes customer placeholders only (the expert is not known yet when it is sent)")
}

// splitList splits a comma-separated setting, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.ToLower(strings.TrimSpace(item)); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// parse reads a setting with the parser of the package it belongs to
// (assign.ParseReturning, bot.ParseAreas); what it refuses is a problem.
func parse[T any](p *parser, name string, read func(string) (T, error)) T {
	v, err := read(p.str(name))
	if err != nil {
		p.problems = append(p.problems, name+": "+err.Error())
	}
	return v
}

// policy reads a routing policy (assign.ParsePolicy).
func (p *parser) policy(name string, returning assign.Returning) []assign.Step {
	steps, problems := assign.ParsePolicy(p.str(name), returning)
	for _, msg := range problems {
		p.problems = append(p.problems, name+": "+msg)
	}
	return steps
}

// crmEnv is the parser as the CRM's package reads its settings with
// (CRM.Read).
type crmEnv struct{ p *parser }

func (e crmEnv) Get(name string) string                      { return e.p.str(name) }
func (e crmEnv) URL(name string) string                      { return e.p.url(name) }
func (e crmEnv) OneOf(name string, allowed ...string) string { return e.p.oneOf(name, allowed...) }
func (e crmEnv) Check(ok bool, name, problem string)         { e.p.check(ok, name, problem) }

func (p *parser) check(ok bool, name, msg string) {
	if !ok {
		p.problems = append(p.problems, name+": "+msg)
	}
}

func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	sort.Strings(p.problems)
	return errors.New("invalid configuration:\n  " + strings.Join(p.problems, "\n  "))
}

// offIsEmpty reads a message setting that may be turned off: "off" (any
// case) is none.
func offIsEmpty(s string) string {
	if strings.EqualFold(s, timerOff) {
		return ""
	}
	return s
}
