package twiliofake

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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
	SID                 string
	FriendlyName        string
	UniqueName          string
	Attributes          string
	State               string // active, inactive or closed
	MessagingServiceSID string
	DateCreated         time.Time
	DateUpdated         time.Time
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
	RoleSID         string
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
	Attributes      string
	ParticipantSID  string
	DateCreated     time.Time
}

type conversationState struct {
	Conversation
	participants []*Participant
	messages     []*Message
	// nextIndex only grows: indexes are never reused, even after deletes.
	nextIndex int
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

// Conversation returns one conversation by SID or unique name.
func (f *Fake) Conversation(sid string) (Conversation, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conv(sid)
	if c == nil {
		return Conversation{}, false
	}
	return c.Conversation, true
}

// Participants returns a conversation's participants in order of joining.
func (f *Fake) Participants(conversationSID string) []Participant {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conv(conversationSID)
	if c == nil {
		return nil
	}
	out := make([]Participant, len(c.participants))
	for i, p := range c.participants {
		out[i] = copyParticipant(p)
	}
	return out
}

// Messages returns a conversation's messages in index order.
func (f *Fake) Messages(conversationSID string) []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conv(conversationSID)
	if c == nil {
		return nil
	}
	out := make([]Message, len(c.messages))
	for i, m := range c.messages {
		out[i] = *m
	}
	return out
}

// AddConversation creates an active conversation directly, without
// webhooks, and returns its SID.
func (f *Fake) AddConversation(friendlyName, attributes string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.insertConversation(friendlyName, "", attributes).SID
}

func copyParticipant(p *Participant) Participant {
	out := *p
	if p.Binding != nil {
		b := *p.Binding
		out.Binding = &b
	}
	return out
}

// conv finds a conversation by SID or unique name. Callers hold f.mu.
func (f *Fake) conv(key string) *conversationState {
	if c, ok := f.convs[key]; ok {
		return c
	}
	for _, c := range f.convs {
		if c.UniqueName != "" && c.UniqueName == key {
			return c
		}
	}
	return nil
}

// insertConversation creates a conversation. Callers hold f.mu.
func (f *Fake) insertConversation(friendlyName, uniqueName, attributes string) *conversationState {
	if attributes == "" {
		attributes = "{}"
	}
	now := time.Now()
	c := &conversationState{Conversation: Conversation{
		SID:                 f.newSID("CH"),
		FriendlyName:        friendlyName,
		UniqueName:          uniqueName,
		Attributes:          attributes,
		State:               "active",
		MessagingServiceSID: f.cfg.MessagingServiceSID,
		DateCreated:         now,
		DateUpdated:         now,
	}}
	f.convs[c.SID] = c
	f.convOrder = append(f.convOrder, c.SID)
	return c
}

// findBinding returns the open conversation that has a participant with
// this address/proxy pair: there is at most one (twilio.md §3.7). Callers
// hold f.mu.
func (f *Fake) findBinding(address, proxy string) (*conversationState, *Participant) {
	for _, sid := range f.convOrder {
		c := f.convs[sid]
		if c.State == "closed" {
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

// participantInput is what creates a participant.
type participantInput struct {
	identity, address, proxy, attributes, roleSID string
}

// insertParticipant validates and adds a participant. Callers hold f.mu.
func (f *Fake) insertParticipant(c *conversationState, in participantInput) (*Participant, *apiError) {
	if in.attributes == "" {
		in.attributes = "{}"
	}
	if e := validJSON(in.attributes, maxParticipantAttributes); e != nil {
		return nil, e
	}
	p := &Participant{
		ConversationSID: c.SID,
		Attributes:      in.attributes,
		RoleSID:         in.roleSID,
	}
	switch {
	case in.identity != "" && in.address != "":
		return nil, errInvalid("Identity and MessagingBinding.Address are mutually exclusive")
	case in.identity != "":
		for _, q := range c.participants {
			if q.Identity == in.identity {
				return nil, &apiError{http.StatusConflict, codeParticipantExists, "A participant with the provided identity already exists in Conversation " + c.SID}
			}
		}
		p.Identity = in.identity
	case in.address != "":
		if in.proxy == "" {
			return nil, &apiError{http.StatusBadRequest, codeProxyAddressEmpty, "Participant proxy address is empty"}
		}
		if other, _ := f.findBinding(in.address, in.proxy); other != nil {
			return nil, &apiError{http.StatusConflict, codeBindingExists, "A binding for this participant and proxy address already exists in Conversation " + other.SID}
		}
		p.Binding = &Binding{Type: bindingType(in.address), Address: in.address, ProxyAddress: in.proxy}
	default:
		return nil, errInvalid("Identity or MessagingBinding.Address is required")
	}
	now := time.Now()
	p.SID = f.newSID("MB")
	p.DateCreated, p.DateUpdated = now, now
	c.participants = append(c.participants, p)
	return p, nil
}

// insertMessage publishes a message with the conversation's next index.
// The author's participant is found by identity or binding address.
// Callers hold f.mu.
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
	m := &Message{
		SID:             f.newSID("IM"),
		ConversationSID: c.SID,
		Index:           c.nextIndex,
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
	c.nextIndex++
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
	MessagingServiceSID *string           `json:"messaging_service_sid"`
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
		MessagingServiceSID: nullable(c.MessagingServiceSID),
		SID:                 c.SID,
		FriendlyName:        nullable(c.FriendlyName),
		UniqueName:          nullable(c.UniqueName),
		Attributes:          c.Attributes,
		State:               c.State,
		DateCreated:         timeJSON(c.DateCreated),
		DateUpdated:         timeJSON(c.DateUpdated),
		Timers:              map[string]string{},
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
		RoleSID:         nullable(p.RoleSID),
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

// REST handlers.

func (f *Fake) createConversation(w http.ResponseWriter, r *http.Request) {
	if e := checkFriendlyName(r.PostForm.Get("FriendlyName")); e != nil {
		writeAPIError(w, e)
		return
	}
	attrs := r.PostForm.Get("Attributes")
	if attrs != "" {
		if e := validJSON(attrs, maxConversationAttributes); e != nil {
			writeAPIError(w, e)
			return
		}
	}
	f.mu.Lock()
	unique := r.PostForm.Get("UniqueName")
	if unique != "" && f.conv(unique) != nil {
		f.mu.Unlock()
		writeError(w, http.StatusConflict, codeUniqueNameExists, "Conversation with provided unique name already exists")
		return
	}
	c := f.insertConversation(r.PostForm.Get("FriendlyName"), unique, attrs)
	if v := r.PostForm.Get("MessagingServiceSid"); v != "" {
		c.MessagingServiceSID = v
	}
	if v := r.PostForm.Get("State"); v != "" {
		c.State = v
	}
	out := f.conversationJSON(&c.Conversation)
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func (f *Fake) listConversations(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	order := f.convOrder
	start, end, meta, e := paginate(r, conversationsHost, "conversations", len(order), maxConversationsPage,
		func(i int) string { return order[i] })
	if e != nil {
		writeAPIError(w, e)
		return
	}
	items := make([]conversationJSON, 0, end-start)
	for _, sid := range order[start:end] {
		items = append(items, f.conversationJSON(&f.convs[sid].Conversation))
	}
	writeJSON(w, http.StatusOK, struct {
		Conversations []conversationJSON `json:"conversations"`
		Meta          metaJSON           `json:"meta"`
	}{items, meta})
}

func (f *Fake) fetchConversation(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conv(r.PathValue("conv"))
	if c == nil {
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	writeJSON(w, http.StatusOK, f.conversationJSON(&c.Conversation))
}

func (f *Fake) updateConversation(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	f.mu.Lock()
	c := f.conv(r.PathValue("conv"))
	if c == nil {
		f.mu.Unlock()
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	if form.Has("Attributes") {
		if e := validJSON(form.Get("Attributes"), maxConversationAttributes); e != nil {
			f.mu.Unlock()
			writeAPIError(w, e)
			return
		}
	}
	if e := checkFriendlyName(form.Get("FriendlyName")); e != nil {
		f.mu.Unlock()
		writeAPIError(w, e)
		return
	}
	if v := form.Get("State"); v != "" && v != "active" && v != "inactive" && v != "closed" {
		f.mu.Unlock()
		writeAPIError(w, errInvalid("State must be active, inactive or closed"))
		return
	}
	if form.Has("FriendlyName") {
		c.FriendlyName = form.Get("FriendlyName")
	}
	if form.Has("UniqueName") {
		c.UniqueName = form.Get("UniqueName")
	}
	if form.Has("Attributes") {
		c.Attributes = form.Get("Attributes")
	}
	if v := form.Get("State"); v != "" {
		c.State = v
	}
	if v := form.Get("MessagingServiceSid"); v != "" {
		c.MessagingServiceSID = v
	}
	c.DateUpdated = time.Now()
	out := f.conversationJSON(&c.Conversation)
	params := f.conversationParams("onConversationUpdated", "API", &c.Conversation)
	f.mu.Unlock()
	f.firePostIfEnabled(r, params)
	writeJSON(w, http.StatusOK, out)
}

func (f *Fake) listParticipants(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conv(r.PathValue("conv"))
	if c == nil {
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	ps := c.participants
	start, end, meta, e := paginate(r, conversationsHost, "participants", len(ps), maxConversationsPage,
		func(i int) string { return ps[i].SID })
	if e != nil {
		writeAPIError(w, e)
		return
	}
	items := make([]participantJSON, 0, end-start)
	for _, p := range ps[start:end] {
		items = append(items, f.participantJSON(p))
	}
	writeJSON(w, http.StatusOK, struct {
		Participants []participantJSON `json:"participants"`
		Meta         metaJSON          `json:"meta"`
	}{items, meta})
}

func (f *Fake) createParticipant(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	f.mu.Lock()
	c := f.conv(r.PathValue("conv"))
	if c == nil {
		f.mu.Unlock()
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	p, e := f.insertParticipant(c, participantInput{
		identity:   form.Get("Identity"),
		address:    form.Get("MessagingBinding.Address"),
		proxy:      form.Get("MessagingBinding.ProxyAddress"),
		attributes: form.Get("Attributes"),
		roleSID:    form.Get("RoleSid"),
	})
	if e != nil {
		f.mu.Unlock()
		writeAPIError(w, e)
		return
	}
	out := f.participantJSON(p)
	params := f.participantParams("onParticipantAdded", "API", p)
	f.mu.Unlock()
	f.firePostIfEnabled(r, params)
	writeJSON(w, http.StatusCreated, out)
}

// participant finds a participant by SID or identity. Callers hold f.mu.
func (c *conversationState) participant(key string) (int, *Participant) {
	for i, p := range c.participants {
		if p.SID == key || (p.Identity != "" && p.Identity == key) {
			return i, p
		}
	}
	return -1, nil
}

func (f *Fake) fetchParticipant(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conv(r.PathValue("conv"))
	if c == nil {
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	_, p := c.participant(r.PathValue("sid"))
	if p == nil {
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	writeJSON(w, http.StatusOK, f.participantJSON(p))
}

func (f *Fake) updateParticipant(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	f.mu.Lock()
	c := f.conv(r.PathValue("conv"))
	var p *Participant
	if c != nil {
		_, p = c.participant(r.PathValue("sid"))
	}
	if p == nil {
		f.mu.Unlock()
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	if form.Has("Attributes") {
		if e := validJSON(form.Get("Attributes"), maxParticipantAttributes); e != nil {
			f.mu.Unlock()
			writeAPIError(w, e)
			return
		}
		p.Attributes = form.Get("Attributes")
	}
	if form.Has("RoleSid") {
		p.RoleSID = form.Get("RoleSid")
	}
	if form.Has("Identity") && p.Binding == nil {
		p.Identity = form.Get("Identity")
	}
	p.DateUpdated = time.Now()
	out := f.participantJSON(p)
	params := f.participantParams("onParticipantUpdated", "API", p)
	f.mu.Unlock()
	f.firePostIfEnabled(r, params)
	writeJSON(w, http.StatusOK, out)
}

func (f *Fake) deleteParticipant(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	c := f.conv(r.PathValue("conv"))
	i := -1
	var p *Participant
	if c != nil {
		i, p = c.participant(r.PathValue("sid"))
	}
	if p == nil {
		f.mu.Unlock()
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	c.participants = slices.Delete(c.participants, i, i+1)
	params := f.participantParams("onParticipantRemoved", "API", p)
	f.mu.Unlock()
	f.firePostIfEnabled(r, params)
	w.WriteHeader(http.StatusNoContent)
}

func (f *Fake) listMessages(w http.ResponseWriter, r *http.Request) {
	order := r.URL.Query().Get("Order")
	if order != "" && order != "asc" && order != "desc" {
		writeAPIError(w, errInvalid("Order must be asc or desc"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conv(r.PathValue("conv"))
	if c == nil {
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	ms := slices.Clone(c.messages)
	if order == "desc" {
		slices.Reverse(ms)
	}
	start, end, meta, e := paginate(r, conversationsHost, "messages", len(ms), maxConversationsPage,
		func(i int) string { return ms[i].SID })
	if e != nil {
		writeAPIError(w, e)
		return
	}
	items := make([]messageJSON, 0, end-start)
	for _, m := range ms[start:end] {
		items = append(items, f.messageJSON(m))
	}
	writeJSON(w, http.StatusOK, struct {
		Messages []messageJSON `json:"messages"`
		Meta     metaJSON      `json:"meta"`
	}{items, meta})
}

func (f *Fake) createMessage(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	f.mu.Lock()
	c := f.conv(r.PathValue("conv"))
	if c == nil {
		f.mu.Unlock()
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	e := c.checkBody(form.Get("Body"))
	var m *Message
	if e == nil {
		m, e = f.insertMessage(c, form.Get("Author"), form.Get("Body"), form.Get("Attributes"))
	}
	if e != nil {
		f.mu.Unlock()
		writeAPIError(w, e)
		return
	}
	out := f.messageJSON(m)
	params := f.messageParams("onMessageAdded", "API", c, m.Author, m.Body, m.Attributes, m.ParticipantSID)
	addPublished(params, m)
	f.mu.Unlock()
	f.firePostIfEnabled(r, params)
	writeJSON(w, http.StatusCreated, out)
}

func (f *Fake) fetchMessage(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conv(r.PathValue("conv"))
	if c == nil {
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	sid := r.PathValue("sid")
	for _, m := range c.messages {
		if m.SID == sid {
			writeJSON(w, http.StatusOK, f.messageJSON(m))
			return
		}
	}
	writeAPIError(w, errNotFound(r.URL.Path))
}

// Webhook parameters of conversation events (twilio.md §2.4). Callers
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

func (f *Fake) conversationParams(event, source string, c *Conversation) url.Values {
	v := f.eventParams(event, source)
	v.Set("ConversationSid", c.SID)
	v.Set("MessagingServiceSid", c.MessagingServiceSID)
	if c.FriendlyName != "" {
		v.Set("FriendlyName", c.FriendlyName)
	}
	if c.UniqueName != "" {
		v.Set("UniqueName", c.UniqueName)
	}
	v.Set("Attributes", c.Attributes)
	v.Set("State", c.State)
	v.Set("DateCreated", c.DateCreated.UTC().Format(time.RFC3339))
	v.Set("DateUpdated", c.DateUpdated.UTC().Format(time.RFC3339))
	return v
}

func (f *Fake) participantParams(event, source string, p *Participant) url.Values {
	v := f.eventParams(event, source)
	v.Set("ConversationSid", p.ConversationSID)
	v.Set("ParticipantSid", p.SID)
	v.Set("Attributes", p.Attributes)
	v.Set("DateCreated", p.DateCreated.UTC().Format(time.RFC3339))
	if p.RoleSID != "" {
		v.Set("RoleSid", p.RoleSID)
	}
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
	v.Set("MessagingServiceSid", c.MessagingServiceSID)
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
