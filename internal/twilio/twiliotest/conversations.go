package twiliotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/experthub/experthub/internal/twilio"
)

const (
	conversationsHost = "conversations.twilio.com"
	conversationsBase = "https://" + conversationsHost + "/v1/Conversations/"

	// Size limits, at their largest reading (a KB of 1024 bytes): the
	// client stays under the smallest (internal/twilio's limits.go).
	// https://www.twilio.com/docs/conversations/conversations-limits
	maxConversationAttributes = 16 << 10
	maxParticipantAttributes  = 4 << 10
	maxMessageAttributes      = 4 << 10
	maxFriendlyName           = 256      // characters
	maxBodyNonChat            = 1600     // characters, to SMS and WhatsApp
	maxBodyChat               = 32 << 10 // bytes
)

// checkFriendlyName refuses a friendly_name over Twilio's limit.
func checkFriendlyName(name string) *apiError {
	if n := utf8.RuneCountInString(name); n > maxFriendlyName {
		return errInvalid("FriendlyName has " + strconv.Itoa(n) + " characters, more than " + strconv.Itoa(maxFriendlyName))
	}
	return nil
}

// checkOpen refuses a change to a closed conversation: closed is final
// (https://www.twilio.com/docs/conversations/states-timers, error 50377).
func (c *conversationState) checkOpen() *apiError {
	if c.State == stateClosed {
		return &apiError{http.StatusBadRequest, codeConversationClosed, "Conversation " + c.SID + " is closed"}
	}
	return nil
}

// messageContent returns a created message's body, or its Content API
// template: with ContentSid, Twilio ignores Body. The template itself is
// not modelled (any well-formed SID is taken), its variables must be a
// JSON object.
func messageContent(c *conversationState, form url.Values) (string, twilio.Content, *apiError) {
	sid, vars := form.Get("ContentSid"), form.Get("ContentVariables")
	if sid == "" {
		if vars != "" {
			return "", twilio.Content{}, errInvalid("ContentVariables without ContentSid")
		}
		return form.Get("Body"), twilio.Content{}, c.checkBody(form.Get("Body"))
	}
	if !twilio.IsSID(sid, "HX") {
		return "", twilio.Content{}, &apiError{http.StatusBadRequest, codeInvalidContentSID, "Invalid content SID"}
	}
	if vars != "" {
		var obj map[string]any
		if json.Unmarshal([]byte(vars), &obj) != nil {
			return "", twilio.Content{}, errInvalid("ContentVariables must be a JSON object")
		}
	}
	return "", twilio.Content{SID: sid, Variables: vars}, nil
}

// checkBody refuses a message created through REST whose body is over the
// limit of the conversation's channels.
func (c *conversationState) checkBody(body string) *apiError {
	if len(body) > maxBodyChat {
		return errInvalid("Body exceeds " + strconv.Itoa(maxBodyChat) + " bytes")
	}
	for _, p := range c.participants {
		if p.Binding != nil {
			if n := utf8.RuneCountInString(body); n > maxBodyNonChat {
				return errInvalid("Body has " + strconv.Itoa(n) + " characters, more than the " + strconv.Itoa(maxBodyNonChat) + " an SMS or WhatsApp participant takes")
			}
			break
		}
	}
	return nil
}

// Conversation is a conversation's state.
type Conversation struct {
	SID          string
	UniqueName   string
	FriendlyName string
	Attributes   string
	State        string // active, inactive or closed
	// Timers are the timers set (lifecycle.go).
	Timers      Timers
	DateCreated time.Time
	DateUpdated time.Time
}

// Binding is how an SMS or WhatsApp participant is reached.
type Binding struct {
	Type         string // "sms" or "whatsapp", as REST answers spell it
	Address      string // the customer
	ProxyAddress string // our number
}

// Participant is a participant's state: a chat user (Identity) or an
// SMS/WhatsApp customer (Binding).
type Participant struct {
	SID             string
	ConversationSID string
	Identity        string
	Binding         *Binding
	Attributes      string
	DateCreated     time.Time
	DateUpdated     time.Time
}

// Message is a published message.
type Message struct {
	SID             string
	ConversationSID string
	Index           int
	Author          string
	Body            string
	// ContentSID and ContentVariables are a Content API template's,
	// when the message is one (Body is then empty).
	ContentSID       string
	ContentVariables string
	Attributes       string
	ParticipantSID   string
	DateCreated      time.Time
}

type conversationState struct {
	Conversation
	participants []*Participant
	messages     []*Message
}

// Conversations returns every conversation, oldest first.
func (f *Fake) Conversations() []Conversation {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Conversation, 0, len(f.convOrder))
	for _, sid := range f.convOrder {
		out = append(out, f.convs[sid].Conversation)
	}
	return out
}

// Conversation returns one conversation.
func (f *Fake) Conversation(sid string) (Conversation, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.convs[sid]
	if c == nil {
		return Conversation{}, false
	}
	return c.Conversation, true
}

// Participants returns a conversation's participants in order of joining.
func (f *Fake) Participants(conversationSID string) []Participant {
	return inConversation(f, conversationSID, func(c *conversationState) []Participant {
		return copies(c.participants, func(p *Participant) Participant {
			out := *p
			if p.Binding != nil {
				b := *p.Binding
				out.Binding = &b
			}
			return out
		})
	})
}

// Messages returns a conversation's messages in index order.
func (f *Fake) Messages(conversationSID string) []Message {
	return inConversation(f, conversationSID, func(c *conversationState) []Message {
		return copies(c.messages, func(m *Message) Message { return *m })
	})
}

// inConversation is view of the conversation sid under f.mu, or the zero
// value when there is no such conversation.
func inConversation[T any](f *Fake, sid string, view func(*conversationState) T) T {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.convs[sid]
	if c == nil {
		var zero T
		return zero
	}
	return view(c)
}

// copies returns a copy of what items point to, made by clone.
func copies[T any](items []*T, clone func(*T) T) []T {
	out := make([]T, len(items))
	for i, it := range items {
		out[i] = clone(it)
	}
	return out
}

// DeleteConversation deletes a conversation, as a Console user or another
// system may: every later request about it gets 404.
func (f *Fake) DeleteConversation(sid string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.convs[sid]; !ok {
		return false
	}
	delete(f.convs, sid)
	f.convOrder = slices.DeleteFunc(f.convOrder, func(s string) bool { return s == sid })
	return true
}

// AddConversation creates an active conversation directly, without
// webhooks, and returns its SID.
func (f *Fake) AddConversation(friendlyName, attributes string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.insertConversation(friendlyName, attributes).SID
}

// Callers of the helpers below hold f.mu.

func (f *Fake) insertConversation(friendlyName, attributes string) *conversationState {
	if attributes == "" {
		attributes = "{}"
	}
	now := time.Now()
	c := &conversationState{Conversation: Conversation{
		SID:          f.newSID("CH"),
		FriendlyName: friendlyName,
		Attributes:   attributes,
		State:        stateActive,
		DateCreated:  now,
		DateUpdated:  now,
	}}
	f.convs[c.SID] = c
	f.convOrder = append(f.convOrder, c.SID)
	return c
}

// findBinding returns the open conversation that has a participant with
// this address/proxy pair: there is at most one (https://www.twilio.com/docs/conversations/inbound-autocreation).
func (f *Fake) findBinding(address, proxy string) (*conversationState, *Participant) {
	for _, sid := range f.convOrder {
		c := f.convs[sid]
		if c.State == stateClosed {
			continue
		}
		for _, p := range c.participants {
			if p.Binding != nil && p.Binding.Address == address && p.Binding.ProxyAddress == proxy {
				return c, p
			}
		}
	}
	return nil, nil
}

// participant finds a participant by SID or, as Twilio allows in paths,
// by identity.
func (c *conversationState) participant(key string) *Participant {
	for _, p := range c.participants {
		if p.SID == key || (p.Identity != "" && p.Identity == key) {
			return p
		}
	}
	return nil
}

// workerIn returns the conversation and its participant of the worker
// identity, or an error naming both. f.mu must be held.
func (f *Fake) workerIn(conversationSID, identity string) (*conversationState, *Participant, error) {
	c := f.convs[conversationSID]
	var p *Participant
	if c != nil {
		p = c.participant(identity)
	}
	if p == nil || p.Identity != identity {
		return nil, nil, fmt.Errorf("twiliotest: %s is not a participant of %s", identity, conversationSID)
	}
	return c, p, nil
}

// addParticipant adds a chat user (identity set) or an SMS/WhatsApp
// customer (binding set).
func (f *Fake) addParticipant(c *conversationState, identity string, binding *Binding, attributes string) (*Participant, *apiError) {
	if attributes == "" {
		attributes = "{}"
	}
	if e := validJSON(attributes, maxParticipantAttributes); e != nil {
		return nil, e
	}
	if identity != "" && c.participant(identity) != nil {
		return nil, &apiError{http.StatusConflict, codeParticipantExists, "A participant with the provided identity already exists in Conversation " + c.SID}
	}
	now := time.Now()
	p := &Participant{
		SID:             f.newSID("MB"),
		ConversationSID: c.SID,
		Identity:        identity,
		Binding:         binding,
		Attributes:      attributes,
		DateCreated:     now,
		DateUpdated:     now,
	}
	c.participants = append(c.participants, p)
	return p, nil
}

// insertMessage publishes a message with the conversation's next index.
// The author's participant is found by identity or binding address.
func (f *Fake) insertMessage(c *conversationState, author, body, attributes string) (*Message, *apiError) {
	if author == "" {
		author = "system"
	}
	if attributes == "" {
		attributes = "{}"
	}
	if e := validJSON(attributes, maxMessageAttributes); e != nil {
		return nil, e
	}
	// Indexes only grow; messages are never deleted here.
	m := &Message{
		SID:             f.newSID("IM"),
		ConversationSID: c.SID,
		Index:           len(c.messages),
		Author:          author,
		Body:            body,
		Attributes:      attributes,
		DateCreated:     time.Now(),
	}
	for _, p := range c.participants {
		if p.Identity == author || (p.Binding != nil && p.Binding.Address == author) {
			m.ParticipantSID = p.SID
			break
		}
	}
	c.messages = append(c.messages, m)
	c.DateUpdated = m.DateCreated
	return m, nil
}

func bindingType(address string) string {
	if strings.HasPrefix(address, "whatsapp:") {
		return "whatsapp"
	}
	return "sms"
}

// JSON shapes, field for field as twilio_conversations_v1.yaml.

type conversationJSON struct {
	AccountSID          string            `json:"account_sid"`
	ChatServiceSID      string            `json:"chat_service_sid"`
	MessagingServiceSID string            `json:"messaging_service_sid"`
	SID                 string            `json:"sid"`
	FriendlyName        *string           `json:"friendly_name"`
	UniqueName          *string           `json:"unique_name"`
	Attributes          string            `json:"attributes"`
	State               string            `json:"state"`
	DateCreated         *string           `json:"date_created"`
	DateUpdated         *string           `json:"date_updated"`
	Timers              map[string]string `json:"timers"`
	Bindings            any               `json:"bindings"`
	URL                 string            `json:"url"`
	Links               map[string]string `json:"links"`
}

type participantJSON struct {
	AccountSID           string            `json:"account_sid"`
	ConversationSID      string            `json:"conversation_sid"`
	SID                  string            `json:"sid"`
	Identity             *string           `json:"identity"`
	Attributes           string            `json:"attributes"`
	MessagingBinding     map[string]string `json:"messaging_binding"`
	RoleSID              *string           `json:"role_sid"`
	DateCreated          *string           `json:"date_created"`
	DateUpdated          *string           `json:"date_updated"`
	URL                  string            `json:"url"`
	LastReadMessageIndex *int              `json:"last_read_message_index"`
	LastReadTimestamp    *string           `json:"last_read_timestamp"`
}

type messageJSON struct {
	AccountSID      string            `json:"account_sid"`
	ConversationSID string            `json:"conversation_sid"`
	SID             string            `json:"sid"`
	Index           int               `json:"index"`
	Author          string            `json:"author"`
	Body            *string           `json:"body"`
	Media           []any             `json:"media"`
	Attributes      string            `json:"attributes"`
	ParticipantSID  *string           `json:"participant_sid"`
	DateCreated     *string           `json:"date_created"`
	DateUpdated     *string           `json:"date_updated"`
	URL             string            `json:"url"`
	Delivery        any               `json:"delivery"`
	Links           map[string]string `json:"links"`
	ContentSID      *string           `json:"content_sid"`
}

func (f *Fake) conversationJSON(c *Conversation) conversationJSON {
	u := conversationsBase + c.SID
	return conversationJSON{
		AccountSID:          f.cfg.AccountSID,
		ChatServiceSID:      f.cfg.ChatServiceSID,
		MessagingServiceSID: f.cfg.MessagingServiceSID,
		SID:                 c.SID,
		FriendlyName:        nullable(c.FriendlyName),
		UniqueName:          nullable(c.UniqueName),
		Attributes:          c.Attributes,
		State:               c.State,
		DateCreated:         timeJSON(c.DateCreated),
		DateUpdated:         timeJSON(c.DateUpdated),
		Timers:              timersJSON(c),
		URL:                 u,
		Links: map[string]string{
			"participants": u + "/Participants",
			"messages":     u + "/Messages",
			"webhooks":     u + "/Webhooks",
		},
	}
}

func (f *Fake) participantJSON(p *Participant) participantJSON {
	out := participantJSON{
		AccountSID:      f.cfg.AccountSID,
		ConversationSID: p.ConversationSID,
		SID:             p.SID,
		Identity:        nullable(p.Identity),
		Attributes:      p.Attributes,
		DateCreated:     timeJSON(p.DateCreated),
		DateUpdated:     timeJSON(p.DateUpdated),
		URL:             conversationsBase + p.ConversationSID + "/Participants/" + p.SID,
	}
	if p.Binding != nil {
		out.MessagingBinding = map[string]string{
			"type":          p.Binding.Type,
			"address":       p.Binding.Address,
			"proxy_address": p.Binding.ProxyAddress,
		}
	}
	return out
}

func (f *Fake) messageJSON(m *Message) messageJSON {
	u := conversationsBase + m.ConversationSID + "/Messages/" + m.SID
	return messageJSON{
		AccountSID:      f.cfg.AccountSID,
		ConversationSID: m.ConversationSID,
		SID:             m.SID,
		Index:           m.Index,
		Author:          m.Author,
		Body:            nullable(m.Body),
		ContentSID:      nullable(m.ContentSID),
		Attributes:      m.Attributes,
		ParticipantSID:  nullable(m.ParticipantSID),
		DateCreated:     timeJSON(m.DateCreated),
		URL:             u,
		Links: map[string]string{
			"delivery_receipts": u + "/Receipts",
			"channel_metadata":  u + "/ChannelMetadata",
		},
	}
}

// REST handlers. Each runs on the conversation of its path under f.mu.

// inConversation answers fn's result with status, or fn's error, or 404
// when the path's conversation does not exist.
func (f *Fake) inConversation(w http.ResponseWriter, r *http.Request, status int, fn func(*conversationState) (any, *apiError)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.lookupConversation(r.PathValue("conv"))
	if c == nil {
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	out, e := fn(c)
	answer(w, status, out, e)
}

func participantSID(p *Participant) string { return p.SID }

func messageSID(m *Message) string { return m.SID }

// lookupConversation finds a conversation by SID or unique name, as
// Twilio's paths allow. Callers hold f.mu.
func (f *Fake) lookupConversation(key string) *conversationState {
	if c := f.convs[key]; c != nil {
		return c
	}
	for _, sid := range f.convOrder {
		if c := f.convs[sid]; c.UniqueName != "" && c.UniqueName == key {
			return c
		}
	}
	return nil
}

// createConversation creates a conversation through REST (no webhook
// fires: REST actions never trigger them without X-Twilio-Webhook-Enabled).
// A unique name already taken is refused with 409.
func (f *Fake) createConversation(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	f.mu.Lock()
	defer f.mu.Unlock()
	if ms := form.Get("MessagingServiceSid"); ms != "" && ms != f.cfg.MessagingServiceSID {
		writeAPIError(w, errNotFound("messaging service "+ms))
		return
	}
	attrs := form.Get("Attributes")
	if attrs != "" {
		if e := validJSON(attrs, maxConversationAttributes); e != nil {
			writeAPIError(w, e)
			return
		}
	}
	if e := checkFriendlyName(form.Get("FriendlyName")); e != nil {
		writeAPIError(w, e)
		return
	}
	var timers Timers
	if e := setTimers(form, &timers); e != nil {
		writeAPIError(w, e)
		return
	}
	state := form.Get("State")
	switch {
	case (timers != Timers{}) && state == "":
		writeAPIError(w, &apiError{http.StatusBadRequest, codeTimersWithoutState, "Timers require State when creating a conversation"})
		return
	case state != "" && state != stateActive && state != stateInactive:
		writeAPIError(w, errInvalid("State must be active or inactive on create"))
		return
	}
	unique := form.Get("UniqueName")
	if unique != "" && f.lookupConversation(unique) != nil {
		writeAPIError(w, &apiError{http.StatusConflict, codeUniqueNameExists, "Conversation with provided unique name already exists"})
		return
	}
	c := f.insertConversation(form.Get("FriendlyName"), attrs)
	c.UniqueName = unique
	c.Timers = timers
	if state != "" {
		c.State = state
	}
	writeJSON(w, http.StatusCreated, f.conversationJSON(&c.Conversation))
}

func (f *Fake) fetchConversation(w http.ResponseWriter, r *http.Request) {
	f.inConversation(w, r, http.StatusOK, func(c *conversationState) (any, *apiError) {
		return f.conversationJSON(&c.Conversation), nil
	})
}

// participantConversationJSON is one item of ParticipantConversations.
type participantConversationJSON struct {
	AccountSID               string            `json:"account_sid"`
	ChatServiceSID           string            `json:"chat_service_sid"`
	ParticipantSID           string            `json:"participant_sid"`
	ParticipantIdentity      *string           `json:"participant_identity"`
	ParticipantBinding       map[string]string `json:"participant_messaging_binding"`
	ConversationSID          string            `json:"conversation_sid"`
	ConversationUniqueName   *string           `json:"conversation_unique_name"`
	ConversationFriendlyName *string           `json:"conversation_friendly_name"`
	ConversationAttributes   string            `json:"conversation_attributes"`
	ConversationDateCreated  *string           `json:"conversation_date_created"`
	ConversationDateUpdated  *string           `json:"conversation_date_updated"`
	ConversationState        string            `json:"conversation_state"`
	Links                    map[string]string `json:"links"`
}

// listParticipantConversations lists the conversations of one Address or
// one Identity (exactly one of them), in every state.
func (f *Fake) listParticipantConversations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	address, identity := q.Get("Address"), q.Get("Identity")
	if (address == "") == (identity == "") {
		writeAPIError(w, errInvalid("ParticipantConversations takes exactly one of Address and Identity"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	type item struct {
		c *conversationState
		p *Participant
	}
	var items []item
	for _, sid := range f.convOrder {
		c := f.convs[sid]
		for _, p := range c.participants {
			if (identity != "" && p.Identity == identity) || (address != "" && p.Binding != nil && p.Binding.Address == address) {
				items = append(items, item{c, p})
			}
		}
	}
	out, e := page(r, list{conversationsHost, "conversations", maxParticipantConversationsPage}, items,
		func(it item) string { return it.p.SID }, func(it item) participantConversationJSON {
			pj := f.participantJSON(it.p)
			return participantConversationJSON{
				AccountSID:               f.cfg.AccountSID,
				ChatServiceSID:           f.cfg.ChatServiceSID,
				ParticipantSID:           it.p.SID,
				ParticipantIdentity:      pj.Identity,
				ParticipantBinding:       pj.MessagingBinding,
				ConversationSID:          it.c.SID,
				ConversationUniqueName:   nullable(it.c.UniqueName),
				ConversationFriendlyName: nullable(it.c.FriendlyName),
				ConversationAttributes:   it.c.Attributes,
				ConversationDateCreated:  timeJSON(it.c.DateCreated),
				ConversationDateUpdated:  timeJSON(it.c.DateUpdated),
				ConversationState:        it.c.State,
				Links: map[string]string{
					"participant":  pj.URL,
					"conversation": conversationsBase + it.c.SID,
				},
			}
		})
	answer(w, http.StatusOK, out, e)
}

// updateConversation sets what the form has. Tests close conversations
// with State=closed, as Frontline does when a worker is done; a closed
// conversation takes no update (lifecycle.go).
func (f *Fake) updateConversation(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	f.inConversation(w, r, http.StatusOK, func(c *conversationState) (any, *apiError) {
		if e := c.checkOpen(); e != nil {
			return nil, e
		}
		timers := c.Timers
		if e := setTimers(form, &timers); e != nil {
			return nil, e
		}
		if form.Has("Attributes") {
			if e := validJSON(form.Get("Attributes"), maxConversationAttributes); e != nil {
				return nil, e
			}
			c.Attributes = form.Get("Attributes")
		}
		c.Timers = timers
		switch v := form.Get("State"); v {
		case "":
		case "active", "inactive", "closed":
			c.State = v
		default:
			return nil, errInvalid("State must be active, inactive or closed")
		}
		if form.Has("FriendlyName") {
			if e := checkFriendlyName(form.Get("FriendlyName")); e != nil {
				return nil, e
			}
			c.FriendlyName = form.Get("FriendlyName")
		}
		c.DateUpdated = time.Now()
		return f.conversationJSON(&c.Conversation), nil
	})
}

func (f *Fake) listParticipants(w http.ResponseWriter, r *http.Request) {
	f.inConversation(w, r, http.StatusOK, func(c *conversationState) (any, *apiError) {
		return page(r, list{conversationsHost, "participants", maxConversationsPage}, c.participants, participantSID, f.participantJSON)
	})
}

// createParticipant adds a chat user (Identity) or an SMS/WhatsApp
// customer (MessagingBinding.Address and .ProxyAddress), whose pair may be
// in one open conversation only: 50416 otherwise.
func (f *Fake) createParticipant(w http.ResponseWriter, r *http.Request) {
	f.inConversation(w, r, http.StatusCreated, func(c *conversationState) (any, *apiError) {
		if e := c.checkOpen(); e != nil {
			return nil, e
		}
		identity := r.PostForm.Get("Identity")
		address, proxy := r.PostForm.Get("MessagingBinding.Address"), r.PostForm.Get("MessagingBinding.ProxyAddress")
		var binding *Binding
		switch {
		case identity != "" && (address != "" || proxy != ""):
			return nil, errInvalid("Identity and MessagingBinding.* are exclusive")
		case address != "" && proxy != "":
			if other, _ := f.findBinding(address, proxy); other != nil {
				return nil, &apiError{http.StatusConflict, codeBindingInUse, "A binding for this participant and proxy address already exists in Conversation " + other.SID}
			}
			binding = &Binding{Type: bindingType(address), Address: address, ProxyAddress: proxy}
		case address != "" || proxy != "":
			return nil, errInvalid("MessagingBinding.Address and MessagingBinding.ProxyAddress go together: twiliotest does not model projected addresses")
		case identity == "":
			return nil, errInvalid("Identity or MessagingBinding.Address is required")
		}
		p, e := f.addParticipant(c, identity, binding, r.PostForm.Get("Attributes"))
		if e != nil {
			return nil, e
		}
		return f.participantJSON(p), nil
	})
}

func (f *Fake) fetchParticipant(w http.ResponseWriter, r *http.Request) {
	f.inParticipant(w, r, func(*Participant) *apiError { return nil })
}

func (f *Fake) updateParticipant(w http.ResponseWriter, r *http.Request) {
	f.inParticipant(w, r, func(p *Participant) *apiError {
		if r.PostForm.Has("Attributes") {
			if e := validJSON(r.PostForm.Get("Attributes"), maxParticipantAttributes); e != nil {
				return e
			}
			p.Attributes = r.PostForm.Get("Attributes")
		}
		p.DateUpdated = time.Now()
		return nil
	})
}

// inParticipant answers the participant of the path once change (which
// may refuse the request) is applied, or 404 when there is none.
func (f *Fake) inParticipant(w http.ResponseWriter, r *http.Request, change func(*Participant) *apiError) {
	f.inConversation(w, r, http.StatusOK, func(c *conversationState) (any, *apiError) {
		p := c.participant(r.PathValue("sid"))
		if p == nil {
			return nil, errNotFound(r.URL.Path)
		}
		if e := change(p); e != nil {
			return nil, e
		}
		return f.participantJSON(p), nil
	})
}

// listMessages lists oldest first, or newest first with Order=desc (the
// client reads a conversation's latest page that way).
func (f *Fake) listMessages(w http.ResponseWriter, r *http.Request) {
	order := r.URL.Query().Get("Order")
	if order != "" && order != "asc" && order != "desc" {
		writeAPIError(w, errInvalid("Order must be asc or desc"))
		return
	}
	f.inConversation(w, r, http.StatusOK, func(c *conversationState) (any, *apiError) {
		ms := c.messages
		if order == "desc" {
			ms = slices.Clone(ms)
			slices.Reverse(ms)
		}
		return page(r, list{conversationsHost, "messages", maxConversationsPage}, ms, messageSID, f.messageJSON)
	})
}

func (f *Fake) createMessage(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	f.inConversation(w, r, http.StatusCreated, func(c *conversationState) (any, *apiError) {
		if e := c.checkOpen(); e != nil {
			return nil, e
		}
		body, content, e := messageContent(c, form)
		if e != nil {
			return nil, e
		}
		m, e := f.insertMessage(c, form.Get("Author"), body, form.Get("Attributes"))
		if e != nil {
			return nil, e
		}
		m.ContentSID, m.ContentVariables = content.SID, content.Variables
		return f.messageJSON(m), nil
	})
}

// Webhook parameters of conversation events (https://www.twilio.com/docs/conversations/conversations-webhooks). Callers
// passing state hold f.mu.

func (f *Fake) eventParams(event, source string) url.Values {
	v := url.Values{}
	v.Set("AccountSid", f.cfg.AccountSID)
	v.Set("ChatServiceSid", f.cfg.ChatServiceSID)
	v.Set("EventType", event)
	v.Set("Source", source)
	v.Set("RetryCount", "0")
	return v
}

func (f *Fake) participantParams(event, source string, p *Participant) url.Values {
	v := f.eventParams(event, source)
	v.Set("ConversationSid", p.ConversationSID)
	v.Set("ParticipantSid", p.SID)
	v.Set("Attributes", p.Attributes)
	v.Set("DateCreated", p.DateCreated.UTC().Format(time.RFC3339))
	if p.Identity != "" {
		v.Set("Identity", p.Identity)
	}
	if p.Binding != nil {
		v.Set("MessagingBinding.Type", strings.ToUpper(p.Binding.Type))
		v.Set("MessagingBinding.Address", p.Binding.Address)
		v.Set("MessagingBinding.ProxyAddress", p.Binding.ProxyAddress)
	}
	return v
}

// messageParams are an onMessageAdd's; addPublished adds what only a
// published message (onMessageAdded) has.
func (f *Fake) messageParams(event, source string, c *conversationState, author, body, attributes, participantSID string) url.Values {
	v := f.eventParams(event, source)
	v.Set("ConversationSid", c.SID)
	v.Set("MessagingServiceSid", f.cfg.MessagingServiceSID)
	v.Set("Author", author)
	v.Set("Body", body)
	if attributes == "" {
		attributes = "{}"
	}
	v.Set("Attributes", attributes)
	if participantSID != "" {
		v.Set("ParticipantSid", participantSID)
	}
	return v
}

func addPublished(v url.Values, m *Message) {
	v.Set("MessageSid", m.SID)
	v.Set("Index", strconv.Itoa(m.Index))
	v.Set("DateCreated", m.DateCreated.UTC().Format(time.RFC3339))
}

// AddMessage publishes a message in a conversation directly, without
// webhooks, as another system of the account would (a Flex agent's
// conversation, say). It reports whether the conversation exists.
func (f *Fake) AddMessage(conversationSID, author, body string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.convs[conversationSID]
	if c == nil {
		return false
	}
	_, e := f.insertMessage(c, author, body, "")
	return e == nil
}
