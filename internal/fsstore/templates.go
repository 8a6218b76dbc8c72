package fsstore

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/experthub/experthub/internal/crm"
)

// maxTemplates bounds a read of the template collection: Frontline shows
// them in one list, so a few hundred is already more than a worker scrolls.
const maxTemplates = 1000

// TemplateStore is the Firestore template cache (see the package
// documentation for its layout). It is safe for concurrent use.
type TemplateStore struct {
	client *firestore.Client
	col    *firestore.CollectionRef
	state  *firestore.DocumentRef
	err    error
}

var _ crm.TemplateStore = (*TemplateStore)(nil)

// NewTemplateStore returns the template store beside the customer
// collection customers (DefaultCollection if empty).
func NewTemplateStore(client *firestore.Client, customers string) *TemplateStore {
	if customers == "" {
		customers = DefaultCollection
	}
	name := customers + "_templates"
	if !validCollection(name) {
		return &TemplateStore{err: fmt.Errorf("firestore: invalid collection id %q", name)}
	}
	return &TemplateStore{
		client: client,
		col:    client.Collection(name),
		state:  client.Collection(stateCollection).Doc("crm_sync_" + name),
	}
}

// templateDoc returns the stored form of a template.
func templateDoc(t crm.Template) templateDocument {
	return templateDocument{Category: t.Category, Content: t.Content,
		WhatsAppApproved: t.WhatsAppApproved, Order: t.Order, SyncedAt: t.SyncedAt}
}

type templateDocument struct {
	Category         string    `firestore:"category"`
	Content          string    `firestore:"content"`
	WhatsAppApproved bool      `firestore:"whatsapp_approved"`
	Order            int       `firestore:"order"`
	SyncedAt         time.Time `firestore:"synced_at"`
}

// Templates returns every template, sorted by crm.SortTemplates.
func (s *TemplateStore) Templates(ctx context.Context) ([]crm.Template, error) {
	if s.err != nil {
		return nil, s.err
	}
	snaps, err := s.col.Limit(maxTemplates).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("read templates: %w", err)
	}
	out := make([]crm.Template, 0, len(snaps))
	for _, snap := range snaps {
		var d templateDocument
		if err := snap.DataTo(&d); err != nil {
			continue // written by hand, perhaps: skip it rather than lose them all
		}
		out = append(out, crm.Template{
			ID: unescape(snap.Ref.ID), Category: d.Category, Content: d.Content,
			WhatsAppApproved: d.WhatsAppApproved, Order: d.Order, SyncedAt: d.SyncedAt,
		})
	}
	crm.SortTemplates(out)
	return out, nil
}

// PutTemplates writes templates, replacing any with the same id. Nothing
// is written unless every id is usable.
func (s *TemplateStore) PutTemplates(ctx context.Context, ts ...crm.Template) error {
	if s.err != nil {
		return s.err
	}
	refs := make([]*firestore.DocumentRef, len(ts))
	for i, t := range ts {
		id, ok := DocID(t.ID)
		if !ok {
			return fmt.Errorf("put templates: invalid template id %q", t.ID)
		}
		refs[i] = s.col.Doc(id)
	}
	// Templates are few: one write each (a page is at most 100), in a
	// BulkWriter when there are several.
	if len(ts) == 1 {
		if _, err := refs[0].Set(ctx, templateDoc(ts[0])); err != nil {
			return fmt.Errorf("put template: %w", err)
		}
		return nil
	}
	out := bulk(ctx, s.client, len(ts), func(bw *firestore.BulkWriter, i int) (*firestore.BulkWriterJob, error) {
		return bw.Set(refs[i], templateDoc(ts[i]))
	})
	if err := out.err(); err != nil {
		return fmt.Errorf("put templates: %w", err)
	}
	return nil
}

// DeleteTemplates removes templates; unknown ids are ignored.
func (s *TemplateStore) DeleteTemplates(ctx context.Context, ids ...string) error {
	if s.err != nil {
		return s.err
	}
	for _, id := range ids {
		docID, ok := DocID(id)
		if !ok {
			continue
		}
		if _, err := s.col.Doc(docID).Delete(ctx); err != nil {
			return fmt.Errorf("delete template: %w", err)
		}
	}
	return nil
}

// DeleteTemplatesSyncedBefore removes the templates stamped before t, each
// only if unchanged since read, as the customers' sweep does.
func (s *TemplateStore) DeleteTemplatesSyncedBefore(ctx context.Context, t time.Time) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	snaps, err := s.col.Where("synced_at", "<", t).Select().Documents(ctx).GetAll()
	if err != nil {
		return 0, fmt.Errorf("delete templates synced before %v: %w", t, err)
	}
	n := 0
	for _, snap := range snaps {
		_, err := snap.Ref.Delete(ctx, firestore.LastUpdateTime(snap.UpdateTime))
		switch {
		case err == nil:
			n++
		case status.Code(err) == codes.FailedPrecondition:
			// Rewritten by a webhook since the query read it.
		default:
			return n, fmt.Errorf("delete templates synced before %v: %w", t, err)
		}
	}
	return n, nil
}

// TemplateSyncState returns the checkpoint, or the zero state.
func (s *TemplateStore) TemplateSyncState(ctx context.Context) (crm.SyncState, error) {
	if s.err != nil {
		return crm.SyncState{}, s.err
	}
	return readState(ctx, s.state)
}

// PutTemplateSyncState stores the checkpoint.
func (s *TemplateStore) PutTemplateSyncState(ctx context.Context, st crm.SyncState) error {
	if s.err != nil {
		return s.err
	}
	return writeState(ctx, s.state, st, "template sync state")
}

// unescape reverses DocID.
func unescape(docID string) string {
	if id, err := url.PathUnescape(docID); err == nil {
		return id
	}
	return docID
}
