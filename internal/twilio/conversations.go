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
	return list(ctx, c, "list participants of "+conversationSID, participant,
		func(rc *twiliogo.RestClient) ([]conv.ConversationsV1ConversationParticipant, error) {
			return rc.ConversationsV1.ListConversationParticipant(conversationSID,
				(&conv.ListConversationParticipantParams{}).SetPageSize(listPageSize))
		})
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
	return one(ctx, c, create, "add participant "+identity+" to "+conversationSID, participant, func(rc *twiliogo.RestClient) (*conv.ConversationsV1ConversationParticipant, error) {
		params := (&conv.CreateConversationParticipantParams{}).SetIdentity(identity)
		if attributes != "" {
			params.SetAttributes(attributes)
		}
		return rc.ConversationsV1.CreateConversationParticipant(conversationSID, params)
	})
}

// FetchParticipant returns one participant.
func (c *Client) FetchParticipant(ctx context.Context, conversationSID, participantSID string) (Participant, error) {
	return one(ctx, c, idempotent, "fetch participant "+participantSID, participant, func(rc *twiliogo.RestClient) (*conv.ConversationsV1ConversationParticipant, error) {
		return rc.ConversationsV1.FetchConversationParticipant(conversationSID, participantSID)
	})
}

// UpdateParticipantAttributes replaces a participant's attributes with
// attributesJSON. The update replaces the whole string and Conversations
// has no If-Match: read, merge and write in one place.
func (c *Client) UpdateParticipantAttributes(ctx context.Context, conversationSID, participantSID, attributesJSON string) error {
	return update(ctx, c, idempotent, "update participant "+participantSID, func(rc *twiliogo.RestClient) (*conv.ConversationsV1ConversationParticipant, error) {
		return rc.ConversationsV1.UpdateConversationParticipant(conversationSID, participantSID,
			(&conv.UpdateConversationParticipantParams{}).SetAttributes(attributesJSON))
	})
}

// PostMessage adds a message to a conversation. An empty author posts as
// "system"; empty attributes are left unset.
//
// It is retried after a 429 only: a retry after a 5xx or no answer could
// post the message twice. Such a failure wraps ErrUnclear.
func (c *Client) PostMessage(ctx context.Context, conversationSID, author, body, attributesJSON string) (Message, error) {
	return c.post(ctx, conversationSID, author, attributesJSON, func(p *conv.CreateConversationMessageParams) { p.SetBody(body) })
}

// Content is a Content API template (https://www.twilio.com/docs/content):
// its SID (HX…) and the JSON object of its variables, "" for none.
// WhatsApp delivers a business-initiated message outside its 24-hour
// window only as such a template.
type Content struct {
	SID       string
	Variables string
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
	return c.mineAfterUnclear(ctx, conversationSID, m, err, mine)
}

// PostContentOnce is PostMessageOnce for a Content API template: the
// message's ContentSid and ContentVariables instead of a Body.
func (c *Client) PostContentOnce(ctx context.Context, conversationSID, author string, content Content, attributesJSON string, mine func(Message) bool) (Message, error) {
	m, err := c.post(ctx, conversationSID, author, attributesJSON, func(p *conv.CreateConversationMessageParams) {
		p.SetContentSid(content.SID)
		if content.Variables != "" {
			p.SetContentVariables(content.Variables)
		}
	})
	return c.mineAfterUnclear(ctx, conversationSID, m, err, mine)
}

// post creates a message whose content set puts in its parameters.
func (c *Client) post(ctx context.Context, conversationSID, author, attributesJSON string, set func(*conv.CreateConversationMessageParams)) (Message, error) {
	return one(ctx, c, create, "post message to "+conversationSID, message, func(rc *twiliogo.RestClient) (*conv.ConversationsV1ConversationMessage, error) {
		params := &conv.CreateConversationMessageParams{}
		set(params)
		if author != "" {
			params.SetAuthor(author)
		}
		if attributesJSON != "" {
			params.SetAttributes(attributesJSON)
		}
		return rc.ConversationsV1.CreateConversationMessage(conversationSID, params)
	})
}

// mineAfterUnclear is a post's answer (m, err), or, after an unclear
// failure, the message mine recognises in the conversation if the post
// went through (see PostMessageOnce).
func (c *Client) mineAfterUnclear(ctx context.Context, conversationSID string, m Message, err error, mine func(Message) bool) (Message, error) {
	if err == nil || !errors.Is(err, ErrUnclear) || ctx.Err() != nil {
		return m, err
	}
	ms, lerr := c.RecentMessages(ctx, conversationSID, listPageSize)
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
	return list(ctx, c, "list messages of "+conversationSID, message,
		func(rc *twiliogo.RestClient) ([]conv.ConversationsV1ConversationMessage, error) {
			return rc.ConversationsV1.ListConversationMessage(conversationSID,
				(&conv.ListConversationMessageParams{}).SetPageSize(listPageSize))
		})
}

func participant(p *conv.ConversationsV1ConversationParticipant) Participant {
	b := binding(p.MessagingBinding)
	return Participant{
		SID:             value(p.Sid),
		ConversationSID: value(p.ConversationSid),
		Identity:        value(p.Identity),
		Address:         b.address,
		ProxyAddress:    b.proxyAddress,
		BindingType:     b.kind,
		Attributes:      value(p.Attributes),
		RoleSID:         value(p.RoleSid),
		DateCreated:     value(p.DateCreated),
	}
}

// messagingBinding is what a participant's messaging_binding says of the
// customer's end: its type (sms, whatsapp), address and our proxy address.
type messagingBinding struct {
	kind, address, proxyAddress string
}

// binding reads a messaging_binding; fields it lacks stay empty.
func binding(raw *any) messagingBinding {
	var b messagingBinding
	if raw == nil {
		return b
	}
	m, _ := (*raw).(map[string]any)
	b.kind, _ = m["type"].(string)
	b.address, _ = m["address"].(string)
	b.proxyAddress, _ = m["proxy_address"].(string)
	return b
}

func message(m *conv.ConversationsV1ConversationMessage) Message {
	return Message{
		SID:             value(m.Sid),
		ConversationSID: value(m.ConversationSid),
		Index:           m.Index,
		Author:          value(m.Author),
		Body:            value(m.Body),
		Attributes:      value(m.Attributes),
		ParticipantSID:  value(m.ParticipantSid),
		DateCreated:     value(m.DateCreated),
	}
}

// value is what p points to, or the zero value for nil: twilio-go leaves
// out what Twilio's answer did not hold.
func value[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// one calls fn for one resource, retried as kind says, and converts it;
// op names the call in its error.
func one[T, U any](ctx context.Context, c *Client, kind callKind, op string, convert func(*T) U, fn func(*twiliogo.RestClient) (*T, error)) (U, error) {
	v, err := call(ctx, c, kind, fn)
	if err != nil {
		var zero U
		return zero, wrap(op, err)
	}
	return convert(v), nil
}

// update calls fn, which changes a resource, retried as kind says; op
// names the call in its error.
func update[T any](ctx context.Context, c *Client, kind callKind, op string, fn func(*twiliogo.RestClient) (T, error)) error {
	if _, err := call(ctx, c, kind, fn); err != nil {
		return wrap(op, err)
	}
	return nil
}

// list calls Twilio's list operation fn (read, so retried like one) and
// converts each resource; op names the call in its error.
func list[T, U any](ctx context.Context, c *Client, op string, convert func(*T) U, fn func(*twiliogo.RestClient) ([]T, error)) ([]U, error) {
	items, err := call(ctx, c, idempotent, fn)
	if err != nil {
		return nil, wrap(op, err)
	}
	out := make([]U, len(items))
	for i := range items {
		out[i] = convert(&items[i])
	}
	return out, nil
}
