// Package conversation is Expert Hub's conversation flow: its decisions.
// It welcomes a customer (Frontline's custom routing callback), runs the
// bot on their messages (the Conversations webhooks), hands the
// conversation to a worker, keeps the waiting line, and connects the Flex
// contact center both ways (fromflex.go, toflex.go). It speaks its own
// types (types.go) through the ports below; the HTTP webhooks that call
// it live at the edge (internal/app), the Twilio adapter in
// internal/twilioflow, and the durable-work runtime its jobs run on in
// internal/taskqueue (work.go lists the kinds).
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
//	post-event: onParticipantAdded, onMessageAdded, onConversationStateUpdated,
//	            onParticipantRemoved
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
// the waiting line left at once. For "any agent", the worker's
// lastAcceptedTaskTime is then written in the background, off the turn's
// path. The worker's display name, which the reply calls them by, is read
// beside the first round trip or before the turn, and cached (the
// adapter's Workers.Name).
//
// [Conversations webhooks]: https://www.twilio.com/docs/conversations/conversations-webhooks
package conversation

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/handoff"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/waitline"
)

// Conversations is what the flow reads and does in Frontline's
// conversations.
type Conversations interface {
	Participants(ctx context.Context, conv string) ([]Participant, error)
	Participant(ctx context.Context, conv, sid string) (Participant, error)
	// RecentMessages returns the conversation's latest n messages, oldest
	// first.
	RecentMessages(ctx context.Context, conv string, n int) ([]Message, error)
	// Post posts a message, cut to Twilio's limit. After a post that
	// failed unclearly it looks once for a message mine recognises and
	// never posts again: the error then wraps ErrUnclear.
	Post(ctx context.Context, conv, author, body, attributes string, mine func(Message) bool) error
	// PostContent posts a Content API template as Post posts a body.
	PostContent(ctx context.Context, conv, author string, c Content, attributes string, mine func(Message) bool) error
	// AddWorker adds the worker identity; ErrExists when they are in.
	AddWorker(ctx context.Context, conv, identity string) error
	// DescribeCustomer adds to p's attributes those of customer c that
	// are missing, within Twilio's limits, and returns what did not fit.
	DescribeCustomer(ctx context.Context, conv string, p Participant, c crm.Customer) (leftOut []string, err error)
	// SetTimers sets the conversation's state timers.
	SetTimers(ctx context.Context, conv string, t Timers) error
}

// Workers reads Frontline's workers: the pool (the TaskQueue whose
// workers take "agent" requests) and the workspace.
type Workers interface {
	// Available returns the pool's available workers, read at some
	// moment after since.
	Available(ctx context.Context, since time.Time) ([]Worker, error)
	// Pool returns every worker of the pool, described (cached).
	Pool(ctx context.Context) ([]Worker, error)
	// Find returns the worker identity; a zero Worker when there is none.
	Find(ctx context.Context, identity string) (Worker, error)
	// Fetch returns the worker sid, described.
	Fetch(ctx context.Context, sid string) (Worker, error)
	// RecordAccepted writes the worker's lastAcceptedTaskTime, unless a
	// later one is there.
	RecordAccepted(ctx context.Context, sid string, at time.Time) error
	// Name returns how a customer message may call the worker: their
	// display name, "" when there is none. It waits briefly for a first
	// lookup.
	Name(ctx context.Context, identity string) string
	// NameKnownBefore is Name without waiting for a lookup started at
	// or after t: for a worker chosen after the turn's first reads.
	NameKnownBefore(ctx context.Context, identity string, t time.Time) string
	// PrefetchName starts the lookup of identity's name.
	PrefetchName(ctx context.Context, identity string)
	// Deactivated reports whether Frontline said, when the name was
	// last looked up, that the user identity is deactivated: such a
	// worker cannot sign in to take a conversation.
	Deactivated(identity string) bool
}

// Customers finds a customer by phone number (crm.Service).
type Customers interface {
	CustomerByAddress(ctx context.Context, address string) (crm.Customer, error)
}

// Ledger records work (package ledger).
type Ledger = taskqueue.Ledger

// Assignments records who takes which conversation (package assign).
type Assignments interface {
	Claim(ctx context.Context, req assign.Request) (assign.Assignment, error)
	Assignment(ctx context.Context, conversation string) (assign.Assignment, error)
	LastWorker(ctx context.Context, address string) (string, error)
	// Release marks the conversation's claim released when it is
	// worker's: they left (see assign, "Ending a claim").
	Release(ctx context.Context, conversation, worker string) error
	// CloseConversation marks the conversation's claim closed.
	CloseConversation(ctx context.Context, conversation string, at time.Time) error
}

// systemAuthor is the author of the bot's messages.
const systemAuthor = "system"

// Config is the flow's settings.
type Config struct {
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
	// ContactCenter is the Flex contact center; used with Deps.Flex.
	ContactCenter ContactCenter
	// Timers are the timers of every conversation the flow routes
	// (lifecycle.go); zero: none.
	Timers Timers
	// MaxWait is how long a customer waits in line before they are told
	// so (once) and FallbackWorker takes them; zero:
	// config.DefaultWaitingLineMaxWait.
	MaxWait time.Duration
}

// Deps are the flow's collaborators.
type Deps struct {
	Conversations Conversations
	Workers       Workers
	Customers     Customers
	Ledger        Ledger
	Assignments   Assignments
	// Queue carries the jobs the webhooks start to the Work consumer.
	Queue taskqueue.Queue
	// Handoffs, Directory and Flex serve the contact center; Flex nil:
	// none.
	Handoffs  Handoffs
	Directory Directory
	Flex      Flex
	// Bindings and Notes keep the handoff ids' customers and the contact
	// center's notes (package handoff); nil without a contact center.
	Bindings handoff.Bindings
	Notes    handoff.Notes
	// Open lists the conversations handed to Flex whose task is not
	// settled, for the sweep (ReconcileFlex); nil: the sweep has none.
	Open handoff.OpenHandoffs

	// Line is the waiting line; nil: a customer nobody can take is told
	// to write again later, as before the line.
	Line   waitline.Line
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
}

// Flow is the conversation flow. It is safe for concurrent use.
type Flow struct {
	cfg         Config
	convs       Conversations
	workers     Workers
	customers   Customers
	assignments Assignments
	work        *taskqueue.Runner
	cc          ContactCenter
	handoffs    Handoffs
	directory   Directory
	flex        Flex
	bindings    handoff.Bindings
	notes       handoff.Notes
	open        handoff.OpenHandoffs
	line        waitline.Line
	log         *slog.Logger
	now         func() time.Time
	// records bounds the background updates of TaskRouter (recordLater).
	records chan struct{}
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
	cfg.Policy = assign.Policy(cfg.Policy, cfg.Returning)
	f := &Flow{
		cfg:         cfg,
		convs:       deps.Conversations,
		workers:     deps.Workers,
		customers:   deps.Customers,
		assignments: deps.Assignments,
		cc:          cfg.ContactCenter,
		handoffs:    deps.Handoffs,
		directory:   deps.Directory,
		flex:        deps.Flex,
		bindings:    deps.Bindings,
		notes:       deps.Notes,
		open:        deps.Open,
		line:        deps.Line,
		log:         deps.Logger,
		now:         deps.Now,
		records:     make(chan struct{}, maxRecords),
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.now == nil {
		f.now = time.Now
	}
	f.work = taskqueue.NewRunner(taskqueue.Config{
		Name:     WorkName,
		Group:    "ConversationSid",
		LogGroup: "conversation",
		Queue:    deps.Queue,
		Ledger:   deps.Ledger,
		Logger:   f.log,
		Now:      f.now,
		Delay:    cfg.WorkDelay,
		MaxAge:   cfg.MaxAge,
		Lease:    cfg.Lease,
		InFlight: func(err error) bool { return !errors.Is(err, ErrRefused) },
		Gone:     ErrNotFound,
	})
	f.register()
	return f
}
