package strapi

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/experthub/experthub/internal/crm"
)

// eventHeader is the header Strapi names the event of a webhook call in.
const eventHeader = "X-Strapi-Event"

// webhook is a Strapi webhook call, in any version's payload.
type webhook struct {
	// name is the event: entry.create, entry.update, entry.delete,
	// entry.publish, entry.unpublish, media.create…
	name string
	// model is the content type's singular API id ("customer"); empty for
	// media events.
	model string
	// entry is the record of an entry.* event. Delete and unpublish
	// payloads carry no components, so it is then not populated.
	entry entry
	// raw is the entry as sent, for decoders of other content types.
	raw []byte
}

// maxEventName bounds an event name; real ones are under 30 bytes.
const maxEventName = 64

// WebhookEvent returns the event a Strapi webhook call announces in its
// X-Strapi-Event header, or "" when the request is not one.
func (c *Client) WebhookEvent(h http.Header) string { return h.Get(eventHeader) }

// Authenticate checks that a call to the sync function carries the
// webhook secret as Strapi sends it, "Authorization: Bearer <secret>"
// (Settings › Webhooks, headers); the secret also starts a manual full
// sync. The error says what was wrong, never the token. Without a secret
// configured every call is refused.
//
// The comparison is of SHA-256 sums in constant time: the time taken
// reveals neither the secret's length nor a matching prefix.
func (c *Client) Authenticate(h http.Header) error {
	scheme, token, _ := strings.Cut(h.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	switch {
	case !strings.EqualFold(scheme, "Bearer") || token == "":
		return errors.New("no bearer token")
	case !c.hasSecret:
		return errors.New("no webhook secret is configured")
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], c.secret[:]) != 1 {
		return errors.New("wrong bearer token")
	}
	return nil
}

// DecodeWebhook decodes a webhook call into the change it makes to the
// cached customers (https://docs.strapi.io/cms/backend-customization/webhooks): the customer is stored on
// entry.publish, and on entry.create/update when published (a type
// without Draft & Publish); it is removed on entry.unpublish, and on
// entry.delete of the published row. Draft saves, other content types
// and other events change nothing. Strapi sends one entry a call, so the
// result holds one change.
func (c *Client) DecodeWebhook(h http.Header, body []byte) ([]crm.Change[crm.Customer], error) {
	w, err := decodeWebhook(h, body)
	if err != nil {
		return nil, err
	}
	c.localize(&w.entry.customer)
	return []crm.Change[crm.Customer]{c.change(w)}, nil
}

// change says what w does to the cached customers.
func (c *Client) change(w webhook) crm.Change[crm.Customer] {
	ch := webhookChange(w, c.model, w.entry.customer.ID, w.entry.customer, w.entry.published)
	// The payload left the components out (v4 on some write paths): the
	// sync must read the customer again or lose its channels.
	ch.Partial = ch.Op == crm.Upsert && !w.entry.populated
	return ch
}

// webhookChange says what w does to the cached records of model when it
// is about record (id), published or not: DecodeWebhook's rules.
func webhookChange[T any](w webhook, model, id string, record T, published bool) crm.Change[T] {
	ch := crm.Change[T]{Event: w.name, ID: id}
	if !strings.EqualFold(w.model, model) {
		ch.Reason = "not a " + model
		return ch
	}
	switch w.name {
	case "entry.publish":
		ch.Op = crm.Upsert
	case "entry.create", "entry.update":
		if published {
			ch.Op = crm.Upsert
		}
	case "entry.unpublish":
		ch.Op = crm.Delete
	case "entry.delete":
		if published {
			ch.Op = crm.Delete
		}
	default:
		ch.Reason = "event not handled"
		return ch
	}
	switch ch.Op {
	case crm.Upsert:
		ch.Record = record
	case crm.Skip:
		ch.Reason = "draft"
	}
	return ch
}

// decodeWebhook is parseWebhook of a call whose X-Strapi-Event header
// names the payload's event.
func decodeWebhook(h http.Header, body []byte) (webhook, error) {
	w, err := parseWebhook(body)
	if err != nil {
		return webhook{}, err
	}
	if h.Get(eventHeader) != w.name {
		return webhook{}, fmt.Errorf("strapi webhook: %s does not match the payload's event %q", eventHeader, w.name)
	}
	return w, nil
}

// parseWebhook decodes a webhook body: {event, createdAt, model, uid,
// entry} (v3: created_at, no uid). The entry is flat in every version.
func parseWebhook(body []byte) (webhook, error) {
	var p struct {
		Event flexString      `json:"event"`
		Model flexString      `json:"model"`
		Entry json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return webhook{}, fmt.Errorf("strapi webhook: %w", err)
	}
	w := webhook{name: strings.TrimSpace(string(p.Event)), model: strings.TrimSpace(string(p.Model))}
	switch {
	case w.name == "":
		return webhook{}, errors.New("strapi webhook: no event")
	case len(w.name) > maxEventName:
		return webhook{}, errors.New("strapi webhook: event name too long")
	case !strings.HasPrefix(w.name, "entry."):
		// media.*, releases, review workflows: nothing to decode.
		return w, nil
	}
	raw := bytes.TrimSpace(p.Entry)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return webhook{}, fmt.Errorf("strapi webhook: %s without entry", w.name)
	}
	w.raw = raw
	e, err := parseEntry(raw)
	if err != nil {
		return webhook{}, fmt.Errorf("strapi webhook: %s entry: %w", w.name, err)
	}
	w.entry = e
	return w, nil
}
