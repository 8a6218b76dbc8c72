package crm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/singleflight"
)

// Service answers customer lookups: an in-process layer, then the Store,
// then the Source, storing what the Source returns. Concurrent misses for
// one key make one load.
type Service struct {
	store  Store
	source Source // asked only when the cache misses; nil: the cache is the whole truth
	recent *recentCache
	loads  singleflight.Group
	log    *slog.Logger
	now    func() time.Time
}

// ServiceOptions tunes a Service.
type ServiceOptions struct {
	// CacheTTL is how long a lookup result stays in process; 0 disables the
	// in-process layer. Other instances may have changed the record since,
	// so keep it short.
	CacheTTL time.Duration
	// CacheSize bounds the in-process layer.
	CacheSize int
	Logger    *slog.Logger
	// Now is the in-process layer's clock; nil: time.Now. Tests drive
	// expiry with it.
	Now func() time.Time
}

// NewService returns a Service reading store, falling back to source
// (which may be nil).
func NewService(store Store, source Source, opts ServiceOptions) *Service {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, source: source, log: log, now: time.Now}
	if opts.Now != nil {
		s.now = opts.Now
	}
	if opts.CacheTTL > 0 && opts.CacheSize > 0 {
		s.recent = newRecentCache(opts.CacheSize, opts.CacheTTL)
	}
	return s
}

// Customer returns the customer with the given id.
func (s *Service) Customer(ctx context.Context, id string) (Customer, error) {
	if id == "" {
		return Customer{}, ErrNotFound
	}
	return s.lookup(ctx, "id:"+id,
		func(ctx context.Context) (Customer, error) { return s.store.Get(ctx, id) },
		func(ctx context.Context, src Source) (Customer, error) { return src.CustomerByID(ctx, id) })
}

// CustomerByAddress returns the customer reachable at address, in any of
// the forms NormalizeAddress accepts.
func (s *Service) CustomerByAddress(ctx context.Context, address string) (Customer, error) {
	a, err := NormalizeAddress(address)
	if err != nil {
		return Customer{}, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return s.lookup(ctx, "addr:"+a,
		func(ctx context.Context) (Customer, error) { return s.store.FindByAddress(ctx, a) },
		func(ctx context.Context, src Source) (Customer, error) { return src.CustomerByAddress(ctx, a) })
}

// Forget drops what the in-process layer knows about a customer the CRM
// just changed: its id and addresses (negative answers included: a
// just-created customer was "not found" until now), and every entry
// holding the customer under the same id or CRM key (its old addresses,
// its old id after a rename). The sync webhook calls it on the instance
// it reaches; the others see the change when their entries expire
// (CacheTTL).
func (s *Service) Forget(c Customer) int {
	keys := []string{"id:" + c.ID}
	for _, a := range c.Addresses() {
		keys = append(keys, "addr:"+a)
	}
	return s.recent.forget(keys, func(old Customer) bool {
		return old.ID == c.ID || c.SourceKey != "" && old.SourceKey == c.SourceKey
	})
}

// List returns one page of customers straight from the store: pages are
// not worth caching and the store answers them with one query.
func (s *Service) List(ctx context.Context, q ListQuery) (Page, error) {
	return s.store.List(ctx, q)
}

// lookupResult is what the in-process layer keeps: a customer, or the
// knowledge that there is none (so an unknown number texting many times
// does not ask Strapi each time).
type lookupResult struct {
	customer Customer
	found    bool
}

func (s *Service) lookup(ctx context.Context, key string,
	fromStore func(context.Context) (Customer, error),
	fromSource func(context.Context, Source) (Customer, error),
) (Customer, error) {
	if r, ok := s.recent.get(key, s.now()); ok {
		if !r.found {
			return Customer{}, ErrNotFound
		}
		return r.customer, nil
	}
	// The load is shared by every caller waiting on key, so it must not
	// die with the first caller's context; it keeps that caller's deadline.
	v, err, _ := s.loads.Do(key, func() (any, error) {
		// Read the deadline before detaching: a detached context has none.
		d, hasDeadline := ctx.Deadline()
		ctx := context.WithoutCancel(ctx)
		if hasDeadline {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, d)
			defer cancel()
		}
		return s.load(ctx, key, fromStore, fromSource)
	})
	if err != nil {
		return Customer{}, err
	}
	r := v.(lookupResult)
	if !r.found {
		return Customer{}, ErrNotFound
	}
	return r.customer, nil
}

func (s *Service) load(ctx context.Context, key string,
	fromStore func(context.Context) (Customer, error),
	fromSource func(context.Context, Source) (Customer, error),
) (lookupResult, error) {
	sctx, cancel := storeContext(ctx, s.source != nil)
	c, storeErr := fromStore(sctx)
	cancel()
	if storeErr == nil {
		r := lookupResult{customer: c, found: true}
		s.recent.put(key, r, s.now())
		return r, nil
	}
	missed := errors.Is(storeErr, ErrNotFound)
	if !missed {
		s.log.WarnContext(ctx, "customer cache unavailable, asking the CRM", "key", key, "err", storeErr)
	}
	if s.source == nil {
		if missed {
			s.recent.put(key, lookupResult{}, s.now())
			return lookupResult{}, nil
		}
		return lookupResult{}, fmt.Errorf("customer cache: %w", storeErr)
	}
	c, err := fromSource(ctx, s.source)
	switch {
	case errors.Is(err, ErrNotFound):
		s.recent.put(key, lookupResult{}, s.now())
		return lookupResult{}, nil
	case err != nil:
		if missed {
			return lookupResult{}, fmt.Errorf("crm: %w", err)
		}
		return lookupResult{}, fmt.Errorf("customer cache: %w; crm: %w", storeErr, err)
	}
	c.SyncedAt = s.now()
	if missed {
		// Only a healthy cache is worth writing to; a failed write costs
		// nothing but the next lookup's trip to the CRM.
		if err := s.store.Upsert(ctx, c); err != nil {
			s.log.WarnContext(ctx, "caching customer failed", "customer_id", c.ID, "err", err)
		}
	}
	r := lookupResult{customer: c, found: true}
	s.recent.put(key, r, s.now())
	return r, nil
}

// storeContext bounds a cache read that has the CRM to fall back on to
// half the time left, so that a cache that does not answer (Firestore
// unreachable: its client retries until the deadline) leaves the other
// half to the CRM.
func storeContext(ctx context.Context, fallback bool) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !fallback || !ok {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, time.Now().Add(time.Until(d)/2))
}
