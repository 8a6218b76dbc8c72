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
