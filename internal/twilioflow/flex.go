package twilioflow

import (
	"context"
	"time"

	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/twilio"
)

// FlexClient is the REST API of the Flex account the adapter drives
// (*twilio.Client with the Flex credentials).
type FlexClient interface {
	RecentMessages(ctx context.Context, conversationSID string, n int) ([]twilio.Message, error)
	CreateTask(ctx context.Context, workspace, workflow, channel, attributesJSON string, timeout time.Duration) (twilio.Task, error)
	FindTasks(ctx context.Context, workspace, expression string) ([]twilio.Task, error)
	FetchTask(ctx context.Context, workspace, sid string) (twilio.Task, error)
}

// Flex serves the flow's Flex port: tasks in the Flex account's
// TaskRouter workspace, routed by Expert Hub's workflow.
type Flex struct {
	c                   FlexClient
	workspace, workflow string
}

// NewFlex returns the Flex of c: tasks go to workflow in workspace.
func NewFlex(c FlexClient, workspace, workflow string) *Flex {
	return &Flex{c: c, workspace: workspace, workflow: workflow}
}

var _ conversation.Flex = (*Flex)(nil)

// taskChannel is the TaskRouter channel of Expert Hub's tasks: Flex's
// messaging channel.
const taskChannel = "chat"

// conversationKey is the task attribute naming the Frontline
// conversation a task hands to Flex.
const conversationKey = "frontline_conversation_sid"

// RecentMessages returns the latest n messages of a Flex conversation.
func (a *Flex) RecentMessages(ctx context.Context, conv string, n int) ([]conversation.Message, error) {
	ms, err := a.c.RecentMessages(ctx, conv, n)
	return messages(ms), mapErr(err)
}

// OpenTask returns the open task handing Frontline conversation conv to
// Flex, if there is one.
func (a *Flex) OpenTask(ctx context.Context, conv string) (conversation.Task, bool, error) {
	ts, err := a.c.FindTasks(ctx, a.workspace, conversationKey+" == "+twilio.QuoteExpression(conv))
	if err != nil {
		return conversation.Task{}, false, mapErr(err)
	}
	for _, t := range ts {
		if t.Open() {
			return conversation.Task{SID: t.SID, Status: t.AssignmentStatus}, true, nil
		}
	}
	return conversation.Task{}, false, nil
}

// CreateTask creates t's task: its attributes carry the customer (CRM
// id, name, address), the Frontline conversation and the transcript, and
// the customer's name as the task's title in Flex.
func (a *Flex) CreateTask(ctx context.Context, t conversation.FlexTask) (conversation.Task, error) {
	customer := map[string]any{}
	if t.Address != "" {
		customer["address"] = t.Address
	}
	if t.CustomerID != "" {
		customer["id"], customer["name"] = t.CustomerID, t.Name
	}
	attrs := map[string]any{
		"customer":      customer,
		conversationKey: t.Conversation,
		"transcript":    t.Transcript,
	}
	if t.Name != "" {
		attrs["name"] = t.Name // what Flex shows as the task's title
	}
	s, err := twilio.EncodeAttributes(attrs)
	if err != nil {
		return conversation.Task{}, err
	}
	task, err := a.c.CreateTask(ctx, a.workspace, a.workflow, taskChannel, s, 0)
	return conversation.Task{SID: task.SID, Status: task.AssignmentStatus}, mapErr(err)
}

// Task returns the task sid of the workspace; conversation.ErrNotFound
// once it is deleted.
func (a *Flex) Task(ctx context.Context, sid string) (conversation.Task, error) {
	t, err := a.c.FetchTask(ctx, a.workspace, sid)
	if err != nil {
		return conversation.Task{}, mapErr(err)
	}
	return conversation.Task{SID: t.SID, Status: t.AssignmentStatus}, nil
}

// TaskConversation returns the Frontline conversation a task's
// attributes (JSON) hand to Flex: "" for a task that is not Expert
// Hub's; an error when the attributes are not a JSON object.
func TaskConversation(attributes string) (string, error) {
	m, err := twilio.ParseAttributes(attributes)
	if err != nil {
		return "", err
	}
	conv, _ := m[conversationKey].(string)
	return conv, nil
}
