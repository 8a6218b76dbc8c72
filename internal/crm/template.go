package crm

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// Template is a message a Frontline worker can pick from the templates
// list (the Frontline templates callback), kept in the CRM and cached like
// the customers.
type Template struct {
	// ID is the record's key in the CRM (Strapi documentId in v5, id in
	// v3/v4).
	ID string
	// Category groups templates under one heading ("Openers").
	Category string
	// Content is the text, with placeholders such as
	// {{customer.display_name}} the templates callback fills in.
	Content string
	// WhatsAppApproved says the text is a template WhatsApp approved:
	// outside WhatsApp's 24-hour window only those may be sent.
	WhatsAppApproved bool
	// Order sorts templates within a category and categories among
	// themselves (a category sorts by its smallest Order).
	Order int
	// SyncedAt is when the record was last copied from the CRM.
	SyncedAt time.Time
}

// TemplateStore is the template cache: what the templates callback reads,
// what the sync writes, and the checkpoint of its full sync, kept apart
// from the customers' one.
type TemplateStore interface {
	// Templates returns every cached template, sorted by SortTemplates.
	Templates(ctx context.Context) ([]Template, error)
	PutTemplates(ctx context.Context, ts ...Template) error
	// DeleteTemplates removes templates; unknown ids are ignored.
	DeleteTemplates(ctx context.Context, ids ...string) error
	// DeleteTemplatesSyncedBefore removes the templates stamped before t
	// and returns how many went.
	DeleteTemplatesSyncedBefore(ctx context.Context, t time.Time) (int, error)
	// TemplateSyncState returns the checkpoint, or the zero state if none
	// was stored.
	TemplateSyncState(ctx context.Context) (SyncState, error)
	PutTemplateSyncState(ctx context.Context, s SyncState) error
}

// TemplateSource is a CRM that keeps templates.
type TemplateSource interface {
	// TemplatePages calls fn with each page of templates and the cursor
	// to resume after it, as Source.Pages does.
	TemplatePages(ctx context.Context, after string, fn func(page []Template, cursor string) error) error
	// TemplateByID returns one template, or ErrNotFound.
	TemplateByID(ctx context.Context, id string) (Template, error)
}

// SortTemplates orders templates by Order, then category, then id, so
// every store and every instance answers in one order.
func SortTemplates(ts []Template) {
	slices.SortFunc(ts, func(a, b Template) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), strings.Compare(a.Category, b.Category), strings.Compare(a.ID, b.ID))
	})
}
