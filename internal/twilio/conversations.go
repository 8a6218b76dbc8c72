package twilio

import (
	"context"
	"errors"
	"time"

	twiliogo "github.com/twilio/twilio-go"
	conv "github.com/twilio/twilio-go/rest/conversations/v1"
)

// listPageSize is Conversations' maximum page size: fewest round trips.
const listPageSize = 100

// Participant is a Conversations participant: either a chat user
// (Identity set, e.g. a Frontline worker) or an SMS/WhatsApp customer
// (Address and ProxyAddress set).
type Participant struct {
	SID             string
	ConversationSID string
	Identity        string
	// Address is the customer's number ("+1…", "whatsapp:+1…"),
	// ProxyAddress our number, BindingType Twilio's "sms" or "whatsapp".
	Address      string
	ProxyAddress string
	BindingType  string
	Attributes   string // JSON object
	RoleSID      string
	DateCreated  time.Time
}

// Message is a message of a conversation.
type Message struct {
	SID             string
	ConversationSID string
	Index           int
	Author          string
	Body            string
	Attributes      string // JSON object
	ParticipantSID  string // empty for messages created via REST as "system"
	DateCreated     time.Time
}

// ListParticipants returns every participant of a conversation.
func (c *Client) ListParticipants(ctx context.Context, conversationSID string) ([]Participant, error) {
	ps, err := call(ctx, c, idempotent, func(rc *twiliogo.RestClient) ([]conv.ConversationsV1ConversationParticipant, error) {
		return rc.ConversationsV1.ListConversationParticipant(conversationSID,
			(&conv.ListConversationParticipantParams{}).SetPageSize(listPageSize))
	})
	if err != nil {
		return nil, wrap("list participants of "+conversationSID, err)
	}
	out := make([]Participant, len(ps))
	for i := range ps {
		out[i] = participant(&ps[i])
	}
	return out, nil
}

// AddParticipant adds the chat user identity (a worker) to a conversation.
// attributes may be empty.
//
// It is a create: retried after a 429 only. After a 5xx or no answer the
// participant may have been added, or be added a moment later by a
// request Twilio still carries out; the error then wraps ErrUnclear, and
// the caller leaves the add to a later attempt that reads the
// participants first (Twilio refuses a second participant with one
// identity, which such an attempt takes as success).
func (c *Client) AddParticipant(ctx context.Context, conversationSID, identity, attributes string) (Participant, error) {
	p, err := call(ctx, c, create, func(rc *twiliogo.RestClient) (*conv.ConversationsV1ConversationParticipant, error) {
		params := (&conv.CreateConversationParticipantParams{}).SetIdentity(identity)
		if attributes != "" {
			params.SetAttributes(attributes)
		}
		return rc.ConversationsV1.CreateConversationParticipant(conversationSID, params)
	})
	if err != nil {
		return Participant{}, wrap("add participant "+identity+" to "+conversationSID, err)
	}
	return participant(p), nil
}

// FetchParticipant returns one participant.
func (c *Client) FetchParticipant(ctx context.Context, conversationSID, participantSID string) (Participant, error) {
	p, err := call(ctx, c, idempotent, func(rc *twiliogo.RestClient) (*conv.ConversationsV1ConversationParticipant, error) {
		return rc.ConversationsV1.FetchConversationParticipant(conversationSID, participantSID)
	})
	if err != nil {
		return Participant{}, wrap("fetch participant "+participantSID, err)
	}
	return participant(p), nil
}

// UpdateParticipantAttributes replaces a participant's attributes with
// attributesJSON. The update replaces the whole string and Conversations
// has no If-Match: read, merge and write in one place.
func (c *Client) UpdateParticipantAttributes(ctx context.Context, conversationSID, participantSID, attributesJSON string) error {
	_, err := call(ctx, c, idempotent, func(rc *twiliogo.RestClient) (*conv.ConversationsV1ConversationParticipant, error) {
		return rc.ConversationsV1.UpdateConversationParticipant(conversationSID, participantSID,
			(&conv.UpdateConversationParticipantParams{}).SetAttributes(attributesJSON))
	})
	if err != nil {
		return wrap("update participant "+participantSID, err)
	}
	return nil
}

// PostMessage adds a message to a conversation. An empty author posts as
// "system"; empty attributes are left unset.
//
// It is retried after a 429 only: a retry after a 5xx or no answer could
// post the message twice. Such a failure wraps ErrUnclear.
func (c *Client) PostMessage(ctx context.Context, conversationSID, author, body, attributesJSON string) (Message, error) {
	m, err := call(ctx, c, create, func(rc *twiliogo.RestClient) (*conv.ConversationsV1ConversationMessage, error) {
		params := (&conv.CreateConversationMessageParams{}).SetBody(body)
		if author != "" {
			params.SetAuthor(author)
		}
		if attributesJSON != "" {
			params.SetAttributes(attributesJSON)
		}
		return rc.ConversationsV1.CreateConversationMessage(conversationSID, params)
	})
	if err != nil {
		return Message{}, wrap("post message to "+conversationSID, err)
	}
	return message(m), nil
}

// PostMessageOnce is PostMessage for a message that mine recognises in
// the conversation (by a marker in attributesJSON, say). After a failure
// that wraps ErrUnclear it lists the messages once: if one is mine, the
// post went through and that message is returned. Otherwise it returns
// the error and never posts again: Twilio may still carry out the post
// it did not answer, a moment later, and a second post would make the
// message appear twice. Whoever retries must do so only once that post
// must be over, after reading the conversation again.
func (c *Client) PostMessageOnce(ctx context.Context, conversationSID, author, body, attributesJSON string, mine func(Message) bool) (Message, error) {
	m, err := c.PostMessage(ctx, conversationSID, author, body, attributesJSON)
	if err == nil || !errors.Is(err, ErrUnclear) || ctx.Err() != nil {
		return m, err
	}
	ms, lerr := c.ListMessages(ctx, conversationSID)
	if lerr != nil {
		return Message{}, err
	}
	for _, m := range ms {
		if mine(m) {
			return m, nil
		}
	}
	return Message{}, err
}

// ListMessages returns a conversation's messages, oldest first.
func (c *Client) ListMessages(ctx context.Context, conversationSID string) ([]Message, error) {
	ms, err := call(ctx, c, idempotent, func(rc *twiliogo.RestClient) ([]conv.ConversationsV1ConversationMessage, error) {
		return rc.ConversationsV1.ListConversationMessage(conversationSID,
			(&conv.ListConversationMessageParams{}).SetPageSize(listPageSize))
	})
	if err != nil {
		return nil, wrap("list messages of "+conversationSID, err)
	}
	out := make([]Message, len(ms))
	for i := range ms {
		out[i] = message(&ms[i])
	}
	return out, nil
}

func participant(p *conv.ConversationsV1ConversationParticipant) Participant {
	out := Participant{
		SID:             str(p.Sid),
		ConversationSID: str(p.ConversationSid),
		Identity:        str(p.Identity),
		Attributes:      str(p.Attributes),
		RoleSID:         str(p.RoleSid),
		DateCreated:     tm(p.DateCreated),
	}
	if p.MessagingBinding != nil {
		if b, ok := (*p.MessagingBinding).(map[string]any); ok {
			out.BindingType, _ = b["type"].(string)
			out.Address, _ = b["address"].(string)
			out.ProxyAddress, _ = b["proxy_address"].(string)
		}
	}
	return out
}

func message(m *conv.ConversationsV1ConversationMessage) Message {
	return Message{
		SID:             str(m.Sid),
		ConversationSID: str(m.ConversationSid),
		Index:           m.Index,
		Author:          str(m.Author),
		Body:            str(m.Body),
		Attributes:      str(m.Attributes),
		ParticipantSID:  str(m.ParticipantSid),
		DateCreated:     tm(m.DateCreated),
	}
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func tm(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return *p
}
