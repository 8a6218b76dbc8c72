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

// render writes one row in the version's shape. populate selects the
// components (v3 always has them); fields, when set, the attributes.
func (s *Server) render(v view, populate map[string]bool, fields map[string]bool) object {
	attrs := s.attributes(v, populate, fields)
	switch s.version {
	case 3:
		return append(object{{"id", v.id}}, attrs...)
	case 4:
		return object{{"id", v.id}, {"attributes", attrs}}
	}
	return append(object{{"id", v.id}, {"documentId", v.docID}}, attrs...)
}

func (s *Server) attributes(v view, populate map[string]bool, fields map[string]bool) object {
	created, updated, published := "createdAt", "updatedAt", "publishedAt"
	if s.version == 3 {
		created, updated, published = "created_at", "updated_at", "published_at"
		populate = s.allComponents()
	}
	var o object
	add := func(name string, val any) {
		if fields == nil || fields[name] {
			o = append(o, kv{name, val})
		}
	}
	add("display_name", orNull(v.c.DisplayName))
	add("customer_id", customerIDJSON(v.c.ID))
	add("avatar", orNull(v.c.Avatar))
	if s.extras {
		add("worker", orNull(v.c.Worker))
	}
	comps := s.components(v, populate)
	if s.version == 3 {
		o = append(o, comps...)
	}
	add(created, timestamp(v.created))
	add(updated, timestamp(v.updated))
	add(published, timestamp(v.pubAt))
	if s.version != 3 {
		o = append(o, comps...)
	}
	return o
}

// components renders the populated components. Component rows get ids
// derived from the row id, so a v5 publish renumbers them as Strapi does.
func (s *Server) components(v view, populate map[string]bool) object {
	var o object
	if populate["channels"] {
		chs := make([]object, 0, len(v.c.Channels))
		for i, ch := range v.c.Channels {
			chs = append(chs, object{{"id", v.id*100 + i + 1}, {"type", ch.Type}, {"value", ch.Value}})
		}
		o = append(o, kv{"channels", chs})
	}
	if s.extras && populate["links"] {
		ls := make([]object, 0, len(v.c.Links))
		for i, l := range v.c.Links {
			ls = append(ls, object{{"id", v.id*100 + 50 + i}, {"type", l.Type}, {"value", l.Value}, {"display_name", l.DisplayName}})
		}
		o = append(o, kv{"links", ls})
	}
	if s.extras && populate["details"] {
		var d any
		if v.c.Details != nil {
			d = object{{"id", v.id*100 + 99}, {"title", v.c.Details.Title}, {"content", v.c.Details.Content}}
		}
		o = append(o, kv{"details", d})
	}
	return o
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
	populate := s.allComponents()
	if event == "entry.delete" || event == "entry.unpublish" {
		populate = map[string]bool{}
	}
	v := e.view()
	// Webhook entries are flat in every version, v4 included.
	entry := object{{"id", v.id}}
	if s.version == 5 {
		entry = append(entry, kv{"documentId", v.docID})
	}
	if s.version == 3 {
		entry = append(entry, s.attributes(v, populate, nil)...)
		if event == "entry.delete" || event == "entry.unpublish" {
			entry = withoutComponents(entry)
		}
		b, _ := json.Marshal(object{{"event", event}, {"created_at", timestamp(at)}, {"model", s.model}, {"entry", entry}})
		return b
	}
	entry = append(entry, s.attributes(v, populate, nil)...)
	b, _ := json.Marshal(object{{"event", event}, {"createdAt", timestamp(at)}, {"model", s.model},
		{"uid", "api::" + s.model + "." + s.model}, {"entry", entry}})
	return b
}

func withoutComponents(o object) object {
	out := o[:0:0]
	for _, f := range o {
		switch f.k {
		case "channels", "links", "details":
			continue
		}
		out = append(out, f)
	}
	return out
}

func (s *Server) allComponents() map[string]bool {
	m := map[string]bool{"channels": true}
	if s.extras {
		m["links"], m["details"] = true, true
	}
	return m
}
