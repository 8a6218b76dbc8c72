package fsstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crm/crmtest"
	"github.com/experthub/experthub/internal/crmsync"
	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/strapi"
	"github.com/experthub/experthub/internal/strapitest"
)

// These tests run the sync from a fake Strapi into the Firestore emulator
// and compare every customer the cache holds with Strapi's.

const strapiToken = "strapi-token"

func newStrapi(version, n int, opts ...strapitest.Option) (*strapitest.Server, *strapi.Client) {
	base := []strapitest.Option{strapitest.WithCustomers(n), strapitest.WithExtraFields()}
	if version != 3 {
		base = append(base, strapitest.WithAPIToken(strapiToken))
	}
	s := strapitest.NewServer(version, append(base, opts...)...)
	cfg := strapi.Config{BaseURL: s.URL, HTTPClient: s.Client()}
	if version != 3 {
		cfg.APIToken = strapiToken
	}
	return s, strapi.New(cfg)
}

// cachedCustomers returns every customer in the store, read back one by
// one, ordered by ID.
func cachedCustomers(t *testing.T, st *Store) []crm.Customer {
	t.Helper()
	ctx := context.Background()
	var out []crm.Customer
	q := crm.ListQuery{Limit: 100}
	for {
		p, err := st.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Customers {
			full, err := st.Get(ctx, c.ID)
			if err != nil {
				t.Fatalf("Get(%s): %v", c.ID, err)
			}
			out = append(out, full)
		}
		if p.Next == nil {
			break
		}
		q.After = p.Next
	}
	slices.SortFunc(out, func(a, b crm.Customer) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// assertMirrors fails unless the store holds exactly Strapi's published
// customers, field for field, each findable by each of its addresses.
func assertMirrors(t *testing.T, st *Store, s *strapitest.Server) {
	t.Helper()
	got := cachedCustomers(t, st)
	want := s.Customers()
	slices.SortFunc(want, func(a, b crm.Customer) int { return cmp.Compare(a.ID, b.ID) })
	if len(got) != len(want) {
		t.Fatalf("cache holds %d customers, Strapi %d", len(got), len(want))
	}
	for i := range got {
		g := got[i]
		g.SyncedAt = want[i].SyncedAt
		if !crmtest.SameCustomer(g, want[i]) {
			t.Fatalf("customer %s differs:\n cache  %+v\n strapi %+v", want[i].ID, got[i], want[i])
		}
	}
	ctx := context.Background()
	for _, c := range want {
		for _, a := range c.Addresses() {
			found, err := st.FindByAddress(ctx, a)
			if err != nil {
				t.Fatalf("FindByAddress(%s) of customer %s: %v", a, c.ID, err)
			}
			if !slices.Contains(found.Addresses(), a) {
				t.Fatalf("FindByAddress(%s) = customer %s without that address", a, found.ID)
			}
		}
	}
}

// TestSyncIntoFirestore checks, for each Strapi version, that a full sync
// of more customers than two Strapi pages, cut short by Strapi and resumed
// after Strapi changed, leaves Firestore equal to Strapi; that deletions,
// unpublishing and edits then disappear or show; and that webhooks keep it
// equal between runs.
func TestSyncIntoFirestore(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, client := newStrapi(v, 260)
			defer s.Close()
			// Two customers without a customer_id: the second listing pass.
			s.Add(crm.Customer{DisplayName: "No ID 1", Channels: []crm.Channel{{Type: "sms", Value: "+33679509998"}}})
			s.Add(crm.Customer{DisplayName: "No ID 2", Channels: []crm.Channel{{Type: "sms", Value: "+33679509999"}}})
			st := NewStore(firestoretest.Client(t), "")
			// Left from an earlier run: a customer Strapi no longer has.
			if err := st.Upsert(ctx, crm.Customer{ID: "9999", DisplayName: "Gone"}); err != nil {
				t.Fatal(err)
			}
			if _, err := client.Version(ctx); err != nil { // before faults count requests
				t.Fatal(err)
			}
			sy := crmsync.New(crmsync.Customers(client, st), crmsync.Options{})

			// Strapi fails on the third page.
			s.InjectFault(strapitest.Fault{Route: strapitest.RouteList, After: 2, Status: 503})
			p, err := sy.Full(ctx)
			if err == nil || p.Done || p.Synced != 200 {
				t.Fatalf("interrupted run = %+v, %v; want an error after 200 customers", p, err)
			}
			state, err := st.SyncState(ctx)
			if err != nil || state.Done || state.After == "" {
				t.Fatalf("checkpoint = %+v, %v; want one, not done", state, err)
			}
			if _, err := st.Get(ctx, "9999"); err != nil {
				t.Fatalf("an interrupted run swept the cache: %v", err)
			}

			// Meanwhile Strapi changes on both sides of the checkpoint.
			// Before it, the run has copied the customers already: Strapi's
			// webhooks bring the changes. After it, the resumed run reads
			// them.
			apply := func(event string, e strapitest.Entry) {
				t.Helper()
				changes, err := client.DecodeWebhook(http.Header{"X-Strapi-Event": {event}}, s.WebhookBody(event, e))
				if err != nil {
					t.Fatal(err)
				}
				for _, ch := range changes {
					if _, err := sy.Apply(ctx, ch); err != nil {
						t.Fatalf("%s: %v", event, err)
					}
				}
			}
			e, err := s.Delete("5")
			if err != nil {
				t.Fatal(err)
			}
			apply("entry.delete", e)
			e, _ = s.Unpublish("6")
			apply("entry.unpublish", e)
			e, _ = s.Update("7", func(c *crm.Customer) { c.DisplayName = "Renamed Before" })
			apply("entry.update", e)
			for _, id := range []string{"230", "231"} {
				if _, err := s.Delete(id); err != nil {
					t.Fatal(err)
				}
			}
			s.Update("240", func(c *crm.Customer) {
				c.DisplayName = "Renamed After"
				c.Channels = []crm.Channel{{Type: "whatsapp", Value: "whatsapp:+447491000240"}}
			})
			s.AddGenerated(5)

			s.ClearFaults()
			p, err = sy.Full(ctx)
			if err != nil || !p.Resumed || !p.Done {
				t.Fatalf("resumed run = %+v, %v", p, err)
			}
			if _, err := st.Get(ctx, "9999"); !errors.Is(err, crm.ErrNotFound) {
				t.Errorf("customer gone from Strapi is still cached: %v", err)
			}
			assertMirrors(t, st, s)

			// The next run starts afresh and changes nothing.
			p, err = sy.Full(ctx)
			if err != nil || p.Resumed || !p.Done || p.Deleted != 0 {
				t.Fatalf("next run = %+v, %v", p, err)
			}
			if want := len(s.Customers()); p.Synced != want {
				t.Errorf("next run synced %d customers, Strapi has %d", p.Synced, want)
			}
			assertMirrors(t, st, s)

			// Webhooks between runs.
			e, _ = s.Delete("10")
			apply("entry.delete", e)
			e, _ = s.Update("11", func(c *crm.Customer) {
				c.Channels = append(c.Channels, crm.Channel{Type: "sms", Value: "+33 6 12 34 56 78"})
			})
			apply("entry.update", e)
			for _, e := range s.AddGenerated(2) {
				apply("entry.create", e)
				if v == 5 {
					apply("entry.publish", e) // v5 creates a draft, then publishes
				}
			}
			assertMirrors(t, st, s)
			if c, err := st.FindByAddress(ctx, "+33612345678"); err != nil || c.ID != "11" {
				t.Errorf("customer 11 by its new number: %+v, %v", c, err)
			}
		})
	}
}

// TestSyncPastPageLimits syncs more customers than Strapi's page limits,
// with the limits an operator may lower: none may be lost.
func TestSyncPastPageLimits(t *testing.T) {
	tests := []struct {
		version       int
		customers     int
		defMax, limit int
	}{
		{4, 251, 25, 100},
		{5, 251, 25, 100},
		{4, 301, 10, 50},
		{5, 301, 10, 50},
		{3, 251, 100, 0},
		{3, 251, 10, 50},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("v%d_%d_max%d", tt.version, tt.customers, tt.limit), func(t *testing.T) {
			t.Parallel()
			s, client := newStrapi(tt.version, tt.customers, strapitest.WithPageLimits(tt.defMax, tt.limit))
			defer s.Close()
			st := NewStore(firestoretest.Client(t), "")
			p, err := crmsync.New(crmsync.Customers(client, st), crmsync.Options{}).Full(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if p.Synced != tt.customers {
				t.Errorf("synced %d customers, want %d", p.Synced, tt.customers)
			}
			assertMirrors(t, st, s)
		})
	}
}
