package strapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/experthub/experthub/internal/crm"
)

// Event is a Strapi webhook call, in any version's payload.
type Event struct {
	// Name is the event: entry.create, entry.update, entry.delete,
	// entry.publish, entry.unpublish, media.create…
	Name string
	// Model is the content type's singular API id ("customer"); empty for
	// media events.
	Model string
	// Customer is the entry. Delete and unpublish payloads carry no
	// components, so Channels is then empty.
	Customer crm.Customer
	// Published is false when the entry is a draft save (publishedAt
	// null); entries of a type without Draft & Publish are published.
	Published bool
	// Populated reports whether the entry carried its channels component.
	// When it did not (v4 leaves components out on some write paths),
	// re-read the customer before caching it.
	Populated bool
}

// maxEventName bounds an event name; real ones are under 30 bytes.
const maxEventName = 64

// ParseWebhook decodes a webhook body: {event, createdAt, model, uid,
// entry} (v3: created_at, no uid). The entry is flat in every version.
func ParseWebhook(body []byte) (Event, error) {
	var p struct {
		Event flexString      `json:"event"`
		Model flexString      `json:"model"`
		Entry json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, fmt.Errorf("strapi webhook: %w", err)
	}
	ev := Event{Name: strings.TrimSpace(string(p.Event)), Model: strings.TrimSpace(string(p.Model))}
	switch {
	case ev.Name == "":
		return Event{}, errors.New("strapi webhook: no event")
	case len(ev.Name) > maxEventName:
		return Event{}, errors.New("strapi webhook: event name too long")
	case !strings.HasPrefix(ev.Name, "entry."):
		// media.*, releases, review workflows: nothing to decode.
		return ev, nil
	}
	raw := bytes.TrimSpace(p.Entry)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return Event{}, fmt.Errorf("strapi webhook: %s without entry", ev.Name)
	}
	e, err := parseEntry(raw)
	if err != nil {
		return Event{}, fmt.Errorf("strapi webhook: %s entry: %w", ev.Name, err)
	}
	ev.Customer = e.customer
	ev.Published = e.published
	ev.Populated = e.populated
	return ev, nil
}
