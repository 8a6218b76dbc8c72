package conversation

import (
	"context"
	"errors"
	"fmt"

	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/handoff"
	"github.com/experthub/experthub/internal/taskqueue"
)

// The end of a handoff to Flex (toflex.go): when the contact center is
// done with the task, the Frontline conversation it handed over is
// settled. A completed task closes it (after ContactCenter.Closing), so
// the customer's next message starts a new conversation, routed afresh;
// a task canceled, or deleted, before an agent accepted it gives the
// customer back to the bot: they are told once, with the menu, and the
// conversation's handoff mark is cleared.
//
// The Flex workspace's event callback (the flex-events function) starts
// the settling as a job; the scheduled sweep (ReconcileFlex) settles
// what the callback missed. Both read Twilio before each effect — the
// conversation's handoff mark and state, the task, the bot's messages
// marked with the task's sid — so any number of events and sweeps close
// the conversation once and post one message.

// flexEnded is the "handoff" mark of the bot's message that ends a
// handoff to Flex: the bot speaks again after it (see handedOff).
const flexEnded = "flex-ended"

// kindFlexDone settles a conversation whose Flex task an event reported.
const kindFlexDone = "flexdone"

// FlexEvent is a TaskRouter event of the Flex workspace about a task
// (the flex-events function).
type FlexEvent struct {
	// Trigger names the event once, however often TaskRouter delivers it.
	Trigger string
	// Type is the event type (task.completed, task.canceled…).
	Type string
	// Task is the task's sid, Conversation the Frontline conversation
	// its attributes name (frontline_conversation_sid).
	Task, Conversation string
	// Status is the task's AssignmentStatus the event carries: for
	// task.deleted, the status it had.
	Status string
}

// OnFlexEvent queues the settling of the conversation the event's task
// handed to Flex, due at once, so that the callback is answered fast
// (TaskRouter waits 15 s); only when it cannot be queued is it done
// here, as a job (done at once, queued if that attempt fails).
func (f *Flow) OnFlexEvent(ctx context.Context, e FlexEvent) taskqueue.Outcome {
	if f.flex == nil || e.Conversation == "" || e.Task == "" {
		return taskqueue.Done
	}
	f.log.InfoContext(ctx, "Flex task event", "event", e.Type, "task", e.Task, "conversation", e.Conversation, "status", e.Status)
	j := f.job(kindFlexDone, map[string]string{
		drainTrigger: e.Trigger, "ConversationSid": e.Conversation, "TaskSid": e.Task, "TaskAssignmentStatus": e.Status,
	})
	err := f.work.Enqueue(ctx, j)
	if err == nil {
		return taskqueue.Queued
	}
	if !errors.Is(err, taskqueue.ErrNoQueue) {
		f.log.WarnContext(ctx, "queueing the settling of a Flex task failed; settling it now", "task", e.Task, "err", err)
	}
	return f.work.Accept(ctx, j)
}

// ReconcileFlex settles every conversation still handed to Flex whose
// task has ended: the sweep's part for the callback's missed events. It
// returns the first failure after trying them all.
func (f *Flow) ReconcileFlex(ctx context.Context) error {
	if f.flex == nil || f.open == nil {
		return nil
	}
	open, err := f.open.Tracked(ctx, maxReconciled)
	if err != nil {
		return fmt.Errorf("reading the conversations handed to Flex: %w", err)
	}
	var errs []error
	for _, o := range open {
		err := f.settleFlex(ctx, o.Conversation, o.Task, o.Accepted)
		if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, taskqueue.ErrBusy) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// maxReconciled bounds the conversations one sweep checks (one Twilio
// read each, at least): the oldest first, the rest on the next sweeps.
const maxReconciled = 100

// flexOutcome is what a task's state means for its conversation.
type flexOutcome int

const (
	flexOpen     flexOutcome = iota // an agent may still take it: nothing to do
	flexAccepted                    // an agent holds it: nothing to do yet
	flexDone                        // the contact center is done: close
	flexBack                        // nobody took it: back to the bot
)

// outcome reads the task t (found or not); accepted reports that an
// agent was seen holding it before.
func outcome(t Task, found, accepted bool) flexOutcome {
	switch {
	case !found && accepted:
		return flexDone // deleted after an agent had it: theirs to end
	case !found:
		return flexBack
	}
	switch t.Status {
	case "completed":
		return flexDone
	case "canceled":
		// TaskRouter cancels a task only before it is assigned.
		return flexBack
	case "assigned", "wrapping":
		return flexAccepted
	}
	return flexOpen
}

// agentTook reports whether a task in status was taken by an agent: held,
// or completed.
func agentTook(status string) bool {
	return status == "assigned" || status == "wrapping" || status == "completed"
}

// settleFlex settles conv if it is still handed to Flex by task: it
// reads the conversation, then the task, and applies the outcome.
// accepted reports that an agent was seen holding the task (a deleted
// task leaves no other trace of it).
func (f *Flow) settleFlex(ctx context.Context, conv, task string, accepted bool) error {
	return f.exclusive(ctx, conv, func(ctx context.Context) error {
		c, err := f.handoffs.Conversation(ctx, conv)
		if errors.Is(err, ErrNotFound) {
			f.untrack(ctx, conv, task)
			return nil
		} else if err != nil {
			return err
		}
		if c.Closed || c.Handoff.To != flexHandoff || c.Handoff.TaskSID != task {
			f.untrack(ctx, conv, task) // settled already, or handed over again
			return nil
		}
		t, err := f.flex.Task(ctx, task)
		found := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		switch o := outcome(t, found, accepted); o {
		case flexAccepted:
			if f.open != nil {
				if err := f.open.MarkAccepted(ctx, conv, task); err != nil {
					f.log.WarnContext(ctx, "recording that an agent took the Flex task failed", "conversation", conv, "task", task, "err", err)
				}
			}
			return nil
		case flexDone, flexBack:
			err = f.endFlex(ctx, conv, task, o)
		default:
			return nil
		}
		if err == nil {
			f.untrack(ctx, conv, task)
		}
		return err
	})
}

// endFlex applies o to conv, unless a Frontline worker joined the
// conversation meanwhile: the worker has the customer then, and only the
// handoff mark is cleared — no message, no close under their feet.
func (f *Flow) endFlex(ctx context.Context, conv, task string, o flexOutcome) error {
	ps, err := f.convs.Participants(ctx, conv)
	if err != nil {
		return err
	}
	if (history{participants: ps}).hasWorker() {
		f.log.InfoContext(ctx, "the Flex task ended while a worker has the conversation: only the handoff mark is cleared", "conversation", conv, "task", task)
		return f.markHandoff(ctx, conv, Handoff{})
	}
	if o == flexDone {
		return f.closeAfterFlex(ctx, conv, task)
	}
	return f.backFromFlex(ctx, conv, task)
}

// closeAfterFlex posts ContactCenter.Closing, unless it is posted
// already, then closes the conversation: a closed conversation takes no
// message, so the message goes first.
func (f *Flow) closeAfterFlex(ctx context.Context, conv, task string) error {
	if f.cc.Closing != "" {
		if err := f.postOnce(ctx, conv, f.cc.Closing, mark{InReplyTo: task, Handoff: flexEnded}); err != nil {
			return err
		}
	}
	taskqueue.AfterQueued(ctx)
	if err := f.handoffs.Close(ctx, conv); err != nil {
		return err
	}
	f.log.InfoContext(ctx, "the contact center completed the task: conversation closed", "conversation", conv, "task", task)
	// Twilio sends onConversationStateUpdated for a close made through
	// REST only when asked to (X-Twilio-Webhook-Enabled), so the flow does
	// what that event does itself: idempotent, as the event may come too.
	return f.closed(ctx, conv, "the contact center completed the task")
}

// backFromFlex tells the customer, once, that the contact center did not
// take them, with the menu, then clears the conversation's handoff mark:
// the bot answers their next message.
func (f *Flow) backFromFlex(ctx context.Context, conv, task string) error {
	body := bot.BackFromContactCenter + "\n\n" + bot.AreaMenu(f.menu(ctx))
	if err := f.postOnce(ctx, conv, body, mark{InReplyTo: task, Handoff: flexEnded}); err != nil {
		return err
	}
	if err := f.markHandoff(ctx, conv, Handoff{}); err != nil {
		return err
	}
	f.log.InfoContext(ctx, "the contact center did not take the task: the customer is back with the bot", "conversation", conv, "task", task)
	return nil
}

// postOnce posts body marked mk unless the conversation shows a bot
// message answering mk.InReplyTo already.
func (f *Flow) postOnce(ctx context.Context, conv, body string, mk mark) error {
	ms, err := f.convs.RecentMessages(ctx, conv, recentWindow)
	if err != nil {
		return err
	}
	if (history{messages: ms}).answered(mk.InReplyTo) {
		return nil
	}
	return f.post(ctx, conv, body, mk)
}

// track records conv as handed to Flex by task, for the sweep; a failure
// is logged: the callback's events still settle it.
func (f *Flow) track(ctx context.Context, conv, task string) {
	if f.open == nil {
		return
	}
	if err := f.open.Track(ctx, handoff.ToFlex{Conversation: conv, Task: task, At: f.now()}); err != nil {
		f.log.WarnContext(ctx, "recording the handoff to Flex for the sweep failed; only the Flex events settle it", "conversation", conv, "task", task, "err", err)
	}
}

// untrack forgets conv's handoff to task; a failure is logged: the next
// sweep finds the conversation settled and tries again.
func (f *Flow) untrack(ctx context.Context, conv, task string) {
	if f.open == nil {
		return
	}
	if err := f.open.Untrack(ctx, conv, task); err != nil {
		f.log.WarnContext(ctx, "forgetting a settled handoff to Flex failed; the next sweep retries", "conversation", conv, "task", task, "err", err)
	}
}

// flexDoneJob runs a kindFlexDone job.
func (f *Flow) flexDoneJob(ctx context.Context, j taskqueue.Job) error {
	p := j.Params
	return f.settleFlex(ctx, p["ConversationSid"], p["TaskSid"], agentTook(p["TaskAssignmentStatus"]))
}
