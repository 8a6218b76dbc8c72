package twilio

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	twiliogo "github.com/twilio/twilio-go"
	conv "github.com/twilio/twilio-go/rest/conversations/v1"
	tr "github.com/twilio/twilio-go/rest/taskrouter/v1"
)

// What the contact-center handoff calls: conversations created by REST
// (a customer handed over by Flex), the customer's open conversations
// (ParticipantConversations), and TaskRouter tasks in the Flex account.
//
// Sources: https://www.twilio.com/docs/conversations/api/conversation-resource,
// https://www.twilio.com/docs/conversations/api/participant-conversation-resource,
// https://www.twilio.com/docs/api/errors/50416,
// https://www.twilio.com/docs/taskrouter/api/task.

// Conversation is a conversation's resource.
type Conversation struct {
	SID          string
	UniqueName   string
	FriendlyName string
	Attributes   string // JSON object
	State        string // active, inactive or closed
}

// ParticipantConversation is one conversation an address takes part in.
type ParticipantConversation struct {
	ConversationSID string
	State           string // active, inactive or closed
	Attributes      string // the conversation's
	ParticipantSID  string
	Address         string
	ProxyAddress    string
}

// Task is a TaskRouter task.
type Task struct {
	SID              string
	WorkspaceSID     string
	WorkflowSID      string
	Attributes       string // JSON object
	AssignmentStatus string // pending, reserved, assigned, canceled, completed or wrapping
}

// Open reports whether an agent may still take or hold the task.
func (t Task) Open() bool {
	return t.AssignmentStatus != "canceled" && t.AssignmentStatus != "completed"
}

// CreateConversation creates a conversation in the messaging service's
// Conversation Service, named uniqueName. The unique name is what makes it
// safe to repeat: Twilio refuses a second conversation with it, so after
// an unclear failure or a refusal for that reason the conversation that
// exists is fetched and returned. Timers set are set in the same request,
// with State=active, which Twilio requires with them (error 50382).
func (c *Client) CreateConversation(ctx context.Context, messagingService, uniqueName, friendlyName, attributes string, timers Timers) (Conversation, error) {
	cv, err := call(ctx, c, create, func(rc *twiliogo.RestClient) (*conv.ConversationsV1Conversation, error) {
		p := (&conv.CreateConversationParams{}).SetUniqueName(uniqueName).SetFriendlyName(Truncate(friendlyName, MaxFriendlyName))
		if messagingService != "" {
			p.SetMessagingServiceSid(messagingService)
		}
		if attributes != "" {
			p.SetAttributes(attributes)
		}
		if !timers.Off() {
			p.SetState("active")
			timers.set(func(s string) { p.SetTimersInactive(s) }, func(s string) { p.SetTimersClosed(s) })
		}
		return rc.ConversationsV1.CreateConversation(p)
	})
	if err == nil {
		return conversation(cv), nil
	}
	if errors.Is(err, ErrUnclear) || hasCode(err, CodeUniqueNameExists) || restStatus(err) == http.StatusConflict {
		if got, ferr := c.FetchConversation(ctx, uniqueName); ferr == nil {
			return got, nil
		}
	}
	return Conversation{}, wrap("create conversation "+uniqueName, err)
}

// FetchConversation returns a conversation by SID or unique name.
func (c *Client) FetchConversation(ctx context.Context, sidOrUniqueName string) (Conversation, error) {
	return one(ctx, c, idempotent, "fetch conversation "+sidOrUniqueName, conversation, func(rc *twiliogo.RestClient) (*conv.ConversationsV1Conversation, error) {
		return rc.ConversationsV1.FetchConversation(sidOrUniqueName)
	})
}

// UpdateConversationAttributes replaces a conversation's attributes (an
// absolute value, so retried like a read). Read, merge and write in one
// place: the update replaces the whole string.
func (c *Client) UpdateConversationAttributes(ctx context.Context, sid, attributesJSON string) error {
	return update(ctx, c, idempotent, "update conversation "+sid, func(rc *twiliogo.RestClient) (*conv.ConversationsV1Conversation, error) {
		return rc.ConversationsV1.UpdateConversation(sid, (&conv.UpdateConversationParams{}).SetAttributes(attributesJSON))
	})
}

// CloseConversation closes a conversation (State=closed), which is
// final: an absolute value, so retried like a read, and a conversation
// closed already (50377) is no error.
// https://www.twilio.com/docs/conversations/states-timers
func (c *Client) CloseConversation(ctx context.Context, sid string) error {
	err := update(ctx, c, idempotent, "close conversation "+sid, func(rc *twiliogo.RestClient) (*conv.ConversationsV1Conversation, error) {
		return rc.ConversationsV1.UpdateConversation(sid, (&conv.UpdateConversationParams{}).SetState("closed"))
	})
	if errors.Is(err, ErrConversationClosed) {
		return nil
	}
	return err
}

// AddCustomerParticipant adds an SMS or WhatsApp customer, reached at
// address from our proxy number. Twilio lets an address/proxy pair be in
// one active conversation only: if it already is, the error wraps
// ErrBindingInUse and the caller looks the conversation up
// (ParticipantConversations). A retry after an attempt that went through
// fails the same way, so it is retried like a read.
func (c *Client) AddCustomerParticipant(ctx context.Context, conversationSID, address, proxy, attributes string) (Participant, error) {
	return one(ctx, c, idempotent, "add customer to "+conversationSID, participant, func(rc *twiliogo.RestClient) (*conv.ConversationsV1ConversationParticipant, error) {
		params := (&conv.CreateConversationParticipantParams{}).
			SetMessagingBindingAddress(address).SetMessagingBindingProxyAddress(proxy)
		if attributes != "" {
			params.SetAttributes(attributes)
		}
		return rc.ConversationsV1.CreateConversationParticipant(conversationSID, params)
	})
}

// participantConversationsPage is the resource's largest page.
const participantConversationsPage = 50

// ParticipantConversations returns the conversations the SMS or WhatsApp
// address takes part in, in any state: callers filter.
func (c *Client) ParticipantConversations(ctx context.Context, address string) ([]ParticipantConversation, error) {
	return list(ctx, c, "list the conversations of a participant", participantConversation,
		func(rc *twiliogo.RestClient) ([]conv.ConversationsV1ParticipantConversation, error) {
			return rc.ConversationsV1.ListParticipantConversation(
				(&conv.ListParticipantConversationParams{}).SetAddress(address).SetPageSize(participantConversationsPage))
		})
}

// CreateTask creates a TaskRouter task in workspace, routed by workflow
// on channel (a TaskChannel unique name such as "chat"). A task has no
// unique name: it is retried on 429 only, and after an unclear failure
// (ErrUnclear) the caller must look for it (FindTasks) before creating
// it again.
func (c *Client) CreateTask(ctx context.Context, workspace, workflow, channel, attributesJSON string, timeout time.Duration) (Task, error) {
	return one(ctx, c, create, "create task in "+workspace, task, func(rc *twiliogo.RestClient) (*tr.TaskrouterV1Task, error) {
		p := (&tr.CreateTaskParams{}).SetWorkflowSid(workflow).SetAttributes(attributesJSON)
		if channel != "" {
			p.SetTaskChannel(channel)
		}
		if timeout > 0 {
			p.SetTimeout(int(timeout / time.Second))
		}
		return rc.TaskrouterV1.CreateTask(workspace, p)
	})
}

// FindTasks returns the tasks of workspace whose attributes match
// expression, a TaskRouter expression such as
// `frontline_conversation_sid == "CH…"`.
func (c *Client) FindTasks(ctx context.Context, workspace, expression string) ([]Task, error) {
	return list(ctx, c, "find tasks in "+workspace, task, func(rc *twiliogo.RestClient) ([]tr.TaskrouterV1Task, error) {
		return rc.TaskrouterV1.ListTask(workspace, (&tr.ListTaskParams{}).SetEvaluateTaskAttributes(expression).SetPageSize(workerPageSize))
	})
}

// FetchTask returns a task of workspace; ErrNotFound once it is deleted.
func (c *Client) FetchTask(ctx context.Context, workspace, sid string) (Task, error) {
	return one(ctx, c, idempotent, "fetch task "+sid, task, func(rc *twiliogo.RestClient) (*tr.TaskrouterV1Task, error) {
		return rc.TaskrouterV1.FetchTask(workspace, sid)
	})
}

// QuoteExpression quotes s as a string of a TaskRouter expression.
func QuoteExpression(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func conversation(cv *conv.ConversationsV1Conversation) Conversation {
	return Conversation{
		SID:          value(cv.Sid),
		UniqueName:   value(cv.UniqueName),
		FriendlyName: value(cv.FriendlyName),
		Attributes:   value(cv.Attributes),
		State:        value(cv.State),
	}
}

func participantConversation(it *conv.ConversationsV1ParticipantConversation) ParticipantConversation {
	b := binding(it.ParticipantMessagingBinding)
	return ParticipantConversation{
		ConversationSID: value(it.ConversationSid),
		State:           value(it.ConversationState),
		Attributes:      value(it.ConversationAttributes),
		ParticipantSID:  value(it.ParticipantSid),
		Address:         b.address,
		ProxyAddress:    b.proxyAddress,
	}
}

func task(t *tr.TaskrouterV1Task) Task {
	return Task{
		SID:              value(t.Sid),
		WorkspaceSID:     value(t.WorkspaceSid),
		WorkflowSID:      value(t.WorkflowSid),
		Attributes:       value(t.Attributes),
		AssignmentStatus: value(t.AssignmentStatus),
	}
}
