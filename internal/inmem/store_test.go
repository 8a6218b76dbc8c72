package inmem_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crm/crmtest"
	"github.com/experthub/experthub/internal/inmem"
	"github.com/experthub/experthub/internal/waitline"
	"github.com/experthub/experthub/internal/waitline/waitlinetest"
)

func TestStore(t *testing.T) {
	crmtest.TestStore(t, func(*testing.T) crm.Store { return inmem.NewStore() })
}

func TestLen(t *testing.T) {
	s := inmem.NewStore()
	if err := s.Upsert(t.Context(), crmtest.SampleCustomers()...); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "2"); err != nil {
		t.Fatal(err)
	}
	if got := s.Len(); got != 2 {
		t.Errorf("Len() = %d, want 2", got)
	}
}

// TestLargeWorkerList checks that a worker's page is right when their
// customers are spread thinly among many others' (the B-tree per owner).
func TestLargeWorkerList(t *testing.T) {
	ctx := t.Context()
	s := inmem.NewStore()
	cs := crmtest.GenerateCustomers(20_000, time.Time{})
	if err := s.Upsert(ctx, cs...); err != nil {
		t.Fatal(err)
	}
	var n int
	q := crm.ListQuery{Worker: "worker7@example.com", Limit: 500}
	for {
		page, err := s.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Customers {
			if c.Worker != "" && c.Worker != "worker7@example.com" {
				t.Fatalf("customer %s of %q listed for worker7", c.ID, c.Worker)
			}
		}
		n += len(page.Customers)
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	// One in three is unowned; of the others, those with i%10 == 7.
	var want int
	for i := range cs {
		if i%3 == 0 || i%10 == 7 {
			want++
		}
	}
	if n != want {
		t.Errorf("worker7 sees %d customers, want %d", n, want)
	}
}

func loaded(b *testing.B, n int) *inmem.Store {
	b.Helper()
	s := inmem.NewStore()
	if err := s.Upsert(b.Context(), crmtest.GenerateCustomers(n, time.Time{})...); err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkGet(b *testing.B) {
	s := loaded(b, 100_000)
	for i := 0; b.Loop(); i++ {
		if _, err := s.Get(b.Context(), fmt.Sprintf("c%07d", i%100_000)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFindByAddress(b *testing.B) {
	s := loaded(b, 100_000)
	for i := 0; b.Loop(); i++ {
		if _, err := s.FindByAddress(b.Context(), crmtest.GeneratedAddress(i%100_000)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkList(b *testing.B) {
	s := loaded(b, 100_000)
	for _, q := range []crm.ListQuery{
		{Limit: 30},
		{Limit: 30, Worker: "worker3@example.com"},
		{Limit: 30, Prefix: "jo"},
		{Limit: 30, Prefix: "jo", Worker: "worker3@example.com", After: &crm.Cursor{NameKey: "jo nowak", ID: "c0050000"}},
	} {
		b.Run(fmt.Sprintf("worker=%q,prefix=%q,after=%v", q.Worker, q.Prefix, q.After != nil), func(b *testing.B) {
			for b.Loop() {
				page, err := s.List(b.Context(), q)
				if err != nil || len(page.Customers) != 30 {
					b.Fatalf("List = %d customers, %v", len(page.Customers), err)
				}
			}
		})
	}
}

func BenchmarkUpsertOne(b *testing.B) {
	s := loaded(b, 100_000)
	cs := crmtest.GenerateCustomers(100_000, time.Now())
	for i := 0; b.Loop(); i++ {
		if err := s.Upsert(b.Context(), cs[i%len(cs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpsert100k(b *testing.B) {
	cs := crmtest.GenerateCustomers(100_000, time.Time{})
	for b.Loop() {
		if err := inmem.NewStore().Upsert(b.Context(), cs...); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTemplates(t *testing.T) {
	crmtest.TestTemplateStore(t, func(*testing.T) crm.TemplateStore { return inmem.NewTemplates() })
}

func TestLine(t *testing.T) {
	waitlinetest.TestLine(t, func(*testing.T) waitline.Line { return inmem.NewLine() })
}
