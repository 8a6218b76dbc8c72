package strapitest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/experthub/experthub/internal/crm"
)

// RouteTemplates is the template collection's list route, counted by
// Requests.
const RouteTemplates = "templates"

// The template collection ("templates", model "template"; fields category
// text, content text, whatsapp_approved boolean, order integer; Draft &
// Publish) answers the queries internal/strapi's TemplatePages and
// TemplateByID send:
//
//	v4/v5  pagination[pageSize]=<n>[&pagination[withCount]=false][&sort=<key>:asc]
//	       [&filters[<key>][$gt]=<key value>][&filters[<key>][$eq]=<key value>]   (key: id, or documentId in v5)
//	v3     [_sort=id:ASC&]_limit=<n>[&id_gt=<id>][&id=<id>]

// templateRecord is a stored template.
type templateRecord struct {
	id        int
	draftID   int
	docID     string
	t         crm.Template
	published bool
	created   time.Time
	updated   time.Time
	pubAt     time.Time
}

// key is the template's Strapi key: documentId in v5, id otherwise.
func (r *templateRecord) key() string {
	if r.docID != "" {
		return r.docID
	}
	return strconv.Itoa(r.id)
}

// AddTemplate stores a published template (its ID is ignored: Strapi
// gives the key) and returns it with its key as ID, as the client reads it.
func (s *Server) AddTemplate(t crm.Template) crm.Template { return s.addTemplate(t, true) }

// AddTemplateDraft stores an unpublished template.
func (s *Server) AddTemplateDraft(t crm.Template) crm.Template { return s.addTemplate(t, false) }

func (s *Server) addTemplate(t crm.Template, published bool) crm.Template {
	s.mu.Lock()
	now := s.tick()
	r := &templateRecord{t: cleanTemplate(t), created: now, updated: now}
	var events []event
	if s.version == 5 {
		r.docID, r.draftID = s.newDocumentID(), s.newRow()
		events = append(events, s.templateEvent("entry.create", r, false))
		if published {
			r.published, r.id, r.pubAt = true, s.newRow(), s.tick()
			events = append(events, s.templateEvent("entry.publish", r, true))
		}
	} else {
		r.id = s.newRow()
		if published {
			r.published, r.pubAt = true, now
		}
		events = append(events, s.templateEvent("entry.create", r, published))
	}
	s.templates = append(s.templates, r)
	out := r.template()
	s.mu.Unlock()
	s.emit(events)
	return out
}

func cleanTemplate(t crm.Template) crm.Template {
	t.ID, t.SyncedAt = "", time.Time{}
	return t
}

func (r *templateRecord) template() crm.Template {
	t := r.t
	t.ID = r.key()
	return t
}

// Templates returns the published templates as the client decodes them.
func (s *Server) Templates() []crm.Template {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []crm.Template
	for _, r := range s.templates {
		if r.published {
			out = append(out, r.template())
		}
	}
	return out
}

// UpdateTemplate edits a template by key, as a PUT does (v5: saved and
// published again).
func (s *Server) UpdateTemplate(key string, edit func(*crm.Template)) error {
	return s.changeTemplate(key, func(r *templateRecord) []event {
		edit(&r.t)
		r.t, r.updated = cleanTemplate(r.t), s.tick()
		if s.version != 5 {
			return []event{s.templateEvent("entry.update", r, r.published)}
		}
		events := []event{s.templateEvent("entry.update", r, false)}
		if r.published {
			r.id, r.pubAt = s.newRow(), s.tick()
			events = append(events, s.templateEvent("entry.publish", r, true))
		}
		return events
	})
}

// DeleteTemplate removes a template by key (v5: the draft row's
// entry.delete, then the published row's).
func (s *Server) DeleteTemplate(key string) error {
	return s.changeTemplate(key, func(r *templateRecord) []event {
		s.templates = slices.DeleteFunc(s.templates, func(x *templateRecord) bool { return x == r })
		var events []event
		if s.version == 5 {
			events = append(events, s.templateEvent("entry.delete", r, false))
		}
		if s.version != 5 || r.published {
			events = append(events, s.templateEvent("entry.delete", r, r.published))
		}
		return events
	})
}

func (s *Server) changeTemplate(key string, fn func(*templateRecord) []event) error {
	s.mu.Lock()
	i := slices.IndexFunc(s.templates, func(r *templateRecord) bool { return r.key() == key })
	if i < 0 {
		s.mu.Unlock()
		return fmt.Errorf("strapitest: no template %q", key)
	}
	events := fn(s.templates[i])
	s.mu.Unlock()
	s.emit(events)
	return nil
}

// templateRow renders a template row; published picks v5's published row
// (else its draft row).
func (s *Server) templateRow(r *templateRecord, published bool) (id int, attrs object) {
	id, pubAt := r.id, r.pubAt
	if s.version == 5 && !published {
		id, pubAt = r.draftID, time.Time{}
	}
	attrs = object{{"category", orNull(r.t.Category)}, {"content", orNull(r.t.Content)},
		{"whatsapp_approved", r.t.WhatsAppApproved}, {"order", r.t.Order}}
	if s.version == 3 {
		return id, append(attrs, kv{"created_at", timestamp(r.created)}, kv{"updated_at", timestamp(r.updated)},
			kv{"published_at", timestamp(pubAt)})
	}
	return id, append(attrs, kv{"createdAt", timestamp(r.created)}, kv{"updatedAt", timestamp(r.updated)},
		kv{"publishedAt", timestamp(pubAt)})
}

// templateEvent builds a template webhook; callers hold mu.
func (s *Server) templateEvent(name string, r *templateRecord, published bool) event {
	if s.hook == nil {
		return event{}
	}
	id, attrs := s.templateRow(r, published)
	entry := object{{"id", id}}
	if s.version == 5 {
		entry = append(entry, kv{"documentId", r.docID})
	}
	entry = append(entry, attrs...)
	var b []byte
	if s.version == 3 {
		b, _ = json.Marshal(object{{"event", name}, {"created_at", timestamp(s.clock)}, {"model", "template"}, {"entry", entry}})
	} else {
		b, _ = json.Marshal(object{{"event", name}, {"createdAt", timestamp(s.clock)}, {"model", "template"},
			{"uid", "api::template.template"}, {"entry", entry}})
	}
	return event{name: name, body: b}
}

// templateQuery is a parsed template list query.
type templateQuery struct {
	size int
	gt   string
	eq   string
}

func (s *Server) parseTemplateQuery(q url.Values) (templateQuery, *apiError) {
	tq := templateQuery{size: s.defaultLimit}
	p := s.templateParams()
	for _, k := range slices.Sorted(maps.Keys(q)) {
		vals := q[k]
		if len(vals) != 1 {
			return tq, s.unsupported(k, vals)
		}
		v := vals[0]
		ok := true
		switch k {
		case p.limit:
			ok = positive(v, &tq.size)
		case p.sort:
			ok = v == p.sortValue
		case p.withCount:
			ok = k != "" && v == "false"
		case p.gt:
			tq.gt = v
		case p.eq:
			tq.eq = v
		default:
			ok = false
		}
		if !ok {
			return tq, s.unsupported(k, vals)
		}
	}
	if s.maxLimit > 0 {
		tq.size = min(tq.size, s.maxLimit)
	}
	return tq, nil
}

// templateParams are the names of the list parameters the server's
// Strapi version takes for templates (v3 has no withCount).
type templateParams struct {
	limit, sort, sortValue, withCount, gt, eq string
}

func (s *Server) templateParams() templateParams {
	if s.version == 3 {
		return templateParams{limit: "_limit", sort: "_sort", sortValue: "id:ASC", gt: "id_gt", eq: "id"}
	}
	key := "id"
	if s.version == 5 {
		key = "documentId"
	}
	return templateParams{
		limit: "pagination[pageSize]", sort: "sort", sortValue: key + ":asc", withCount: "pagination[withCount]",
		gt: "filters[" + key + "][$gt]", eq: "filters[" + key + "][$eq]",
	}
}

// listTemplates answers the template list route; callers checked auth
// and hold s.mu.
func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) {
	tq, apiErr := s.parseTemplateQuery(r.URL.Query())
	if apiErr != nil {
		s.writeError(w, http.StatusBadRequest, apiErr.name, apiErr.msg)
		return
	}
	keyOf := func(r *templateRecord) value {
		if s.version == 5 {
			return value{s: r.docID}
		}
		return value{num: true, n: int64(r.id)}
	}
	parse := intValue
	if s.version == 5 {
		parse = func(v string) value { return value{s: v} }
	}
	var rows []*templateRecord
	for _, r := range s.templates {
		switch {
		case !r.published:
		case tq.gt != "" && compareValues(keyOf(r), parse(tq.gt)) <= 0:
		case tq.eq != "" && compareValues(keyOf(r), parse(tq.eq)) != 0:
		default:
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(a, b *templateRecord) int { return cmp.Or(compareValues(keyOf(a), keyOf(b)), a.id-b.id) })
	rows = rows[:min(len(rows), tq.size)]
	data := make([]object, 0, len(rows))
	for _, r := range rows {
		id, attrs := s.templateRow(r, true)
		switch s.version {
		case 3:
			data = append(data, append(object{{"id", id}}, attrs...))
		case 4:
			data = append(data, object{{"id", id}, {"attributes", attrs}})
		default:
			data = append(data, append(object{{"id", id}, {"documentId", r.docID}}, attrs...))
		}
	}
	s.writeList(w, data, object{{"page", 1}, {"pageSize", tq.size}})
}

// isTemplatesPath reports whether path is the template list route.
func (s *Server) isTemplatesPath(path string) bool {
	if s.version == 3 {
		return path == "/templates"
	}
	return path == "/api/templates"
}
