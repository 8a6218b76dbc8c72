package crmsync

import (
	"context"
	"time"

	"github.com/experthub/experthub/internal/crm"
)

// Customers returns the customer collection: customers read from src and
// cached in cache.
func Customers(src crm.Source, cache crm.Store) Collection[crm.Customer] {
	return customers{src: src, Store: cache}
}

// customers adapts the customer CRM and cache to Collection; the cache's
// Delete, DeleteSyncedBefore and checkpoint methods serve as they are.
type customers struct {
	src crm.Source
	crm.Store
}

func (c customers) Pages(ctx context.Context, after string, fn func([]crm.Customer, string) error) error {
	return c.src.Pages(ctx, after, fn)
}

func (c customers) Fetch(ctx context.Context, id string) (crm.Customer, error) {
	return c.src.CustomerByID(ctx, id)
}

// Put stamps the customers in place: a full sync's page is written once
// and dropped.
func (c customers) Put(ctx context.Context, t time.Time, cs ...crm.Customer) error {
	for i := range cs {
		cs[i].SyncedAt = t
	}
	return c.Upsert(ctx, cs...)
}

// DeleteReplaced removes the customers cached under c's CRM key with
// another id: the copy left behind when customer_id changed in the CRM.
func (c customers) DeleteReplaced(ctx context.Context, cu crm.Customer) ([]string, error) {
	if cu.SourceKey == "" {
		return nil, nil
	}
	same, err := c.FindBySourceKey(ctx, cu.SourceKey)
	if err != nil {
		return nil, err
	}
	var old []string
	for _, o := range same {
		if o.ID != cu.ID {
			old = append(old, o.ID)
		}
	}
	if len(old) == 0 {
		return nil, nil
	}
	if err := c.Delete(ctx, old...); err != nil {
		return nil, err
	}
	return old, nil
}

// Templates returns the template collection: templates read from src and
// cached in cache.
func Templates(src crm.TemplateSource, cache crm.TemplateStore) Collection[crm.Template] {
	return templates{src: src, cache: cache}
}

type templates struct {
	src   crm.TemplateSource
	cache crm.TemplateStore
}

func (t templates) Pages(ctx context.Context, after string, fn func([]crm.Template, string) error) error {
	return t.src.TemplatePages(ctx, after, fn)
}

func (t templates) Fetch(ctx context.Context, id string) (crm.Template, error) {
	return t.src.TemplateByID(ctx, id)
}

func (t templates) Put(ctx context.Context, at time.Time, ts ...crm.Template) error {
	for i := range ts {
		ts[i].SyncedAt = at
	}
	return t.cache.PutTemplates(ctx, ts...)
}

func (t templates) Delete(ctx context.Context, ids ...string) error {
	return t.cache.DeleteTemplates(ctx, ids...)
}

func (t templates) DeleteSyncedBefore(ctx context.Context, at time.Time) (int, error) {
	return t.cache.DeleteTemplatesSyncedBefore(ctx, at)
}

func (t templates) CountSyncedBefore(ctx context.Context, at time.Time) (int, error) {
	// A few hundred templates at most (Frontline lists them all): one read.
	ts, err := t.cache.Templates(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, tp := range ts {
		if tp.SyncedAt.Before(at) {
			n++
		}
	}
	return n, nil
}

func (t templates) SyncState(ctx context.Context) (crm.SyncState, error) {
	return t.cache.TemplateSyncState(ctx)
}

func (t templates) PutSyncState(ctx context.Context, s crm.SyncState) error {
	return t.cache.PutTemplateSyncState(ctx, s)
}
