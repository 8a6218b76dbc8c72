package strapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/experthub/experthub/internal/crm"
)

var _ crm.TemplateSource = (*Client)(nil)

// templateFields are the attributes of a template record: category,
// content, whatsapp_approved and order.
type templateFields struct {
	Category         flexString      `json:"category"`
	Content          json.RawMessage `json:"content"`
	WhatsAppApproved json.RawMessage `json:"whatsapp_approved"`
	Order            flexString      `json:"order"`
	publication
}

// parseTemplate decodes one template record in any version's shape. Like
// parseEntry it is lenient about field types; a record without content is
// kept (the callback skips it) so a webhook still replaces the cached one.
func parseTemplate(raw []byte) (t crm.Template, published bool, err error) {
	var f templateFields
	r, _, err := decodeRecord(raw, &f)
	if err != nil {
		return crm.Template{}, false, err
	}
	t.ID = strings.TrimSpace(string(r.DocumentID))
	if t.ID == "" {
		t.ID = strings.TrimSpace(string(r.ID))
	}
	if t.ID == "" {
		return crm.Template{}, false, errors.New("template has no id")
	}
	t.Category = strings.TrimSpace(string(f.Category))
	t.Content = textField(f.Content)
	t.WhatsAppApproved = boolField(f.WhatsAppApproved)
	if n, err := strconv.Atoi(strings.TrimSpace(string(f.Order))); err == nil {
		t.Order = n
	}
	return t, f.published(), nil
}

// textField reads a plain text field; anything else (a rich-text blocks
// array, a number) gives "", which the callback leaves out.
func textField(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

// boolField reads a boolean field, also as the strings "true"/"false" or
// 1/0 a hand-made import may hold. Anything else is false: a template is
// approved only when the CRM clearly says so.
func boolField(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s flexString
	if json.Unmarshal(raw, &s) == nil {
		v, err := strconv.ParseBool(strings.TrimSpace(string(s)))
		return err == nil && v
	}
	return false
}

// templatesPath is the template collection's list route.
func (c *Client) templatesPath(v int) string {
	if v == 3 {
		return "/" + url.PathEscape(c.templates)
	}
	return "/api/" + url.PathEscape(c.templates)
}

// TemplatePages lists every published template, a page at a time, in
// keyset order of the record's key (documentId in v5, id before); the
// cursor is the last key. fn's error stops the listing. A Strapi without
// the template collection (404) gives an error wrapping crm.ErrNotFound.
func (c *Client) TemplatePages(ctx context.Context, after string, fn func(page []crm.Template, cursor string) error) error {
	v, err := c.Version(ctx)
	if err != nil {
		return err
	}
	field := c.keyField()
	for {
		q := url.Values{}
		if v == 3 {
			q.Set("_sort", "id:ASC")
			q.Set("_limit", strconv.Itoa(pageSize))
			if after != "" {
				q.Set("id_gt", after)
			}
		} else {
			q.Set("pagination[pageSize]", strconv.Itoa(pageSize))
			q.Set("pagination[withCount]", "false")
			q.Set("sort", field+":asc")
			if after != "" {
				q.Set("filters["+field+"][$gt]", after)
			}
		}
		page, rows, size, err := c.templatePage(ctx, v, q)
		if err != nil {
			return err
		}
		next := after
		for _, t := range page {
			next = t.ID
		}
		if rows > 0 && next == after {
			return fmt.Errorf("strapi: listing %s after %q made no progress; does the server ignore filters or sort?", c.templatesPath(v), after)
		}
		if len(page) > 0 {
			if err := fn(page, next); err != nil {
				return err
			}
		}
		if rows == 0 || size > 0 && rows < min(size, pageSize) {
			return nil
		}
		after = next
	}
}

// templatePage fetches one list page of templates, keeping the records
// whose key is numeric-ordered after the cursor as the server sent them.
func (c *Client) templatePage(ctx context.Context, v int, q url.Values) (page []crm.Template, rows, size int, err error) {
	path := c.templatesPath(v)
	body, err := c.get(ctx, v, path, q)
	var se *Error
	if errors.As(err, &se) && se.StatusCode == http.StatusNotFound {
		// No such content type: the CRM keeps no templates.
		return nil, 0, 0, fmt.Errorf("%w: %w", crm.ErrNotFound, err)
	}
	if err != nil {
		return nil, 0, 0, err
	}
	items, size, err := listItems(body)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("strapi: GET %s: %w", path, err)
	}
	for _, raw := range items {
		t, published, err := parseTemplate(raw)
		if err != nil || !published {
			continue
		}
		page = append(page, t)
	}
	return page, len(items), size, nil
}

// TemplateByID returns the published template with this key, or
// crm.ErrNotFound.
func (c *Client) TemplateByID(ctx context.Context, id string) (crm.Template, error) {
	return byID(ctx, c, id, func(v int, id string) (crm.Template, bool, error) {
		field := c.keyField()
		if v == 3 {
			field = "id"
		}
		page, _, _, err := c.templatePage(ctx, v, byField(v, field, id))
		if err != nil {
			return crm.Template{}, false, err
		}
		for _, t := range page {
			if t.ID == id {
				return t, true, nil
			}
		}
		return crm.Template{}, false, nil
	})
}

// IsTemplateWebhook reports whether a webhook body is about the template
// content type, so the sync hands it to the templates' decoder.
func (c *Client) IsTemplateWebhook(body []byte) bool {
	var p struct {
		Model flexString `json:"model"`
	}
	return json.Unmarshal(body, &p) == nil && strings.EqualFold(strings.TrimSpace(string(p.Model)), c.templateModel)
}

// DecodeTemplateWebhook decodes a webhook call about a template into the
// change it makes to the cached templates, by the rules DecodeWebhook
// applies to customers (publish stores, unpublish and delete of the live
// row remove, drafts change nothing).
func (c *Client) DecodeTemplateWebhook(h http.Header, body []byte) ([]crm.Change[crm.Template], error) {
	w, err := decodeWebhook(h, body)
	if err != nil {
		return nil, err
	}
	var t crm.Template
	published := false
	if strings.EqualFold(w.model, c.templateModel) {
		if t, published, err = parseTemplate(w.raw); err != nil {
			return nil, fmt.Errorf("strapi webhook: %s template: %w", w.name, err)
		}
	}
	return []crm.Change[crm.Template]{webhookChange(w, c.templateModel, t.ID, t, published)}, nil
}
