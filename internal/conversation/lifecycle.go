package conversation

import (
	"context"
	"errors"
	"strings"

	"github.com/experthub/experthub/internal/taskqueue"
)

// Lifecycle
//
// A conversation ends when Twilio closes it: its Timers.Closed ran out, or
// someone set State=closed. Twilio then takes no message in it, and the
// customer's next text creates a new conversation, which the routing
// policy routes as any first one: the customer's advisor and last worker
// are still known (the CRM, the store's last worker). On
// onConversationStateUpdated to closed the flow marks the conversation's
// claim closed, which no later claim replaces, and takes its place in
// line: work still queued for it then finds nothing to do, as does work
// whose Twilio request meets the closed conversation (ErrClosed).
//
// Every conversation the flow routes gets Twilio's timers (Config.Timers):
// an inbound one when its customer's participant is described, an
// outbound one a worker started in Frontline on its onParticipantAdded,
// one the contact center hands over when it is created (the adapter).
//
// A worker who leaves a conversation (onParticipantRemoved) releases its
// claim: when no worker is left, the bot answers the customer's next
// message, and does not bring back the worker who left.

// Conversation states, as Twilio names them.
const stateClosed = "closed"

// Kinds of lifecycle work.
const (
	kindClosed = "closed" // onConversationStateUpdated to closed
	kindLeft   = "left"   // onParticipantRemoved of a worker
	kindTimers = "timers" // onParticipantAdded of an outbound conversation's customer
)

// StateChange is a conversation's change of state
// (onConversationStateUpdated).
type StateChange struct {
	Conversation string
	// From and To are Twilio's states: active, inactive or closed.
	From, To string
	// Reason is TIMER or API.
	Reason string
}

// Left is a participant removed from a conversation
// (onParticipantRemoved).
type Left struct {
	Conversation, Participant string
	// Identity is a worker's; empty for the SMS/WhatsApp customer.
	Identity string
}

// StateUpdated starts what a conversation's close means for the flow;
// other changes (active, inactive) change nothing.
func (f *Flow) StateUpdated(ctx context.Context, c StateChange) taskqueue.Outcome {
	if c.To != stateClosed {
		return taskqueue.Done
	}
	return f.work.Accept(ctx, f.job(kindClosed, map[string]string{
		"ConversationSid": c.Conversation, "StateFrom": c.From, "StateTo": c.To, "Reason": c.Reason,
	}))
}

// ParticipantRemoved starts releasing the claim of a worker who left the
// conversation.
func (f *Flow) ParticipantRemoved(ctx context.Context, p Left) taskqueue.Outcome {
	if p.Identity == "" {
		return taskqueue.Done
	}
	return f.work.Accept(ctx, f.job(kindLeft, map[string]string{
		"ConversationSid": p.Conversation, "ParticipantSid": p.Participant, "Identity": p.Identity,
	}))
}

// timersOn reports whether conversations get timers.
func (f *Flow) timersOn() bool { return f.cfg.Timers != Timers{} }

// setTimers sets the conversation's timers, if any are configured. A
// closed conversation needs none.
func (f *Flow) setTimers(ctx context.Context, conv string) error {
	if !f.timersOn() {
		return nil
	}
	err := f.convs.SetTimers(ctx, conv, f.cfg.Timers)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// registerLifecycle makes the lifecycle's kinds known to the runner.
func (f *Flow) registerLifecycle() {
	f.work.Register(kindTimers, taskqueue.Kind{
		Do:     func(ctx context.Context, j taskqueue.Job) error { return f.setTimers(ctx, j.Params["ConversationSid"]) },
		Undone: "the conversation has no timers: it stays open until closed by hand",
	})
	f.work.Register(kindClosed, taskqueue.Kind{
		Do: func(ctx context.Context, j taskqueue.Job) error {
			return f.closed(ctx, j.Params["ConversationSid"], j.Params["Reason"])
		},
		Undone: "the closed conversation's claim or place in line is left (work for it may still claim a worker)",
	})
	f.work.Register(kindLeft, taskqueue.Kind{
		Subject: "ParticipantSid",
		Do: func(ctx context.Context, j taskqueue.Job) error {
			return f.left(ctx, j.Params["ConversationSid"], j.Params["Identity"])
		},
		Undone: "the claim of the worker who left is kept (the bot may bring them back)",
	})
}

// closed forgets what binds a closed conversation: its claim stays, closed
// (see assign, "Ending a claim"), and its place in line goes.
func (f *Flow) closed(ctx context.Context, conv, reason string) error {
	if err := f.assignments.CloseConversation(ctx, conv, f.now()); err != nil {
		return err
	}
	if f.line != nil {
		if err := f.line.Remove(ctx, conv); err != nil {
			return err
		}
	}
	f.log.InfoContext(ctx, "conversation closed: its claim and its place in line are gone", "conversation", conv, "reason", reason)
	return nil
}

// left releases the conversation's claim when it is the worker's who
// left.
func (f *Flow) left(ctx context.Context, conv, identity string) error {
	if err := f.assignments.Release(ctx, conv, identity); err != nil {
		return err
	}
	f.log.InfoContext(ctx, "a worker left the conversation: their claim is released", "conversation", conv, "worker", identity)
	return nil
}

// nothingIfClosed is err, unless err says the conversation is closed:
// whatever work was to do in it is then done.
func (f *Flow) nothingIfClosed(ctx context.Context, conv string, err error) error {
	if !errors.Is(err, ErrClosed) {
		return err
	}
	f.log.InfoContext(ctx, "the conversation is closed: nothing left to do in it", "conversation", conv)
	return nil
}

// sameWorker reports whether two identities name one worker: TaskRouter
// compares friendly names ignoring case.
func sameWorker(a, b string) bool { return a != "" && strings.EqualFold(a, b) }
