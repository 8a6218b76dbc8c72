package twiliotest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhooks is the account's webhook configuration: the Conversations
// global webhook (one pre-event URL, one post-event URL, and Filters, the
// event types delivered, e.g. "onConversationAdd", "onMessageAdd",
// "onParticipantAdded", "onMessageAdded") and Frontline's custom routing
// callback. Each URL is also the URL signed.
type Webhooks struct {
	PreWebhookURL  string
	PostWebhookURL string
	Filters        []string
	RoutingURL     string
	// Method is how pre- and post-events are sent, GET or POST (the
	// default); Target is "webhook" (the default) or "flex".
	Method string
	Target string
}

// SetWebhooks replaces the webhook configuration.
func (f *Fake) SetWebhooks(w Webhooks) {
	w.Filters = slices.Clone(w.Filters)
	if w.Method == "" {
		w.Method = http.MethodPost
	}
	if w.Target == "" {
		w.Target = "webhook"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hooks = w
}

// Delivery targets.
const (
	TargetPre     = "pre"
	TargetPost    = "post"
	TargetRouting = "routing"
)

// Delivery is one webhook request the fake sent, with our answer.
type Delivery struct {
	Target    string // TargetPre, TargetPost, TargetRouting or TargetEvents
	EventType string // empty for the routing callback
	URL       string
	Params    url.Values
	// Signature is the X-Twilio-Signature sent; IdempotencyToken the
	// I-Twilio-Idempotency-Token, the same for every redelivery.
	Signature        string
	IdempotencyToken string
	Redelivery       bool
	Start, End       time.Time
	// Status and Body are our answer. Err is set when there was no answer:
	// the request failed, or timed out (TimedOut) and was abandoned, as
	// Twilio abandons it.
	Status   int
	Body     []byte
	Err      error
	TimedOut bool
}

// Deliveries returns the webhooks delivered so far, in order of delivery.
func (f *Fake) Deliveries() []Delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deliveries)
}

// Rejection is an action a pre-event hook rejected: nothing was published.
type Rejection struct {
	EventType string
	Params    url.Values
	Status    int // our answer; 2xx when our modification failed validation
	Reason    string
}

// Rejections returns the actions rejected so far, e.g. customer messages
// dropped because our onMessageAdd answered 500.
func (f *Fake) Rejections() []Rejection {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rejections)
}

// TextResult is what became of a text.
type TextResult struct {
	ConversationSID string
	// Created reports that the text created the conversation.
	Created bool
	// ParticipantSID is the author's participant.
	ParticipantSID string
	// Message is the published message; zero when Rejected.
	Message Message
	// Rejected reports that a pre-event hook (onConversationAdd or
	// onMessageAdd) rejected the text: nothing was published.
	Rejected bool
}

// CustomerTexts plays an SMS or WhatsApp (from "whatsapp:+…") message from
// the customer address from to our number to, as Twilio does
// (https://www.twilio.com/docs/conversations/inbound-autocreation).
// The first text from a new address/number pair sends the pre-event
// onConversationAdd (a 200 JSON answer may set friendly_name and
// attributes; a 4xx/5xx rejects), creates the conversation and the
// customer participant, sends the post-event onParticipantAdded and calls
// the Frontline routing callback. Every text then goes through the
// pre-event onMessageAdd (a 2xx answer may change body, author and
// attributes; a 4xx/5xx drops the message; no answer within the webhook
// timeout publishes it unmodified), is published with the conversation's
// next index and sent as the post-event onMessageAdded.
//
// Unlike Twilio, the fake waits for post-events and the routing callback
// before going on, so a test sees their effects when CustomerTexts
// returns. It returns an error only for bad arguments or when ctx ends.
func (f *Fake) CustomerTexts(ctx context.Context, from, to, body string) (TextResult, error) {
	if from == "" || to == "" {
		return TextResult{}, errors.New("twiliotest: a customer text needs from and to")
	}
	f.mu.Lock()
	c, p := f.findBinding(from, to)
	var res TextResult
	if c != nil {
		res.ConversationSID, res.ParticipantSID = c.SID, p.SID
	}
	f.mu.Unlock()
	if c == nil {
		var err error
		res, err = f.autocreate(ctx, from, to, body)
		if err != nil || res.Rejected {
			return res, err
		}
	}
	m, rejected, err := f.publish(ctx, res.ConversationSID, res.ParticipantSID, from, body, "SMS", "")
	if err != nil {
		return res, err
	}
	res.Message, res.Rejected = m, rejected
	return res, nil
}

// WorkerTexts plays the worker identity, a participant of the
// conversation, sending body from the Frontline app: Source=SDK with
// ClientIdentity, through onMessageAdd and onMessageAdded as
// CustomerTexts.
func (f *Fake) WorkerTexts(ctx context.Context, conversationSID, identity, body string) (TextResult, error) {
	f.mu.Lock()
	c, p, err := f.workerIn(conversationSID, identity)
	if err != nil {
		f.mu.Unlock()
		return TextResult{}, err
	}
	res := TextResult{ConversationSID: c.SID, ParticipantSID: p.SID}
	f.mu.Unlock()
	m, rejected, err := f.publish(ctx, res.ConversationSID, res.ParticipantSID, identity, body, "SDK", identity)
	if err != nil {
		return res, err
	}
	res.Message, res.Rejected = m, rejected
	return res, nil
}

// autocreate creates the conversation of a first inbound text.
func (f *Fake) autocreate(ctx context.Context, from, to, body string) (TextResult, error) {
	params := f.eventParams("onConversationAdd", "SMS")
	params.Set("MessagingServiceSid", f.cfg.MessagingServiceSID)
	params.Set("MessagingBinding.Address", from)
	params.Set("MessagingBinding.ProxyAddress", to)
	params.Set("MessageBody", body)
	params.Set("Attributes", "{}")
	params.Set("State", "active")
	mods, rejected, err := f.preHook(ctx, "onConversationAdd", params)
	if err != nil || rejected {
		return TextResult{Rejected: rejected}, err
	}
	friendly, attrs := "", "{}"
	if v, ok, bad := stringMod(mods, "friendly_name"); bad {
		return f.rejectMod(params, "friendly_name is not a string")
	} else if e := checkFriendlyName(v); e != nil {
		return f.rejectMod(params, "friendly_name: "+e.msg)
	} else if ok {
		friendly = v
	}
	if v, ok, bad := stringMod(mods, "attributes"); bad || (ok && validJSON(v, maxConversationAttributes) != nil) {
		return f.rejectMod(params, "attributes is not a JSON string")
	} else if ok {
		attrs = v
	}

	f.mu.Lock()
	// Another text may have created it while the hook ran.
	if c, p := f.findBinding(from, to); c != nil {
		f.mu.Unlock()
		return TextResult{ConversationSID: c.SID, ParticipantSID: p.SID}, nil
	}
	c := f.insertConversation(friendly, attrs)
	p, e := f.addParticipant(c, "", &Binding{Type: bindingType(from), Address: from, ProxyAddress: to}, "")
	if e != nil {
		f.mu.Unlock()
		return TextResult{}, fmt.Errorf("twiliotest: add customer: %w", e)
	}
	added := f.participantParams("onParticipantAdded", "SMS", p)
	routing := url.Values{}
	routing.Set("AccountSid", f.cfg.AccountSID)
	routing.Set("ChatServiceSid", f.cfg.ChatServiceSID)
	routing.Set("MessagingServiceSid", f.cfg.MessagingServiceSID)
	routing.Set("ConversationSid", c.SID)
	routing.Set("MessagingBinding.Address", from)
	routing.Set("MessagingBinding.ProxyAddress", to)
	routingURL := f.hooks.RoutingURL
	res := TextResult{ConversationSID: c.SID, ParticipantSID: p.SID, Created: true}
	f.mu.Unlock()

	if err := f.postHook(ctx, "onParticipantAdded", added); err != nil {
		return res, err
	}
	if routingURL != "" {
		f.deliver(ctx, TargetRouting, "", routingURL, routing, randomToken(), f.cfg.RoutingTimeout, false)
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// publish runs a message through onMessageAdd, publishes it and sends
// onMessageAdded.
func (f *Fake) publish(ctx context.Context, convSID, participantSID, author, body, source, clientIdentity string) (Message, bool, error) {
	f.mu.Lock()
	c := f.convs[convSID]
	if c == nil {
		f.mu.Unlock()
		return Message{}, false, fmt.Errorf("twiliotest: conversation %s not found", convSID)
	}
	params := f.messageParams("onMessageAdd", source, c, author, body, "", participantSID)
	f.mu.Unlock()
	if clientIdentity != "" {
		params.Set("ClientIdentity", clientIdentity)
	}

	mods, rejected, err := f.preHook(ctx, "onMessageAdd", params)
	if err != nil || rejected {
		return Message{}, rejected, err
	}
	attrs := ""
	for key, dst := range map[string]*string{"body": &body, "author": &author, "attributes": &attrs} {
		v, ok, bad := stringMod(mods, key)
		if bad || (key == "attributes" && ok && validJSON(v, maxMessageAttributes) != nil) {
			_, err := f.rejectMod(params, key+" is not a valid string")
			return Message{}, true, err
		}
		if ok {
			*dst = v
		}
	}

	f.mu.Lock()
	c = f.convs[convSID]
	if c == nil {
		f.mu.Unlock()
		return Message{}, false, fmt.Errorf("twiliotest: conversation %s not found", convSID)
	}
	m, e := f.insertMessage(c, author, body, attrs)
	if e != nil {
		f.mu.Unlock()
		return Message{}, false, fmt.Errorf("twiliotest: publish: %w", e)
	}
	// The sender stays the author's participant even if the hook changed
	// the author.
	m.ParticipantSID = participantSID
	out := *m
	added := f.messageParams("onMessageAdded", source, c, m.Author, m.Body, m.Attributes, m.ParticipantSID)
	addPublished(added, m)
	f.mu.Unlock()
	if clientIdentity != "" {
		added.Set("ClientIdentity", clientIdentity)
	}
	return out, false, f.postHook(ctx, "onMessageAdded", added)
}

// stringMod reads a field of a pre-event answer: ok when present, bad when
// present but not a string.
func stringMod(mods map[string]json.RawMessage, key string) (v string, ok, bad bool) {
	raw, ok := mods[key]
	if !ok {
		return "", false, false
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false, true
	}
	return v, true, false
}

func (f *Fake) rejectMod(params url.Values, reason string) (TextResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejections = append(f.rejections, Rejection{
		EventType: params.Get("EventType"),
		Params:    params,
		Status:    http.StatusOK,
		Reason:    "invalid modification: " + reason,
	})
	return TextResult{Rejected: true}, nil
}

// filtered returns the URL an event goes to, or "" when it is not sent.
func (f *Fake) filtered(target, event string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.hooks.PostWebhookURL
	if target == TargetPre {
		u = f.hooks.PreWebhookURL
	}
	if u == "" || !slices.Contains(f.hooks.Filters, event) {
		return ""
	}
	return u
}

// preHook delivers a pre-event, if configured and filtered in, and reads
// the answer as Twilio does (https://www.twilio.com/docs/conversations/conversations-webhooks): 2xx publishes, with the
// fields of a JSON body as modifications; 4xx/5xx rejects; no answer
// publishes unmodified.
func (f *Fake) preHook(ctx context.Context, event string, params url.Values) (mods map[string]json.RawMessage, rejected bool, err error) {
	u := f.filtered(TargetPre, event)
	if u == "" {
		return nil, false, nil
	}
	d := f.deliver(ctx, TargetPre, event, u, params, randomToken(), f.cfg.WebhookTimeout, false)
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if d.Err != nil {
		return nil, false, nil
	}
	if d.Status < 200 || d.Status > 299 {
		f.mu.Lock()
		f.rejections = append(f.rejections, Rejection{
			EventType: event,
			Params:    params,
			Status:    d.Status,
			Reason:    "pre-event answered " + strconv.Itoa(d.Status),
		})
		f.mu.Unlock()
		return nil, true, nil
	}
	if len(bytes.TrimSpace(d.Body)) == 0 {
		return nil, false, nil
	}
	// A body that is not a JSON object is undocumented; it is taken as no
	// modification.
	if err := json.Unmarshal(d.Body, &mods); err != nil {
		return nil, false, nil
	}
	return mods, false, nil
}

// postHook delivers a post-event, if configured and filtered in. Its answer
// is only recorded.
func (f *Fake) postHook(ctx context.Context, event string, params url.Values) error {
	u := f.filtered(TargetPost, event)
	if u == "" {
		return nil
	}
	f.deliver(ctx, TargetPost, event, u, params, randomToken(), f.cfg.WebhookTimeout, false)
	return ctx.Err()
}

// Redeliver sends a delivered webhook again, as a Twilio retry would: same
// URL, same idempotency token, RetryCount one higher, signed anew. The
// answer is recorded but changes no state.
func (f *Fake) Redeliver(ctx context.Context, d Delivery) Delivery {
	params := url.Values{}
	for k, vs := range d.Params {
		params[k] = slices.Clone(vs)
	}
	if params.Has("RetryCount") {
		n, _ := strconv.Atoi(params.Get("RetryCount"))
		params.Set("RetryCount", strconv.Itoa(n+1))
	}
	timeout := f.cfg.WebhookTimeout
	if d.Target == TargetRouting {
		timeout = f.cfg.RoutingTimeout
	}
	return f.deliver(ctx, d.Target, d.EventType, d.URL, params, d.IdempotencyToken, timeout, true)
}

// deliver sends one signed, form-encoded webhook and records it.
func (f *Fake) deliver(ctx context.Context, target, event, rawURL string, params url.Values, token string, timeout time.Duration, redelivery bool) Delivery {
	// Fragments are never sent nor signed.
	rawURL, _, _ = strings.Cut(rawURL, "#")
	f.mu.Lock()
	method := f.hooks.Method
	f.mu.Unlock()
	if target == TargetRouting || method != http.MethodGet {
		method = http.MethodPost
	}
	d := Delivery{
		Target:           target,
		EventType:        event,
		URL:              rawURL,
		Params:           params,
		Signature:        Sign(f.cfg.AuthToken, rawURL, params),
		IdempotencyToken: token,
		Redelivery:       redelivery,
		Start:            time.Now(),
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var req *http.Request
	var err error
	if method == http.MethodGet {
		// Conversations configured with Method GET sends the parameters
		// in the query string and signs the whole URL.
		u := rawURL + "?" + params.Encode()
		if strings.Contains(rawURL, "?") {
			u = rawURL + "&" + params.Encode()
		}
		d.Signature = Sign(f.cfg.AuthToken, u, nil)
		req, err = http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	} else {
		req, err = http.NewRequestWithContext(rctx, http.MethodPost, rawURL, strings.NewReader(params.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err == nil {
		req.Header.Set("X-Twilio-Signature", d.Signature)
		req.Header.Set("I-Twilio-Idempotency-Token", token)
		req.Header.Set("User-Agent", "TwilioProxy/1.1")
		var resp *http.Response
		if resp, err = f.cfg.HTTPClient.Do(req); err == nil {
			d.Status = resp.StatusCode
			d.Body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
		}
	}
	if err != nil {
		d.Err = err
		d.TimedOut = errors.Is(rctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	}
	d.End = time.Now()
	f.mu.Lock()
	f.deliveries = append(f.deliveries, d)
	f.mu.Unlock()
	return d
}

// Sign returns the X-Twilio-Signature of a form-encoded POST to rawURL with
// params (https://www.twilio.com/docs/usage/webhooks/webhooks-security): base64 HMAC-SHA1, keyed by the auth token, of the
// URL followed by every key and value, keys sorted (and a repeated key's
// values sorted, as Twilio's helpers do).
func Sign(authToken, rawURL string, params url.Values) string {
	var b strings.Builder
	b.WriteString(rawURL)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		for _, v := range slices.Sorted(slices.Values(params[k])) {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
