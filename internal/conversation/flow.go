// Package conversation is Expert Hub's conversation flow: the Frontline custom
// routing callback and the Conversations pre- and post-event webhooks that
// welcome a customer, run the bot and hand the conversation to a worker.
//
// # Events
//
// Twilio drops a customer's message when a pre-action webhook answers
// anything but 2xx ([Conversations webhooks]), so the pre-event webhook
// does nothing that can fail: onConversationAdd names the conversation
// from one cache read, onMessageAdd answers {} at once. The bot runs on
// the post-event onMessageAdded, once the customer's message is
// published, so its reply always comes after the message it answers.
// Configure the global webhook's filters as:
//
//	pre-event:  onConversationAdd (onMessageAdd is harmless)
//	post-event: onParticipantAdded, onMessageAdded
//
// # Retries
//
// Twilio may deliver a webhook more than once. Each piece of work has a
// key in the ledger (package ledger): "routing:<ConversationSid>" for the
// welcome, "turn:<MessageSid>" for a bot turn. A duplicate arriving while
// the first delivery works, or after it finished, does nothing. A
// delivery that finds the lease of a dead attempt resumes: the bot's
// messages carry {"in_reply_to": <key's SID>} in their attributes, so it
// posts only what is missing, and adding a worker who is already a
// participant is a no-op. onParticipantAdded needs no ledger: it only
// adds missing attributes, which a second delivery finds present.
//
// # Assignment
//
// Who takes a conversation is claimed in a store (package assign) in one
// atomic step that also records the worker's last assignment: two
// messages racing in one conversation add one worker, and conversations
// asking for "any agent" at once get different workers.
//
// # Latency
//
// A bot turn costs two sequential Twilio round trips and one store claim:
// the participants, the worker lookup, the ledger entry and the current
// claim are read at once; then the reply is posted, the worker added and
// (for "any agent") the worker's TaskRouter record fetched at once, and
// its lastAcceptedTaskTime written after. The worker's display name, which
// the reply calls them by, is read beside the first round trip or before
// the turn, and cached (names.go).
//
// [Conversations webhooks]: https://www.twilio.com/docs/conversations/conversations-webhooks
package conversation

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/handoff"
	"github.com/experthub/experthub/internal/httpjson"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/waitline"
)

// Twilio is the REST API the flow drives (internal/twilio.Client).
type Twilio interface {
	ListParticipants(ctx context.Context, conversationSID string) ([]twilio.Participant, error)
	AddParticipant(ctx context.Context, conversationSID, identity, attributes string) (twilio.Participant, error)
	FetchParticipant(ctx context.Context, conversationSID, participantSID string) (twilio.Participant, error)
	UpdateParticipantAttributes(ctx context.Context, conversationSID, participantSID, attributesJSON string) error
	PostMessageOnce(ctx context.Context, conversationSID, author, body, attributesJSON string, mine func(twilio.Message) bool) (twilio.Message, error)
	RecentMessages(ctx context.Context, conversationSID string, n int) ([]twilio.Message, error)
	ListAvailableWorkers(ctx context.Context, workspace, queue string) ([]twilio.Worker, error)
	ListWorkers(ctx context.Context, workspace, queue string) ([]twilio.Worker, error)
	FindWorker(ctx context.Context, workspace, identity string) (twilio.Worker, error)
	FetchWorker(ctx context.Context, workspace, sid string) (twilio.Worker, string, error)
	UpdateWorkerAttributes(ctx context.Context, workspace, sid, attributesJSON, ifMatch string) error
	FetchFrontlineUser(ctx context.Context, identity string) (twilio.User, error)
}

// Customers finds a customer by phone number (crm.Service).
type Customers interface {
	CustomerByAddress(ctx context.Context, address string) (crm.Customer, error)
}

// Ledger records webhook work (package ledger).
type Ledger = taskqueue.Ledger

// Assignments records who takes which conversation (package assign).
type Assignments interface {
	Claim(ctx context.Context, req assign.Request) (assign.Assignment, error)
	Assignment(ctx context.Context, conversation string) (assign.Assignment, error)
	LastWorker(ctx context.Context, address string) (string, error)
}

// systemAuthor is the author of the bot's messages.
const systemAuthor = "system"

// Config is the flow's settings.
type Config struct {
	// Workspace is the Frontline TaskRouter workspace (WS…), PoolQueue
	// the TaskQueue (WQ…) whose available workers take "agent" requests
	// (the whole workspace when empty).
	Workspace string
	PoolQueue string
	// FallbackWorker takes "agent" requests when nobody is available;
	// empty: nobody does.
	FallbackWorker string
	// WelcomeMessage is the bot's first message; empty: bot.DefaultWelcome.
	WelcomeMessage string
	// Returning is what the welcome does for a returning customer; empty:
	// assign.ReturningOff.
	Returning assign.Returning
	// Policy is who a new conversation goes to, in order (see
	// assign.Policy, which completes it).
	Policy []assign.Step
	// Areas label the expertise areas of the pool's workers
	// (EXPERTISE_AREAS).
	Areas bot.Areas
	// Lease is how long a claim keeps other work out of a conversation
	// whose worker has not joined yet, and how long an attempt without a
	// deadline holds a conversation.
	Lease time.Duration
	// WorkDelay is when, after its webhook, a job's queue task runs to
	// finish what the webhook's own attempt left undone; zero:
	// config.DefaultWorkDelay.
	WorkDelay time.Duration
	// MaxAge is how long the queue keeps trying a job before it is
	// dead-lettered; zero: config.DefaultWorkMaxAge.
	MaxAge time.Duration
	// ContactCenter is the Flex contact center; zero: none.
	ContactCenter ContactCenter
	// MaxWait is how long a customer waits in line before they are told
	// so (once) and FallbackWorker takes them; zero:
	// config.DefaultWaitingLineMaxWait.
	MaxWait time.Duration
}

// Deps are the flow's collaborators.
type Deps struct {
	Twilio      Twilio
	Customers   Customers
	Ledger      Ledger
	Assignments Assignments
	// Queue carries the jobs the webhooks start to the Work consumer.
	Queue taskqueue.Queue
	// Conversations, Directory and Flex serve the contact-center handoff;
	// nil without one.
	Conversations Conversations
	Directory     Directory
	Flex          Flex
	// Bindings and Notes keep the handoff ids' customers and the contact
	// center's notes (package handoff); nil without a contact center.
	Bindings handoff.Bindings
	Notes    handoff.Notes

	// Line is the waiting line; nil: a customer nobody can take is told
	// to write again later, as before the line.
	Line   waitline.Line
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
}

// Flow serves the routing, pre-event and post-event functions. It is safe
// for concurrent use.
type Flow struct {
	cfg         Config
	twilio      Twilio
	customers   Customers
	ledger      Ledger
	assignments Assignments
	work        *taskqueue.Runner
	cc          ContactCenter
	convs       Conversations
	directory   Directory
	flex        Flex
	bindings    handoff.Bindings
	notes       handoff.Notes
	line        waitline.Line
	log         *slog.Logger
	now         func() time.Time

	// announce logs once where the bot runs when onMessageAdd arrives.
	announce sync.Once
	// areas caches the expertise areas of the pool's workers.
	areas areaCache
	// names caches the workers' display names (names.go).
	names nameCache
	// pool merges concurrent reads of the pool's available workers.
	pool poolReads
}

// New returns a Flow.
func New(cfg Config, deps Deps) *Flow {
	if cfg.Lease <= 0 {
		cfg.Lease = config.DefaultHandlerTimeout
	}
	if cfg.WelcomeMessage == "" {
		cfg.WelcomeMessage = bot.DefaultWelcome
	}
	if cfg.WorkDelay <= 0 {
		cfg.WorkDelay = config.DefaultWorkDelay
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = config.DefaultWorkMaxAge
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = config.DefaultWaitingLineMaxWait
	}
	if cfg.Returning == "" {
		cfg.Returning = assign.ReturningOff
	}
	cfg.Policy = assign.Policy(cfg.Policy, cfg.Returning)
	f := &Flow{
		cfg:         cfg,
		twilio:      deps.Twilio,
		customers:   deps.Customers,
		ledger:      deps.Ledger,
		assignments: deps.Assignments,
		cc:          cfg.ContactCenter,
		convs:       deps.Conversations,
		directory:   deps.Directory,
		flex:        deps.Flex,
		bindings:    deps.Bindings,
		notes:       deps.Notes,
		line:        deps.Line,
		log:         deps.Logger,
		now:         deps.Now,
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.now == nil {
		f.now = time.Now
	}
	f.work = taskqueue.NewRunner(taskqueue.Config{
		Name:     "conversation work",
		Group:    "ConversationSid",
		LogGroup: "conversation",
		Queue:    deps.Queue,
		Ledger:   deps.Ledger,
		Logger:   f.log,
		Now:      f.now,
		Delay:    cfg.WorkDelay,
		MaxAge:   cfg.MaxAge,
		Lease:    cfg.Lease,
		InFlight: func(err error) bool { return !twilio.IsRefusal(err) },
		Gone:     twilio.ErrNotFound,
	})
	f.register()
	return f
}

// Routing is the Frontline custom routing callback.
func (f *Flow) Routing() http.Handler { return http.HandlerFunc(f.routing) }

// PreEvent is the Conversations pre-event webhook. It answers 2xx
// whatever happens, panics included.
func (f *Flow) PreEvent() http.Handler {
	return httpjson.OKOnPanic(f.log, http.HandlerFunc(f.preEvent))
}

// PostEvent is the Conversations post-event webhook.
func (f *Flow) PostEvent() http.Handler { return http.HandlerFunc(f.postEvent) }

// form returns the webhook's parameters: webhook.Verifier has decoded
// them into r.PostForm.
func form(r *http.Request) url.Values {
	if r.PostForm == nil {
		_ = r.ParseForm()
	}
	return r.PostForm
}

func get(form url.Values, key string) string { return strings.TrimSpace(form.Get(key)) }

// isSID reports whether s looks like a Twilio SID with prefix: two
// letters and 32 hex digits.
func isSID(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, c := range s[2:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// ok answers 200 with an empty JSON object: Twilio leaves the action as it
// is, and Frontline expects JSON.
func ok(w http.ResponseWriter) { httpjson.Write(w, http.StatusOK, struct{}{}) }

func fail(w http.ResponseWriter, status int, msg string) { httpjson.Error(w, status, msg) }
