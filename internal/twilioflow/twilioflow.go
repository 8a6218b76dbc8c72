// Package twilioflow adapts Twilio (internal/twilio) to the conversation
// flow's ports: it converts Twilio's resources into the flow's own types,
// maps Twilio's errors onto the flow's, keeps attributes within Twilio's
// limits, and holds the per-instance caches the flow reads through (the
// workers' display names, the pool's areas, merged reads of the pool).
// Nothing here decides what the flow does; package conversation does.
package twilioflow

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/twilio"
)

// Client is the REST API of the Frontline account the adapter drives
// (*twilio.Client).
type Client interface {
	ListParticipants(ctx context.Context, conversationSID string) ([]twilio.Participant, error)
	AddParticipant(ctx context.Context, conversationSID, identity, attributes string) (twilio.Participant, error)
	FetchParticipant(ctx context.Context, conversationSID, participantSID string) (twilio.Participant, error)
	UpdateParticipantAttributes(ctx context.Context, conversationSID, participantSID, attributesJSON string) error
	PostMessageOnce(ctx context.Context, conversationSID, author, body, attributesJSON string, mine func(twilio.Message) bool) (twilio.Message, error)
	PostContentOnce(ctx context.Context, conversationSID, author string, content twilio.Content, attributesJSON string, mine func(twilio.Message) bool) (twilio.Message, error)
	RecentMessages(ctx context.Context, conversationSID string, n int) ([]twilio.Message, error)
	ListAvailableWorkers(ctx context.Context, workspace, queue string) ([]twilio.Worker, error)
	ListWorkers(ctx context.Context, workspace, queue string) ([]twilio.Worker, error)
	FindWorker(ctx context.Context, workspace, identity string) (twilio.Worker, error)
	FetchWorker(ctx context.Context, workspace, sid string) (twilio.Worker, string, error)
	UpdateWorkerAttributes(ctx context.Context, workspace, sid, attributesJSON, ifMatch string) error
	FetchFrontlineUser(ctx context.Context, identity string) (twilio.User, error)
	CreateConversation(ctx context.Context, messagingService, uniqueName, friendlyName, attributes string, timers twilio.Timers) (twilio.Conversation, error)
	SetConversationTimers(ctx context.Context, sid string, t twilio.Timers) error
	FetchConversation(ctx context.Context, sidOrUniqueName string) (twilio.Conversation, error)
	UpdateConversationAttributes(ctx context.Context, sid, attributesJSON string) error
	CloseConversation(ctx context.Context, sid string) error
	AddCustomerParticipant(ctx context.Context, conversationSID, address, proxy, attributes string) (twilio.Participant, error)
	ParticipantConversations(ctx context.Context, address string) ([]twilio.ParticipantConversation, error)
}

// Config configures the adapter.
type Config struct {
	// Workspace is the Frontline TaskRouter workspace (WS…), PoolQueue
	// the TaskQueue (WQ…) whose available workers take "agent" requests
	// (the whole workspace when empty).
	Workspace, PoolQueue string
	// MessagingService creates the conversations of customers the
	// contact center hands over.
	MessagingService string
	// Timers are the timers the conversations it creates get
	// (CONVERSATION_INACTIVE_AFTER, CONVERSATION_CLOSE_AFTER).
	Timers twilio.Timers
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// mapped is a Twilio error with the conversation package's errors it
// means.
type mapped struct {
	err   error
	means []error
}

func (m *mapped) Error() string   { return m.err.Error() }
func (m *mapped) Unwrap() []error { return append(slices.Clone(m.means), m.err) }

// mapErr returns err matching, besides what it matches, the errors of
// package conversation it means.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var means []error
	switch {
	case errors.Is(err, twilio.ErrNotFound):
		means = append(means, conversation.ErrNotFound)
	case errors.Is(err, twilio.ErrParticipantExists), errors.Is(err, twilio.ErrBindingInUse):
		means = append(means, conversation.ErrExists)
	case errors.Is(err, twilio.ErrConversationClosed):
		means = append(means, conversation.ErrClosed)
	}
	if errors.Is(err, twilio.ErrUnclear) {
		means = append(means, conversation.ErrUnclear)
	}
	if twilio.IsRefusal(err) {
		means = append(means, conversation.ErrRefused)
	}
	if len(means) == 0 {
		return err
	}
	return &mapped{err: err, means: means}
}

func participant(p twilio.Participant) conversation.Participant {
	return conversation.Participant{SID: p.SID, Identity: p.Identity, Address: p.Address, Attributes: p.Attributes}
}

func message(m twilio.Message) conversation.Message {
	return conversation.Message{SID: m.SID, Author: m.Author, Body: m.Body, ParticipantSID: m.ParticipantSID, Attributes: m.Attributes, Created: m.DateCreated}
}

func messages(ms []twilio.Message) []conversation.Message {
	out := make([]conversation.Message, len(ms))
	for i, m := range ms {
		out[i] = message(m)
	}
	return out
}

// Conversations serves the flow's Conversations and Handoffs ports.
type Conversations struct {
	c   Client
	cfg Config
}

// NewConversations returns the Conversations of c.
func NewConversations(c Client, cfg Config) *Conversations {
	return &Conversations{c: c, cfg: cfg.withDefaults()}
}

var (
	_ conversation.Conversations = (*Conversations)(nil)
	_ conversation.Handoffs      = (*Conversations)(nil)
)

// Participants lists the conversation's participants.
func (a *Conversations) Participants(ctx context.Context, conv string) ([]conversation.Participant, error) {
	ps, err := a.c.ListParticipants(ctx, conv)
	out := make([]conversation.Participant, len(ps))
	for i, p := range ps {
		out[i] = participant(p)
	}
	return out, mapErr(err)
}

// Participant fetches one participant.
func (a *Conversations) Participant(ctx context.Context, conv, sid string) (conversation.Participant, error) {
	p, err := a.c.FetchParticipant(ctx, conv, sid)
	return participant(p), mapErr(err)
}

// RecentMessages returns the latest n messages, oldest first.
func (a *Conversations) RecentMessages(ctx context.Context, conv string, n int) ([]conversation.Message, error) {
	ms, err := a.c.RecentMessages(ctx, conv, n)
	return messages(ms), mapErr(err)
}

// Post posts a message once (twilio.Client.PostMessageOnce). The body is
// cut to Twilio's limit as a last guard: a message too long for SMS would
// be refused and the turn lost.
func (a *Conversations) Post(ctx context.Context, conv, author, body, attributes string, mine func(conversation.Message) bool) error {
	if n := twilio.Chars(body); n > twilio.MaxMessageBody {
		a.cfg.Logger.WarnContext(ctx, "bot message cut to Twilio's limit", "conversation", conv, "chars", n)
		body = twilio.Truncate(body, twilio.MaxMessageBody)
	}
	_, err := a.c.PostMessageOnce(ctx, conv, author, body, attributes, func(m twilio.Message) bool { return mine(message(m)) })
	return mapErr(err)
}

// PostContent posts a Content API template once
// (twilio.Client.PostContentOnce).
func (a *Conversations) PostContent(ctx context.Context, conv, author string, c conversation.Content, attributes string, mine func(conversation.Message) bool) error {
	_, err := a.c.PostContentOnce(ctx, conv, author, twilio.Content{SID: c.SID, Variables: c.Variables}, attributes, func(m twilio.Message) bool { return mine(message(m)) })
	return mapErr(err)
}

// AddWorker adds the worker identity to the conversation.
func (a *Conversations) AddWorker(ctx context.Context, conv, identity string) error {
	_, err := a.c.AddParticipant(ctx, conv, identity, "")
	return mapErr(err)
}

// DescribeCustomer adds customer c's attributes to participant p where
// missing (twilio.CustomerAttributes); it writes nothing when none is.
func (a *Conversations) DescribeCustomer(ctx context.Context, conv string, p conversation.Participant, c crm.Customer) ([]string, error) {
	s, leftOut, err := twilio.CustomerAttributes(p.Attributes, c.ID, c.DisplayName, c.Avatar)
	if err != nil || s == "" {
		return leftOut, err
	}
	return leftOut, mapErr(a.c.UpdateParticipantAttributes(ctx, conv, p.SID, s))
}

// Conversation fetches a conversation by SID or unique name.
func (a *Conversations) Conversation(ctx context.Context, sidOrUniqueName string) (conversation.Conversation, error) {
	c, err := a.c.FetchConversation(ctx, sidOrUniqueName)
	if err != nil {
		return conversation.Conversation{}, mapErr(err)
	}
	out := conversation.Conversation{SID: c.SID, Closed: c.State == "closed"}
	if m, err := twilio.ParseAttributes(c.Attributes); err == nil {
		out.CustomerID, _ = m["customer_id"].(string)
		ho, _ := m["handoff"].(map[string]any)
		str := func(k string) string { s, _ := ho[k].(string); return s }
		out.Handoff = conversation.Handoff{From: str("from"), ID: str("handoff_id"), To: str("to"), TaskSID: str("task_sid"), At: str("at")}
	}
	return out, nil
}

// MarkHandoff merges h into the conversation's "handoff" attribute,
// unless the one there names the same handoff id, destination and task.
// Attributes that are not JSON, or that cannot hold it, are left as they
// are, with a warning.
func (a *Conversations) MarkHandoff(ctx context.Context, conv string, h conversation.Handoff) error {
	c, err := a.c.FetchConversation(ctx, conv)
	if err != nil {
		return mapErr(err)
	}
	m, err := twilio.ParseAttributes(c.Attributes)
	if err != nil {
		a.cfg.Logger.WarnContext(ctx, "conversation attributes are not JSON; not marking the handoff", "conversation", conv, "err", err)
		return nil
	}
	mark := map[string]any{}
	for k, v := range map[string]string{"from": h.From, "handoff_id": h.ID, "agent": h.Agent, "to": h.To, "task_sid": h.TaskSID, "at": h.At} {
		if v != "" {
			mark[k] = v
		}
	}
	if old, ok := m["handoff"].(map[string]any); ok && old["handoff_id"] == mark["handoff_id"] && old["to"] == mark["to"] && old["task_sid"] == mark["task_sid"] {
		return nil
	}
	m["handoff"] = mark
	s, err := twilio.EncodeAttributes(m)
	if err != nil {
		return err
	}
	if len(s) > twilio.MaxConversationAttributes {
		a.cfg.Logger.WarnContext(ctx, "conversation attributes full; not marking the handoff", "conversation", conv)
		return nil
	}
	return mapErr(a.c.UpdateConversationAttributes(ctx, conv, s))
}

// Close closes the conversation (final); one closed already is no
// error.
func (a *Conversations) Close(ctx context.Context, conv string) error {
	return mapErr(a.c.CloseConversation(ctx, conv))
}

// OpenConversation returns the conversation of the customer at address
// that is not closed, or "".
func (a *Conversations) OpenConversation(ctx context.Context, address string) (string, error) {
	pcs, err := a.c.ParticipantConversations(ctx, address)
	if err != nil {
		return "", mapErr(err)
	}
	for _, pc := range pcs {
		if pc.State != "closed" {
			return pc.ConversationSID, nil
		}
	}
	return "", nil
}

// CreateConversation creates the conversation named uniqueName in the
// messaging service, with the customer's id and avatar (the avatar gives
// way when too long), and the configured timers in the same request.
func (a *Conversations) CreateConversation(ctx context.Context, uniqueName, name string, c crm.Customer) (string, error) {
	attrs, _, err := twilio.CustomerConversation("", c.ID, c.Avatar)
	if err != nil {
		return "", err
	}
	conv, err := a.c.CreateConversation(ctx, a.cfg.MessagingService, uniqueName, name, attrs, a.cfg.Timers)
	return conv.SID, mapErr(err)
}

// SetTimers sets the conversation's timers.
func (a *Conversations) SetTimers(ctx context.Context, conv string, t conversation.Timers) error {
	return mapErr(a.c.SetConversationTimers(ctx, conv, twilio.Timers{Inactive: t.Inactive, Closed: t.Closed}))
}

// AddCustomer adds the customer at address, reached from proxy, with
// their attributes.
func (a *Conversations) AddCustomer(ctx context.Context, conv, address, proxy string, c crm.Customer) error {
	attrs, _, err := twilio.CustomerAttributes("", c.ID, c.DisplayName, c.Avatar)
	if err != nil {
		return err
	}
	_, err = a.c.AddCustomerParticipant(ctx, conv, address, proxy, attrs)
	return mapErr(err)
}
