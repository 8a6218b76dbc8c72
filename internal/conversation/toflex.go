package conversation

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/taskqueue"
)

// The bot's contact-center route: a customer who asks for the contact
// center (ContactCenter.Keywords), or who has waited for an expert longer
// than ContactCenter.After, is handed to Flex: a TaskRouter task in the
// Flex workspace carries who they are, the Frontline conversation and a
// bounded transcript; the bot tells the customer and falls silent.

// flexHandoff is the "handoff" a conversation handed to Flex carries in
// its attributes (and the marker of the bot's message saying so).
const flexHandoff = "flex"

// maxTranscript bounds the transcript a task carries: a Flex agent reads
// the last of it, and task attributes are sent to every assignment
// callback.
const maxTranscript = 4000

// toContactCenter reports whether msg hands the customer to the contact
// center: they asked for it, or have waited for an expert longer than
// ContactCenter.After.
func (f *Flow) toContactCenter(msg Message, h *history) bool {
	if f.flex == nil {
		return false
	}
	if bot.WantsContactCenter(msg.Body, f.cc.Keywords) {
		return true
	}
	if f.cc.After <= 0 || h.lastHandoff() == flexEnded {
		// Back from the contact center: the customer gets the menu,
		// not the contact center again for the same old wait.
		return false
	}
	for _, m := range h.messages {
		if h.fromCustomer(m) {
			return !m.Created.IsZero() && f.now().Sub(m.Created) > f.cc.After
		}
	}
	return false
}

// handedOff reports whether the bot handed the conversation to the
// contact center, and the handoff has not ended since (flexdone.go): it
// is silent meanwhile.
func (h history) handedOff() bool { return h.lastHandoff() == flexHandoff }

// lastHandoff is the "handoff" mark of the bot's latest message that has
// one: flexHandoff, flexEnded, or "" when none has.
func (h history) lastHandoff() string {
	for i := len(h.messages) - 1; i >= 0; i-- {
		m := h.messages[i]
		if mk, ok := readMark(m.Attributes); ok && m.Author == systemAuthor && mk.Handoff != "" {
			return mk.Handoff
		}
	}
	return ""
}

// handToFlex hands the conversation to Flex in answer to msg: it finds
// or creates the task, marks the conversation, then tells the customer.
// Each step looks before it acts — the conversation's attributes, then
// the Flex workspace's tasks for this conversation — so a second request
// or a retry never makes a second task.
func (f *Flow) handToFlex(ctx context.Context, conv string, msg Message, h *history) error {
	c, err := f.handoffs.Conversation(ctx, conv)
	if err != nil {
		return err
	}
	taskSID := ""
	if c.Handoff.To == flexHandoff {
		taskSID = c.Handoff.TaskSID
	}
	if taskSID == "" {
		t, err := f.flexTask(ctx, conv, h)
		if err != nil {
			return err
		}
		taskSID = t.SID
		if err := f.markHandoff(ctx, conv, Handoff{To: flexHandoff, TaskSID: taskSID}); err != nil {
			return err
		}
	}
	f.track(ctx, conv, taskSID)
	f.log.InfoContext(ctx, "conversation handed to the contact center", "conversation", conv, "task", taskSID)
	return f.post(ctx, conv, bot.PassingToContactCenter, mark{InReplyTo: msg.SID, Handoff: flexHandoff})
}

// flexTask returns the open Flex task of conv, creating it if there is
// none. After a creation whose outcome is unclear it looks again.
func (f *Flow) flexTask(ctx context.Context, conv string, h *history) (Task, error) {
	if t, ok, err := f.flex.OpenTask(ctx, conv); ok || err != nil {
		return t, err
	}
	task := f.taskFor(ctx, conv, h)
	taskqueue.AfterQueued(ctx)
	t, err := f.flex.CreateTask(ctx, task)
	if errors.Is(err, ErrUnclear) {
		if t, ok, ferr := f.flex.OpenTask(ctx, conv); ok {
			return t, nil
		} else if ferr != nil {
			return Task{}, errors.Join(err, ferr)
		}
	}
	return t, err
}

// taskFor is the Flex task of conv: the customer (CRM id, name,
// address), the Frontline conversation and the transcript so far, its
// latest maxTranscript characters.
func (f *Flow) taskFor(ctx context.Context, conv string, h *history) FlexTask {
	t := FlexTask{Conversation: conv}
	if p := h.customer(); p != nil {
		t.Address = p.Address
		if c, err := f.customers.CustomerByAddress(ctx, p.Address); err == nil {
			t.CustomerID, t.Name = c.ID, c.DisplayName
		} else if !errors.Is(err, crm.ErrNotFound) {
			f.log.WarnContext(ctx, "CRM lookup for the Flex task failed; the task names the address only", "conversation", conv, "err", err)
		}
	}
	var lines []string
	for _, m := range h.messages {
		author := m.Author
		if h.fromCustomer(m) {
			author = "customer"
		}
		lines = append(lines, fmt.Sprintf("%s: %s", author, m.Body))
	}
	t.Transcript = strings.Join(lines, "\n")
	if n := len([]rune(t.Transcript)); n > maxTranscript {
		t.Transcript = "…" + string([]rune(t.Transcript)[n-maxTranscript+1:])
	}
	return t
}
