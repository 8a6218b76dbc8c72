package conversation

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/twilio"
)

// The bot's contact-center route: a customer who asks for the contact
// center (ContactCenter.Keywords), or who has waited for an expert longer
// than ContactCenter.After, is handed to Flex: a TaskRouter task in the
// Flex workspace carries who they are, the Frontline conversation and a
// bounded transcript; the bot tells the customer and falls silent.

// flexHandoff is the "handoff" a conversation handed to Flex carries in
// its attributes (and the marker of the bot's message saying so).
const flexHandoff = "flex"

// taskChannel is the TaskRouter channel of Expert Hub's tasks: Flex's
// messaging channel.
const taskChannel = "chat"

// maxTranscript bounds the transcript a task carries: a Flex agent reads
// the last of it, and task attributes are sent to every assignment
// callback.
const maxTranscript = 4000

// toContactCenter reports whether msg hands the customer to the contact
// center: they asked for it, or have waited for an expert longer than
// ContactCenter.After.
func (f *Flow) toContactCenter(msg twilio.Message, h *history) bool {
	if !f.cc.enabled() {
		return false
	}
	if bot.WantsContactCenter(msg.Body, f.cc.Keywords) {
		return true
	}
	if f.cc.After <= 0 {
		return false
	}
	for _, m := range h.messages {
		if h.fromCustomer(m) {
			return !m.DateCreated.IsZero() && f.now().Sub(m.DateCreated) > f.cc.After
		}
	}
	return false
}

// handedOff reports whether the bot handed the conversation to the
// contact center: it is silent from then on.
func (h history) handedOff() bool {
	for _, m := range h.messages {
		if mk, ok := readMark(m.Attributes); ok && m.Author == systemAuthor && mk.Handoff == flexHandoff {
			return true
		}
	}
	return false
}

// handToFlex hands the conversation to Flex in answer to msg: it finds
// or creates the task, marks the conversation, then tells the customer.
// Each step looks before it acts — the conversation's attributes, then
// the Flex workspace's tasks for this conversation — so a second request
// or a retry never makes a second task.
func (f *Flow) handToFlex(ctx context.Context, conv string, msg twilio.Message, h *history) error {
	c, err := f.convs.FetchConversation(ctx, conv)
	if err != nil {
		return err
	}
	taskSID := ""
	if m, err := parseObject(c.Attributes); err == nil {
		if ho, ok := m["handoff"].(map[string]any); ok && ho["to"] == flexHandoff {
			taskSID, _ = ho["task_sid"].(string)
		}
	}
	if taskSID == "" {
		t, err := f.flexTask(ctx, conv, h)
		if err != nil {
			return err
		}
		taskSID = t.SID
		if err := f.markHandoff(ctx, conv, map[string]any{"to": flexHandoff, "task_sid": taskSID}); err != nil {
			return err
		}
	}
	f.log.InfoContext(ctx, "conversation handed to the contact center", "conversation", conv, "task", taskSID)
	return f.post(ctx, conv, bot.PassingToContactCenter, mark{InReplyTo: msg.SID, Handoff: flexHandoff})
}

// flexTask returns the open Flex task of conv, creating it if there is
// none. After a creation whose outcome is unclear it looks again.
func (f *Flow) flexTask(ctx context.Context, conv string, h *history) (twilio.Task, error) {
	expr := "frontline_conversation_sid == " + twilio.QuoteExpression(conv)
	find := func() (twilio.Task, bool, error) {
		ts, err := f.flex.FindTasks(ctx, f.cc.Workspace, expr)
		if err != nil {
			return twilio.Task{}, false, err
		}
		for _, t := range ts {
			if t.Open() {
				return t, true, nil
			}
		}
		return twilio.Task{}, false, nil
	}
	if t, ok, err := find(); ok || err != nil {
		return t, err
	}
	attrs, err := f.taskAttributes(ctx, conv, h)
	if err != nil {
		return twilio.Task{}, err
	}
	taskqueue.AfterQueued(ctx)
	t, err := f.flex.CreateTask(ctx, f.cc.Workspace, f.cc.Workflow, taskChannel, attrs, 0)
	if errors.Is(err, twilio.ErrUnclear) {
		if t, ok, ferr := find(); ok {
			return t, nil
		} else if ferr != nil {
			return twilio.Task{}, errors.Join(err, ferr)
		}
	}
	return t, err
}

// taskAttributes are the Flex task's attributes: the customer (CRM id,
// name, address), the Frontline conversation and the transcript so far,
// its latest maxTranscript characters.
func (f *Flow) taskAttributes(ctx context.Context, conv string, h *history) (string, error) {
	customer := map[string]any{}
	if p := h.customer(); p != nil {
		customer["address"] = p.Address
		if c, err := f.customers.CustomerByAddress(ctx, p.Address); err == nil {
			customer["id"], customer["name"] = c.ID, c.DisplayName
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
	transcript := strings.Join(lines, "\n")
	if n := len([]rune(transcript)); n > maxTranscript {
		transcript = "…" + string([]rune(transcript)[n-maxTranscript+1:])
	}
	attrs := map[string]any{
		"customer":                   customer,
		"frontline_conversation_sid": conv,
		"transcript":                 transcript,
	}
	if name, ok := customer["name"].(string); ok && name != "" {
		attrs["name"] = name // what Flex shows as the task's title
	}
	return encode(attrs)
}
