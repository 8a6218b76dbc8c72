package conversation

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/experthub/experthub/internal/taskqueue"
)

// Kinds of conversation work, each started by one webhook. The runtime
// (package taskqueue) does a job inline, queues it as a safety net, holds
// the conversation while it works and dead-letters what the queue cannot
// finish; this file says what each kind does.
const (
	kindWelcome  = "welcome"  // Frontline's routing callback
	kindTurn     = "turn"     // onMessageAdded: the bot's answer
	kindDescribe = "describe" // onParticipantAdded: the customer's attributes
	kindHandoff  = "handoff"  // the handoff function: an expert and the context
	kindDrain    = "drain"    // a TaskRouter event: serve the waiting line
)

// jobParams are the webhook parameters a job keeps: what its work reads.
var jobParams = []string{
	"ConversationSid", "MessageSid", "ParticipantSid", "Author", "Body", "Source", "ClientIdentity",
	"Identity", "Attributes", "MessagingBinding.Address",
}

// register makes the kinds of conversation work known to the runner.
func (f *Flow) register() {
	params := func(j taskqueue.Job) url.Values {
		p := url.Values{}
		for k, v := range j.Params {
			p.Set(k, v)
		}
		return p
	}
	f.work.Register(kindTurn, taskqueue.Kind{
		Subject: "MessageSid",
		Do:      func(ctx context.Context, j taskqueue.Job) error { return f.turn(ctx, inboundFrom(params(j))) },
		Undone:  "the customer's message got no answer from the bot",
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
		Do:      func(ctx context.Context, j taskqueue.Job) error { return f.handoffIn(ctx, params(j)) },
		Undone:  "the customer the contact center handed over got no expert or no context",
	})
	f.work.Register(kindDrain, taskqueue.Kind{
		Subject: drainTrigger,
		Do:      func(ctx context.Context, _ taskqueue.Job) error { return f.drain(ctx) },
		Undone:  "the waiting line was not served on this trigger (the next event or sweep serves it)",
	})
}

func newJob(kind string, form url.Values, now time.Time) taskqueue.Job {
	j := taskqueue.Job{Kind: kind, Params: map[string]string{}, Received: now}
	for _, k := range jobParams {
		if v := get(form, k); v != "" {
			j.Params[k] = v
		}
	}
	return j
}

// accept serves a webhook that starts conversation work (see
// taskqueue.Runner.Accept). The answer is 200 when the work is done or
// safely queued; a job Twilio can never complete (the conversation is
// gone) answers 404; only a job that neither ran nor could be queued
// answers 500: Twilio never redelivers, so that work is lost.
func (f *Flow) accept(w http.ResponseWriter, r *http.Request, j taskqueue.Job) {
	switch f.work.Accept(r.Context(), j) {
	case taskqueue.Done, taskqueue.Queued:
		ok(w)
	case taskqueue.Gone:
		fail(w, http.StatusNotFound, "not found")
	default:
		fail(w, http.StatusInternalServerError, "conversation work failed")
	}
}

// Work is the consumer of the conversation-work queue: it finishes what
// the webhooks' own attempts left undone. Its caller must be the queue
// (see taskqueue.RequireOIDC).
func (f *Flow) Work() http.Handler { return taskqueue.Consumer(f.work.Consume, f.log) }

// exclusive runs fn while holding the conversation: work on one
// conversation never runs twice at once, on any instance, so its messages
// are answered one after the other (see taskqueue.Runner.Hold).
func (f *Flow) exclusive(ctx context.Context, conv string, fn func(context.Context) error) error {
	return f.work.Hold(ctx, "conversation:"+conv, fn)
}
