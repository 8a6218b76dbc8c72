package crm_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crm/crmtest"
	"github.com/experthub/experthub/internal/inmem"
)

// source is a CRM that counts what it is asked and can be held or failed.
type source struct {
	customers map[string]crm.Customer // by id
	calls     atomic.Int32
	release   chan struct{} // when set, each call waits for it
	err       error
}

func newSource(cs ...crm.Customer) *source {
	s := &source{customers: map[string]crm.Customer{}}
	for _, c := range cs {
		s.customers[c.ID] = c
	}
	return s
}

func (s *source) wait(ctx context.Context) error {
	s.calls.Add(1)
	if s.release != nil {
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.err
}

// Pages is not what a Service asks; a call is a bug.
func (s *source) Pages(context.Context, string, func([]crm.Customer, string) error) error {
	return errors.New("fake source: Pages is not supported: a Service must not list the CRM")
}

func (s *source) CustomerByID(ctx context.Context, id string) (crm.Customer, error) {
	if err := s.wait(ctx); err != nil {
		return crm.Customer{}, err
	}
	if c, ok := s.customers[id]; ok {
		return c, nil
	}
	return crm.Customer{}, crm.ErrNotFound
}

func (s *source) CustomerByAddress(ctx context.Context, address string) (crm.Customer, error) {
	if err := s.wait(ctx); err != nil {
		return crm.Customer{}, err
	}
	for _, c := range s.customers {
		for _, a := range c.Addresses() {
			if a == address {
				return c, nil
			}
		}
	}
	return crm.Customer{}, crm.ErrNotFound
}

// brokenStore is a cache whose backend is down.
type brokenStore struct{ crm.Store }

var errDown = errors.New("firestore unavailable")

func (brokenStore) Get(context.Context, string) (crm.Customer, error) { return crm.Customer{}, errDown }
func (brokenStore) FindByAddress(context.Context, string) (crm.Customer, error) {
	return crm.Customer{}, errDown
}
func (brokenStore) Upsert(context.Context, ...crm.Customer) error { return errDown }

func TestServiceServesFromCacheWithoutCRM(t *testing.T) {
	ctx := context.Background()
	store := inmem.NewStore()
	if err := store.Upsert(ctx, crmtest.SampleCustomers()...); err != nil {
		t.Fatal(err)
	}
	src := newSource()
	src.err = errors.New("strapi is down")
	svc := crm.NewService(store, src, crm.ServiceOptions{})

	for _, addr := range []string{"+33 6 79 50 00 01", "0033679500001", "whatsapp:+33679500001"} {
		c, err := svc.CustomerByAddress(ctx, addr)
		if err != nil || c.DisplayName != "Maria Sanchez" {
			t.Errorf("CustomerByAddress(%q) = %q, %v", addr, c.DisplayName, err)
		}
	}
	c, err := svc.Customer(ctx, "3")
	if err != nil || c.DisplayName != "Susan Smith" {
		t.Errorf("Customer(3) = %q, %v", c.DisplayName, err)
	}
	if n := src.calls.Load(); n != 0 {
		t.Errorf("CRM asked %d times for customers the cache holds", n)
	}
}

func TestServiceReadThrough(t *testing.T) {
	ctx := context.Background()
	store := inmem.NewStore()
	newcomer := crm.Customer{ID: "42", DisplayName: "New Person", Channels: []crm.Channel{{Type: "sms", Value: "+14155550100"}}}
	src := newSource(newcomer)
	svc := crm.NewService(store, src, crm.ServiceOptions{})

	c, err := svc.CustomerByAddress(ctx, "+1 415 555 0100")
	if err != nil || c.ID != "42" {
		t.Fatalf("CustomerByAddress = %+v, %v", c, err)
	}
	cached, err := store.Get(ctx, "42")
	if err != nil || cached.DisplayName != "New Person" || cached.SyncedAt.IsZero() {
		t.Fatalf("read-through did not store the customer: %+v, %v", cached, err)
	}
	if _, err := svc.Customer(ctx, "42"); err != nil {
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("CRM asked %d times, want 1 (second lookup must hit the cache)", n)
	}
	if _, err := svc.Customer(ctx, "999"); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("unknown id: err = %v, want ErrNotFound", err)
	}
	if _, err := svc.CustomerByAddress(ctx, "not a number!"); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("bad address: err = %v, want ErrNotFound", err)
	}
}

func TestServiceCollapsesConcurrentMisses(t *testing.T) {
	ctx := context.Background()
	src := newSource(crm.Customer{ID: "7", DisplayName: "Seven", Channels: []crm.Channel{{Type: "sms", Value: "+33612345678"}}})
	src.release = make(chan struct{})
	svc := crm.NewService(inmem.NewStore(), src, crm.ServiceOptions{})

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := svc.CustomerByAddress(ctx, "whatsapp:+33612345678")
			if err == nil && c.ID != "7" {
				err = errors.New("wrong customer " + c.ID)
			}
			errs <- err
		}()
	}
	// Let every goroutine reach the load before it completes.
	for src.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(src.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := src.calls.Load(); got != 1 {
		t.Errorf("%d concurrent misses made %d CRM loads, want 1", n, got)
	}
}

func TestServiceFallsBackWhenCacheIsDown(t *testing.T) {
	ctx := context.Background()
	src := newSource(crmtest.SampleCustomers()...)
	svc := crm.NewService(brokenStore{}, src, crm.ServiceOptions{})
	c, err := svc.CustomerByAddress(ctx, "+447491000002")
	if err != nil || c.DisplayName != "Jo Anne" {
		t.Fatalf("CustomerByAddress with cache down = %+v, %v", c, err)
	}

	src.err = errors.New("strapi down too")
	_, err = svc.Customer(ctx, "1")
	if !errors.Is(err, errDown) || errors.Is(err, crm.ErrNotFound) {
		t.Errorf("both down: err = %v, want the cache error and not ErrNotFound", err)
	}

	noCRM := crm.NewService(brokenStore{}, nil, crm.ServiceOptions{})
	if _, err := noCRM.Customer(ctx, "1"); !errors.Is(err, errDown) {
		t.Errorf("cache down, no CRM: err = %v", err)
	}
}

func TestServiceInProcessLayer(t *testing.T) {
	ctx := context.Background()
	store := inmem.NewStore()
	if err := store.Upsert(ctx, crmtest.SampleCustomers()...); err != nil {
		t.Fatal(err)
	}
	src := newSource()
	svc := crm.NewService(store, src, crm.ServiceOptions{CacheTTL: time.Hour, CacheSize: 2})

	if _, err := svc.Customer(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	// A change behind the service's back is not seen while the entry lives…
	if err := store.Delete(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	if c, err := svc.Customer(ctx, "1"); err != nil || c.ID != "1" {
		t.Fatalf("in-process layer missed: %+v, %v", c, err)
	}
	// …and the layer is bounded: two more keys evict the first.
	for _, id := range []string{"2", "3"} {
		if _, err := svc.Customer(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Customer(ctx, "1"); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("evicted entry still served: err = %v", err)
	}
	// Unknown customers are remembered too, so Strapi is asked once.
	for range 3 {
		if _, err := svc.CustomerByAddress(ctx, "+4915112345678"); !errors.Is(err, crm.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if n := src.calls.Load(); n != 2 { // "1" after eviction, and the unknown number once
		t.Errorf("CRM asked %d times, want 2", n)
	}
}
