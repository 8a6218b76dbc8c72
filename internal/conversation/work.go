package conversation

import (
	"context"

	"github.com/experthub/experthub/internal/taskqueue"
)

// WorkName is what the runtime's log lines call the flow's work
// ("conversation work dead-lettered: …"), which alerts match on.
const WorkName = "conversation work"

// Kinds of conversation work, each started by one webhook. The runtime
// (package taskqueue) does a job inline, queues it as a safety net, holds
// the conversation while it works and dead-letters what the queue cannot
// finish; this file says what starts each kind and what it does. A job's
// parameters are its task's body: their names are Twilio's webhook
// parameters, and stay as they are while tasks may be in flight.
const (
	kindWelcome  = "welcome"  // Frontline's routing callback
	kindTurn     = "turn"     // onMessageAdded: the bot's answer
	kindDescribe = "describe" // onParticipantAdded: the customer's attributes
	kindHandoff  = "handoff"  // the handoff function: an expert and the context
	kindDrain    = "drain"    // a TaskRouter event: serve the waiting line
)

// Inbound is a published message (onMessageAdded).
type Inbound struct {
	Conversation, Message string
	Author, Body          string
	// Source is "SDK" and ClientIdentity set for a message a worker typed
	// in the Frontline app.
	Source, ClientIdentity string
}

// fromApp reports whether a worker typed the message in the Frontline app.
func (m Inbound) fromApp() bool { return m.Source == "SDK" || m.ClientIdentity != "" }

// forBot reports whether the bot answers m: a message from a customer,
// not from a worker's app nor from the bot itself.
func (m Inbound) forBot() bool { return !m.fromApp() && m.Author != "" && m.Author != systemAuthor }

// Joined is a participant added to a conversation (onParticipantAdded).
type Joined struct {
	Conversation, Participant string
	// Identity is a worker's; Address an SMS/WhatsApp customer's.
	Identity, Address string
	// Described reports that the participant's attributes are set
	// already (Frontline creates outbound conversations so).
	Described bool
}

// Welcome starts the welcome of a new conversation with the customer at
// address: Frontline's custom routing callback.
func (f *Flow) Welcome(ctx context.Context, conv, address string) taskqueue.Outcome {
	return f.work.Accept(ctx, f.job(kindWelcome, map[string]string{"ConversationSid": conv, "MessagingBinding.Address": address}))
}

// MessageAdded starts the bot's turn on a published message, unless the
// bot does not answer it.
func (f *Flow) MessageAdded(ctx context.Context, m Inbound) taskqueue.Outcome {
	if !m.forBot() {
		return taskqueue.Done
	}
	return f.work.Accept(ctx, f.job(kindTurn, map[string]string{
		"ConversationSid": m.Conversation, "MessageSid": m.Message, "Author": m.Author, "Body": m.Body,
		"Source": m.Source, "ClientIdentity": m.ClientIdentity,
	}))
}

// ParticipantAdded starts giving a customer's participant their CRM
// attributes: an SMS/WhatsApp participant (a worker has an identity)
// whose attributes are still empty. One whose attributes are set is the
// customer of a conversation a worker started in Frontline: it gets its
// timers.
func (f *Flow) ParticipantAdded(ctx context.Context, p Joined) taskqueue.Outcome {
	if p.Identity != "" || p.Address == "" {
		return taskqueue.Done
	}
	if p.Described {
		if !f.timersOn() {
			return taskqueue.Done
		}
		return f.work.Accept(ctx, f.job(kindTimers, map[string]string{"ConversationSid": p.Conversation}))
	}
	return f.work.Accept(ctx, f.job(kindDescribe, map[string]string{
		"ConversationSid": p.Conversation, "ParticipantSid": p.Participant, "MessagingBinding.Address": p.Address,
	}))
}

// Consume runs one queue delivery of a job: the consumer of the
// conversation-work queue, which finishes what the webhooks' own attempts
// left undone. Its caller must be the queue (see taskqueue.RequireOIDC).
func (f *Flow) Consume(ctx context.Context, d taskqueue.Delivery) error {
	return f.work.Consume(ctx, d)
}

// job returns a job of kind with params (empty ones left out), received
// now.
func (f *Flow) job(kind string, params map[string]string) taskqueue.Job {
	j := taskqueue.Job{Kind: kind, Params: map[string]string{}, Received: f.now()}
	for k, v := range params {
		if v != "" {
			j.Params[k] = v
		}
	}
	return j
}

// register makes the kinds of conversation work known to the runner.
func (f *Flow) register() {
	f.work.Register(kindTurn, taskqueue.Kind{
		Subject: "MessageSid",
		Do: func(ctx context.Context, j taskqueue.Job) error {
			p := j.Params
			return f.turn(ctx, Inbound{Conversation: p["ConversationSid"], Message: p["MessageSid"], Author: p["Author"], Body: p["Body"]})
		},
		Undone: "the customer's message got no answer from the bot",
	})
	f.work.Register(kindWelcome, taskqueue.Kind{
		Do: func(ctx context.Context, j taskqueue.Job) error {
			return f.welcome(ctx, j.Params["ConversationSid"], j.Params["MessagingBinding.Address"])
		},
		Undone: "the customer was not welcomed",
	})
	f.work.Register(kindDescribe, taskqueue.Kind{
		Subject: "ParticipantSid",
		Do: func(ctx context.Context, j taskqueue.Job) error {
			return f.describeCustomer(ctx, j.Params["ConversationSid"], j.Params["ParticipantSid"], j.Params["MessagingBinding.Address"])
		},
		Undone: "the customer's participant lacks its CRM attributes",
	})
	f.work.Register(kindHandoff, taskqueue.Kind{
		Subject: "HandoffId",
		Do:      func(ctx context.Context, j taskqueue.Job) error { return f.handoffIn(ctx, handoffJobOf(j)) },
		Undone:  "the customer the contact center handed over got no expert or no context",
	})
	f.work.Register(kindFlexDone, taskqueue.Kind{
		Subject: drainTrigger,
		Do:      f.flexDoneJob,
		Undone:  "the conversation of a Flex task that ended was not settled (the sweep settles it)",
	})
	f.work.Register(kindDrain, taskqueue.Kind{
		Subject: drainTrigger,
		Do:      func(ctx context.Context, _ taskqueue.Job) error { return f.drain(ctx) },
		Undone:  "the waiting line was not served on this trigger (the next event or sweep serves it)",
	})
	f.registerLifecycle()
}

// exclusive runs fn while holding the conversation: work on one
// conversation never runs twice at once, on any instance, so its messages
// are answered one after the other (see taskqueue.Runner.Hold).
//
// Work in a conversation Twilio closed meanwhile finds nothing to do
// (lifecycle.go).
func (f *Flow) exclusive(ctx context.Context, conv string, fn func(context.Context) error) error {
	return f.nothingIfClosed(ctx, conv, f.work.Hold(ctx, "conversation:"+conv, fn))
}
