package crmsync_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crmsync"
	"github.com/experthub/experthub/internal/inmem"
	"github.com/experthub/experthub/internal/strapi"
	"github.com/experthub/experthub/internal/strapitest"
)

func newStrapi(version, n int, extra ...strapitest.Option) *strapitest.Server {
	opts := []strapitest.Option{strapitest.WithCustomers(n), strapitest.WithExtraFields()}
	if version != 3 {
		// v3 has no API tokens; the stub is public instead.
		opts = append(opts, strapitest.WithAPIToken("tok"))
	}
	return strapitest.NewServer(version, append(opts, extra...)...)
}

// strapiClient reads s, and authenticates webhook calls by secret.
func strapiClient(s *strapitest.Server) *strapi.Client {
	cfg := strapi.Config{BaseURL: s.URL, HTTPClient: s.Client(), WebhookSecret: secret}
	if s.Version() != 3 {
		cfg.APIToken = "tok"
	}
	return strapi.New(cfg)
}

// cached returns every customer in the store, by ID, without SyncedAt.
func cached(t *testing.T, st *inmem.Store) []crm.Customer {
	t.Helper()
	var out []crm.Customer
	q := crm.ListQuery{Limit: 1000}
	for {
		p, err := st.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Customers {
			full, err := st.Get(context.Background(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			full.SyncedAt = time.Time{}
			out = append(out, full)
		}
		if p.Next == nil {
			break
		}
		q.After = p.Next
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func byID(cs []crm.Customer) []crm.Customer {
	out := append([]crm.Customer(nil), cs...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// assertSame fails unless the cache holds exactly Strapi's published
// customers.
func assertSame(t *testing.T, st *inmem.Store, s *strapitest.Server) {
	t.Helper()
	got, want := cached(t, st), byID(s.Customers())
	if len(got) != len(want) {
		t.Fatalf("cache has %d customers, Strapi %d", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("cache and Strapi differ:\n got %+v\nwant %+v", got[i], want[i])
		}
	}
}

// clock is a settable clock advancing one second per reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)} }

func TestFullSync(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			ctx := context.Background()
			s := newStrapi(v, 250)
			defer s.Close()
			s.Add(crm.Customer{DisplayName: "No customer_id", Channels: []crm.Channel{{Type: "sms", Value: "+33679509999"}}})
			st := inmem.NewStore()
			// Left over from earlier: a customer Strapi no longer has.
			st.Upsert(ctx, crm.Customer{ID: "9999", DisplayName: "Gone", SyncedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})

			var reports []crmsync.Progress
			sy := crmsync.New(crmsync.Customers(strapiClient(s), st), crmsync.Options{Now: newClock().Now,
				Progress: func(p crmsync.Progress) { reports = append(reports, p) }})
			p, err := sy.Full(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if p.Synced != 251 || p.Deleted != 1 || !p.Done || p.Resumed {
				t.Errorf("progress = %+v, want 251 synced, 1 deleted, done", p)
			}
			assertSame(t, st, s)
			// 3 pages with a customer_id, 1 without, and the final report.
			if len(reports) != 5 || reports[0].Synced != 100 || reports[3].Synced != 251 || !reports[4].Done || reports[4].Rate <= 0 {
				t.Errorf("reports = %+v", reports)
			}
			state, _ := st.SyncState(ctx)
			if !state.Done || state.RunStart.IsZero() {
				t.Errorf("state = %+v, want done", state)
			}

			// Changes in Strapi: deletions disappear, edits and additions show.
			for _, id := range []string{"1", "100", "101", "249"} {
				if _, err := s.Delete(id); err != nil {
					t.Fatal(err)
				}
			}
			s.Unpublish("7")
			s.Update("8", func(c *crm.Customer) {
				c.DisplayName = "Renamed"
				c.Channels = []crm.Channel{{Type: "whatsapp", Value: "+447491000008"}}
			})
			s.AddGenerated(30)
			p, err = sy.Full(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if p.Synced != 251-5+30 || p.Deleted != 5 {
				t.Errorf("second run = %+v, want %d synced, 5 deleted", p, 251-5+30)
			}
			assertSame(t, st, s)
			if c, err := st.FindByAddress(ctx, "+447491000008"); err != nil || c.DisplayName != "Renamed" {
				t.Errorf("renamed customer by new number = %+v, %v", c, err)
			}
		})
	}
}

func TestFullSyncResumesAfterStrapiFailure(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			ctx := context.Background()
			s := newStrapi(v, 250)
			defer s.Close()
			st := inmem.NewStore()
			old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			st.Upsert(ctx, crm.Customer{ID: "9999", DisplayName: "Gone", SyncedAt: old})
			c := strapiClient(s)
			c.Version(ctx) // detect before the fault counts requests
			sy := crmsync.New(crmsync.Customers(c, st), crmsync.Options{Now: newClock().Now})

			// Strapi goes down after two pages.
			s.InjectFault(strapitest.Fault{Route: strapitest.RouteList, After: 2, Status: 503})
			p, err := sy.Full(ctx)
			if err == nil || p.Synced != 200 || p.Done {
				t.Fatalf("interrupted run = %+v, %v; want an error after 200", p, err)
			}
			state, _ := st.SyncState(ctx)
			if state.Done || state.After != "200" {
				t.Fatalf("checkpoint = %+v, want after 200, not done", state)
			}
			if _, err := st.Get(ctx, "9999"); err != nil {
				t.Error("an interrupted run swept the cache")
			}

			// Meanwhile Strapi changes after the checkpoint.
			s.Delete("230")
			s.Update("240", func(c *crm.Customer) { c.DisplayName = "Changed" })
			s.AddGenerated(5)

			s.ClearFaults()
			p, err = sy.Full(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Resumed || p.Synced != 54 || p.Deleted != 1 || !p.Done {
				t.Errorf("resumed run = %+v, want resumed, 54 synced, 1 deleted", p)
			}
			resumed, _ := st.SyncState(ctx)
			if !resumed.RunStart.Equal(state.RunStart) {
				t.Errorf("resumed run changed RunStart %v → %v", state.RunStart, resumed.RunStart)
			}
			assertSame(t, st, s)

			// The next run starts afresh.
			if p, err := sy.Full(ctx); err != nil || p.Resumed || p.Synced != 254 {
				t.Errorf("next run = %+v, %v", p, err)
			}
		})
	}
}

// flaky fails the checkpoint write after a number of successes, as a
// Firestore outage or a function timeout mid-run would.
type flaky struct {
	*inmem.Store
	mu        sync.Mutex
	putsLeft  int
	upserts   int
	maxUpsert int
}

var errStore = errors.New("store unavailable")

func (f *flaky) PutSyncState(ctx context.Context, s crm.SyncState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.putsLeft == 0 {
		return errStore
	}
	f.putsLeft--
	return f.Store.PutSyncState(ctx, s)
}

func (f *flaky) Upsert(ctx context.Context, cs ...crm.Customer) error {
	f.mu.Lock()
	f.upserts++
	f.maxUpsert = max(f.maxUpsert, len(cs))
	f.mu.Unlock()
	return f.Store.Upsert(ctx, cs...)
}

func TestFullSyncResumesAfterStoreFailure(t *testing.T) {
	ctx := context.Background()
	s := newStrapi(5, 250)
	defer s.Close()
	f := &flaky{Store: inmem.NewStore(), putsLeft: 3} // start, page 1, page 2
	sy := crmsync.New(crmsync.Customers(strapiClient(s), f), crmsync.Options{})
	if _, err := sy.Full(ctx); !errors.Is(err, errStore) {
		t.Fatalf("err = %v, want the store error", err)
	}
	f.putsLeft = -1
	p, err := sy.Full(ctx)
	if err != nil || !p.Resumed {
		t.Fatalf("resumed = %+v, %v", p, err)
	}
	// Page 3 was written but not checkpointed, so it is written again.
	if p.Synced != 50 {
		t.Errorf("resumed run synced %d, want 50", p.Synced)
	}
	assertSame(t, f.Store, s)
	if f.maxUpsert > 100 {
		t.Errorf("an upsert held %d customers; memory must stay at one page", f.maxUpsert)
	}
}

// TestEmptyCRMGuard: a full sync that reads no record from the CRM (every
// record deleted while the webhooks were missed, or a wrong collection)
// keeps the cache, says so once at WARN with the number kept, and records
// it in the checkpoint; FullAllowEmpty empties the cache; the next run
// that reads records clears the mark. Customers and templates alike.
func TestEmptyCRMGuard(t *testing.T) {
	for _, name := range []string{"customers", "templates"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			customers := 0
			if name == "templates" {
				// Customers stay: a v5 Strapi whose customer collection is
				// empty cannot be told from a v4 one.
				customers = 2
			}
			s := newStrapi(5, customers)
			defer s.Close()
			c := strapiClient(s)
			var logs strings.Builder
			opts := crmsync.Options{Name: name, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Now: newClock().Now}
			st, tmpl := inmem.NewStore(), inmem.NewTemplates()
			var (
				full, allowEmpty func(context.Context) (crmsync.Progress, error)
				cached           func() int
				state            func() (crm.SyncState, error)
				add              func(i int)
				removeAll        func()
			)
			switch name {
			case "customers":
				sy := crmsync.New(crmsync.Customers(c, st), opts)
				full, allowEmpty, cached = sy.Full, sy.FullAllowEmpty, st.Len
				state = func() (crm.SyncState, error) { return st.SyncState(ctx) }
				add = func(i int) { s.Add(crm.Customer{ID: fmt.Sprint(i), DisplayName: fmt.Sprint("Customer ", i)}) }
				removeAll = func() {
					for _, cu := range s.Customers() {
						if _, err := s.Delete(cu.ID); err != nil {
							t.Fatal(err)
						}
					}
				}
			case "templates":
				sy := crmsync.New(crmsync.Templates(c, tmpl), opts)
				full, allowEmpty = sy.Full, sy.FullAllowEmpty
				cached = func() int { return len(templateContents(t, tmpl)) }
				state = func() (crm.SyncState, error) { return tmpl.TemplateSyncState(ctx) }
				add = func(i int) { s.AddTemplate(crm.Template{Content: fmt.Sprint("Template ", i), Order: i}) }
				removeAll = func() {
					for _, tp := range s.Templates() {
						if err := s.DeleteTemplate(tp.ID); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			warnings := func() int { return strings.Count(logs.String(), `"guard":"empty-crm"`) }

			// Nothing cached, nothing in the CRM: nothing kept, nothing to say.
			if p, err := full(ctx); err != nil || p.Kept != 0 || warnings() != 0 {
				t.Fatalf("empty cache and CRM: %+v, %v, %d warnings", p, err, warnings())
			}
			for i := range 3 {
				add(i + 1)
			}
			if p, err := full(ctx); err != nil || p.Synced != 3 || cached() != 3 {
				t.Fatalf("first sync: %+v, %v, %d cached", p, err, cached())
			}
			removeAll() // the webhooks are missed

			p, err := full(ctx)
			if err != nil || !p.Done || p.Deleted != 0 || p.Kept != 3 || cached() != 3 {
				t.Errorf("guarded sync = %+v, %v, %d cached; want 3 kept", p, err, cached())
			}
			if got, err := state(); err != nil || !got.Done || got.Kept != 3 {
				t.Errorf("checkpoint = %+v, %v; want done with 3 kept", got, err)
			}
			if n := warnings(); n != 1 || !strings.Contains(logs.String(), `"kept":3`) || !strings.Contains(logs.String(), `"collection":"`+name+`"`) {
				t.Errorf("%d guard warnings, want 1 naming the collection and the number kept:\n%s", n, logs.String())
			}

			p, err = allowEmpty(ctx)
			if err != nil || p.Deleted != 3 || p.Kept != 0 || cached() != 0 {
				t.Errorf("allow-empty sync = %+v, %v, %d cached; want 3 deleted, none cached", p, err, cached())
			}
			if got, err := state(); err != nil || !got.Done || got.Kept != 0 {
				t.Errorf("checkpoint after allow-empty = %+v, %v; want done, none kept", got, err)
			}

			// Kept again, then a run that reads records clears the mark.
			add(4)
			if _, err := full(ctx); err != nil {
				t.Fatal(err)
			}
			removeAll()
			if p, _ := full(ctx); p.Kept != 1 {
				t.Errorf("guard kept %d, want 1", p.Kept)
			}
			add(5)
			if p, err := full(ctx); err != nil || p.Kept != 0 || p.Deleted != 1 || cached() != 1 {
				t.Errorf("sync with records = %+v, %v, %d cached; want the stale one deleted", p, err, cached())
			}
			if got, _ := state(); got.Kept != 0 {
				t.Errorf("checkpoint still marks %d kept", got.Kept)
			}
			if warnings() != 2 {
				t.Errorf("%d guard warnings, want one per guarded run (2)", warnings())
			}
		})
	}
}

func TestFullSyncRefusesWhileRunning(t *testing.T) {
	ctx := context.Background()
	s := newStrapi(5, 150)
	defer s.Close()
	st := inmem.NewStore()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	sy := crmsync.New(crmsync.Customers(strapiClient(s), st), crmsync.Options{Progress: func(crmsync.Progress) {
		once.Do(func() { close(entered); <-release })
	}})
	done := make(chan error)
	go func() {
		_, err := sy.Full(ctx)
		done <- err
	}()
	<-entered
	if _, err := sy.Full(ctx); !errors.Is(err, crmsync.ErrRunning) {
		t.Errorf("second Full = %v, want ErrRunning", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	assertSame(t, st, s)
}

func TestFullSyncCancelled(t *testing.T) {
	s := newStrapi(5, 250, strapitest.WithLatency(20*time.Millisecond))
	defer s.Close()
	st := inmem.NewStore()
	ctx, cancel := context.WithCancel(context.Background())
	sy := crmsync.New(crmsync.Customers(strapiClient(s), st), crmsync.Options{Progress: func(p crmsync.Progress) {
		if p.Synced >= 100 {
			cancel()
		}
	}})
	if _, err := sy.Full(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	p, err := sy.Full(context.Background())
	if err != nil || !p.Resumed {
		t.Fatalf("after cancel: %+v, %v", p, err)
	}
	assertSame(t, st, s)
}

// BenchmarkFullSync syncs 2,000 customers from a Strapi answering each
// request in 2 ms (a real Strapi on SQLite takes about 20 ms a page).
func BenchmarkFullSync(b *testing.B) {
	s := newStrapi(5, 2000, strapitest.WithLatency(2*time.Millisecond))
	defer s.Close()
	c := strapiClient(s)
	for b.Loop() {
		if _, err := crmsync.New(crmsync.Customers(c, inmem.NewStore()), crmsync.Options{}).Full(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(2000*float64(b.N)/b.Elapsed().Seconds(), "customers/s")
}
