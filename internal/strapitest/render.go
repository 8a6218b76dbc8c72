package strapitest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/experthub/experthub/internal/crm"
)

// kv and object write JSON objects with keys in Strapi's order, so
// answers read like the real ones.
type kv struct {
	k string
	v any
}

type object []kv

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.k)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// view is one row as a request sees it: v5's draft and published rows of
// a document differ in id and publishedAt.
type view struct {
	id      int
	docID   string
	c       crm.Customer
	created time.Time
	updated time.Time
	pubAt   time.Time // zero: null
}

func (e Entry) view() view {
	return view{id: e.ID, docID: e.DocumentID, c: e.Customer, created: e.CreatedAt, updated: e.UpdatedAt, pubAt: e.PublishedAt}
}

// view is the published row of r, sharing its components instead of
// copying them: list views live under s.mu only.
func (r *record) view() view {
	return view{id: r.id, docID: r.docID, c: r.c, created: r.created, updated: r.updated, pubAt: r.pubAt}
}

func timestamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// customerIDJSON writes customer_id as the integer it is, a string for a
// non-integer (as the seed's data had), or null.
func customerIDJSON(id string) any {
	if id == "" {
		return nil
	}
	if _, err := strconv.ParseInt(id, 10, 64); err == nil {
		return json.Number(id)
	}
	return id
}

// render writes one row in the version's shape, with the components when
// populate is set (v3 always sets it).
func (s *Server) render(v view, populate bool) object {
	attrs := s.attributes(v, populate)
	switch s.version {
	case 3:
		return append(object{{"id", v.id}}, attrs...)
	case 4:
		return object{{"id", v.id}, {"attributes", attrs}}
	}
	return append(object{{"id", v.id}, {"documentId", v.docID}}, attrs...)
}

func (s *Server) attributes(v view, populate bool) object {
	o := object{{"display_name", orNull(v.c.DisplayName)}, {"customer_id", customerIDJSON(v.c.ID)}, {"avatar", orNull(v.c.Avatar)}}
	if s.extras {
		o = append(o, kv{"worker", orNull(v.c.Worker)})
	}
	var comps object
	if populate {
		comps = s.components(v)
	}
	if s.version == 3 {
		o = append(o, comps...)
		return append(o, kv{"created_at", timestamp(v.created)}, kv{"updated_at", timestamp(v.updated)},
			kv{"published_at", timestamp(v.pubAt)})
	}
	o = append(o, kv{"createdAt", timestamp(v.created)}, kv{"updatedAt", timestamp(v.updated)},
		kv{"publishedAt", timestamp(v.pubAt)})
	return append(o, comps...)
}

// components renders the components. Component rows get ids derived from
// the row id, so a v5 publish renumbers them as Strapi does.
func (s *Server) components(v view) object {
	chs := make([]object, 0, len(v.c.Channels))
	for i, ch := range v.c.Channels {
		chs = append(chs, object{{"id", v.id*100 + i + 1}, {"type", ch.Type}, {"value", ch.Value}})
	}
	o := object{{"channels", chs}}
	if !s.extras {
		return o
	}
	ls := make([]object, 0, len(v.c.Links))
	for i, l := range v.c.Links {
		ls = append(ls, object{{"id", v.id*100 + 50 + i}, {"type", l.Type}, {"value", l.Value}, {"display_name", l.DisplayName}})
	}
	var d any
	if v.c.Details != nil {
		d = object{{"id", v.id*100 + 99}, {"title", v.c.Details.Title}, {"content", v.c.Details.Content}}
	}
	return append(o, kv{"links", ls}, kv{"details", d})
}

// WebhookBody returns the payload Strapi posts for event about e, in the
// server's version: {event, createdAt, model, uid, entry} (v3: created_at
// and no uid). As in Strapi, entry.delete and entry.unpublish carry no
// components.
func (s *Server) WebhookBody(event string, e Entry) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhookBody(event, e, s.clock)
}

func (s *Server) webhookBody(event string, e Entry, at time.Time) []byte {
	populate := event != "entry.delete" && event != "entry.unpublish"
	v := e.view()
	// Webhook entries are flat in every version, v4 included.
	entry := object{{"id", v.id}}
	if s.version == 5 {
		entry = append(entry, kv{"documentId", v.docID})
	}
	entry = append(entry, s.attributes(v, populate)...)
	if s.version == 3 {
		b, _ := json.Marshal(object{{"event", event}, {"created_at", timestamp(at)}, {"model", s.model}, {"entry", entry}})
		return b
	}
	b, _ := json.Marshal(object{{"event", event}, {"createdAt", timestamp(at)}, {"model", s.model},
		{"uid", "api::" + s.model + "." + s.model}, {"entry", entry}})
	return b
}
