package strapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/experthub/experthub/internal/crm"
)

// entry is one decoded Strapi record with what the shape told us about it.
type entry struct {
	customer crm.Customer
	// rowID is the record's id, which is also its key except in v5.
	rowID string
	// hasCustomerID is false when customer_id was absent or null and ID
	// fell back to the Strapi key.
	hasCustomerID bool
	// populated is true when the channels component was in the record
	// (lists with populate, webhook create/update/publish).
	populated bool
	// published is false only when the record says publishedAt (or v3's
	// published_at) is null; a record without the field has no Draft &
	// Publish and is therefore live.
	published bool
	// shape is 4 for a {id, attributes} record, 5 for a flat record with a
	// documentId, 0 otherwise (v3, or v4/v5 without enough to tell).
	shape int
}

// fields are the attributes of a customer, flat (v3, v5, webhooks) or
// inside v4's "attributes".
type fields struct {
	CustomerID  flexString      `json:"customer_id"`
	DisplayName flexString      `json:"display_name"`
	Avatar      flexString      `json:"avatar"`
	Worker      flexString      `json:"worker"`
	Channels    json.RawMessage `json:"channels"`
	Links       json.RawMessage `json:"links"`
	Details     json.RawMessage `json:"details"`
	publication
}

// publication is Draft & Publish's field, null on a draft; a record
// without it has no Draft & Publish and is therefore live.
type publication struct {
	PublishedAt json.RawMessage `json:"publishedAt"`
	// v3 spells its timestamps in snake_case.
	PublishedAtV3 json.RawMessage `json:"published_at"`
}

func (p publication) published() bool {
	return !isNull(p.PublishedAt) && !isNull(p.PublishedAtV3)
}

// keys are a record's keys: its id, and its documentId in v5.
type keys struct {
	ID         flexString `json:"id"`
	DocumentID flexString `json:"documentId"`
}

// decodeRecord decodes one record of any version's shape: its keys, and
// its attributes into fields, which are flat (v3, v5, webhooks) or, in
// v4, inside "attributes" (v4 then true). It fails only when raw is not
// an object or does not decode.
func decodeRecord(raw []byte, fields any) (k keys, v4 bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return keys{}, false, errors.New("record is not an object")
	}
	var r struct {
		keys
		Attributes json.RawMessage `json:"attributes"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return keys{}, false, err
	}
	// v4: the top level holds only id (and documentId when a v5 server
	// answers in the v4 format); everything else is in attributes.
	if v4 = isObject(r.Attributes); v4 {
		raw = r.Attributes
	}
	if err := json.Unmarshal(raw, fields); err != nil {
		return keys{}, false, err
	}
	return r.keys, v4, nil
}

var errNoKey = errors.New("record has neither customer_id nor id")

// parseEntry decodes one record in any version's shape. It is lenient
// about field types (a record with a number where a string belongs still
// syncs) because one odd record must not stop a sync of all the others;
// it fails only when raw is not an object or has no key at all.
func parseEntry(raw []byte) (entry, error) {
	var f fields
	r, v4, err := decodeRecord(raw, &f)
	if err != nil {
		return entry{}, err
	}
	var e entry
	switch {
	case v4:
		e.shape = 4
	case r.DocumentID != "":
		e.shape = 5
	}

	key := string(r.DocumentID)
	if key == "" {
		key = string(r.ID)
	}
	c := crm.Customer{
		ID:          strings.TrimSpace(string(f.CustomerID)),
		SourceKey:   key,
		DisplayName: strings.TrimSpace(string(f.DisplayName)),
		Avatar:      strings.TrimSpace(string(f.Avatar)),
		Worker:      strings.ToLower(strings.TrimSpace(string(f.Worker))),
		Channels:    decodeChannels(f.Channels),
		Links:       decodeLinks(f.Links),
		Details:     decodeDetails(f.Details),
	}
	e.hasCustomerID = c.ID != ""
	if !e.hasCustomerID {
		c.ID = fallbackID(string(r.DocumentID), string(r.ID))
	}
	if c.ID == "" {
		return entry{}, errNoKey
	}
	e.customer = c
	e.rowID = string(r.ID)
	e.populated = f.Channels != nil
	e.published = f.published()
	return e, nil
}

// fallbackID is the ID of a record without a customer_id: its documentId,
// or in v3/v4 "strapi-<id>", because a bare row id is a small integer that
// would collide with another customer's customer_id in the cache.
func fallbackID(documentID, id string) string {
	switch {
	case documentID != "":
		return documentID
	case id != "":
		return "strapi-" + id
	}
	return ""
}

// isNull reports whether a present field is JSON null; an absent field
// (nil) is not null.
func isNull(raw json.RawMessage) bool {
	return raw != nil && bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// decodeChannels reads the channels component, skipping rows without a
// value. Anything but an array of objects yields none.
func decodeChannels(raw json.RawMessage) []crm.Channel {
	return decodeRows(raw, func(ch struct {
		Type  flexString `json:"type"`
		Value flexString `json:"value"`
	}) (crm.Channel, bool) {
		v := strings.TrimSpace(string(ch.Value))
		return crm.Channel{Type: strings.ToLower(strings.TrimSpace(string(ch.Type))), Value: v}, v != ""
	})
}

// decodeLinks reads the links component, skipping rows without a value.
func decodeLinks(raw json.RawMessage) []crm.Link {
	return decodeRows(raw, func(l struct {
		Type        flexString `json:"type"`
		Value       flexString `json:"value"`
		DisplayName flexString `json:"display_name"`
	}) (crm.Link, bool) {
		return crm.Link{Type: string(l.Type), Value: string(l.Value), DisplayName: string(l.DisplayName)}, l.Value != ""
	})
}

// decodeRows reads a repeatable component: each row that is an object
// decoding as R, converted by convert unless it says to skip the row.
// Anything but an array yields none.
func decodeRows[R, T any](raw json.RawMessage, convert func(R) (T, bool)) []T {
	var rows []json.RawMessage
	if json.Unmarshal(raw, &rows) != nil {
		return nil
	}
	var out []T
	for _, row := range rows {
		var r R
		if !isObject(row) || json.Unmarshal(row, &r) != nil {
			continue
		}
		if t, ok := convert(r); ok {
			out = append(out, t)
		}
	}
	return out
}

// decodeDetails accepts the {title, content} component or a plain text
// field, which becomes the content.
func decodeDetails(raw json.RawMessage) *crm.Details {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return nil
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil || strings.TrimSpace(s) == "" {
			return nil
		}
		return &crm.Details{Content: s}
	case raw[0] == '{':
		var d struct {
			Title   flexString `json:"title"`
			Content flexString `json:"content"`
		}
		if json.Unmarshal(raw, &d) != nil || d.Title == "" && d.Content == "" {
			return nil
		}
		return &crm.Details{Title: string(d.Title), Content: string(d.Content)}
	}
	return nil
}

// flexString takes a JSON string or number as text. Null, booleans,
// objects and arrays give "" rather than an error, so one mistyped
// attribute does not lose the whole record.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch c := b[0]; {
	case c == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case c == '-' || c >= '0' && c <= '9':
		*s = flexString(numberText(string(b)))
	}
	return nil
}

// numberText renders a JSON number as a decimal integer when it is one
// (1, 1.0 and 1e0 are all customer 1) and keeps it as written otherwise.
func numberText(n string) string {
	if _, err := strconv.ParseInt(n, 10, 64); err == nil {
		return n
	}
	f, err := strconv.ParseFloat(n, 64)
	if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return n
}

// listPage is one decoded list response.
type listPage struct {
	entries []entry
	// rows is how many records the server sent, including ones we could
	// not use, for the end-of-list test.
	rows int
	// pageSize is the page size the server says it applied (v4/v5 meta);
	// 0 when it did not say (v3).
	pageSize int
}

// decodeList decodes a list response: v3's plain array or v4/v5's
// {data: [...], meta}. The shape, not the configured version, decides,
// so a misconfigured version still fails loudly rather than silently.
func decodeList(body []byte) (listPage, error) {
	items, size, err := listItems(body)
	if err != nil {
		return listPage{}, err
	}
	p := listPage{pageSize: size}
	p.rows = len(items)
	for _, raw := range items {
		e, err := parseEntry(raw)
		if err != nil {
			continue
		}
		p.entries = append(p.entries, e)
	}
	return p, nil
}

// listItems splits a list response into its records: v3's plain array or
// v4/v5's {data: [...], meta}, with the page size v4/v5 say they applied
// (0 when not said).
func listItems(body []byte) ([]json.RawMessage, int, error) {
	body = bytes.TrimSpace(body)
	var items []json.RawMessage
	switch {
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, 0, err
		}
		return items, 0, nil
	case len(body) > 0 && body[0] == '{':
		var env struct {
			Data json.RawMessage `json:"data"`
			Meta struct {
				Pagination struct {
					PageSize flexString `json:"pageSize"`
					Limit    flexString `json:"limit"`
				} `json:"pagination"`
			} `json:"meta"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, 0, err
		}
		d := bytes.TrimSpace(env.Data)
		if len(d) == 0 || d[0] != '[' {
			return nil, 0, errors.New("response has no data array")
		}
		if err := json.Unmarshal(d, &items); err != nil {
			return nil, 0, err
		}
		size := env.Meta.Pagination.PageSize
		if size == "" {
			size = env.Meta.Pagination.Limit
		}
		n, err := strconv.Atoi(string(size))
		if err != nil || n < 0 {
			n = 0
		}
		return items, n, nil
	}
	return nil, 0, errors.New("response is neither a list nor a data envelope")
}
