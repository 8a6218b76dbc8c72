package crmsync_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crmsync"
	"github.com/experthub/experthub/internal/inmem"
	"github.com/experthub/experthub/internal/strapi"
	"github.com/experthub/experthub/internal/strapitest"
)

// The cache follows Strapi through webhooks alone, with the event
// sequences each version really sends (v5: a POST is create(draft) +
// publish, a DELETE is two deletes).
func TestApplyFollowsStrapi(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			ctx := context.Background()
			type call struct {
				event string
				body  []byte
			}
			var queue []call
			s := strapitest.NewServer(v, strapitest.WithExtraFields(),
				strapitest.WithWebhooks(func(event string, body []byte) { queue = append(queue, call{event, body}) }))
			defer s.Close()
			st := inmem.NewStore()
			c := strapiClient(s)
			sy := crmsync.New(crmsync.Customers(c, st), crmsync.Options{})
			actions := map[crmsync.Action]int{}
			flush := func() {
				t.Helper()
				for _, call := range queue {
					changes, err := c.DecodeWebhook(http.Header{"X-Strapi-Event": {call.event}}, call.body)
					if err != nil {
						t.Fatalf("DecodeWebhook(%s): %v", call.body, err)
					}
					for _, ch := range changes {
						a, err := sy.Apply(ctx, ch)
						if err != nil {
							t.Fatalf("Apply(%s): %v", ch.Event, err)
						}
						actions[a.Action]++
					}
				}
				queue = nil
			}
			steps := []struct {
				name string
				do   func()
			}{
				{"add", func() {
					for i := 1; i <= 3; i++ {
						s.Add(crm.Customer{ID: fmt.Sprint(i), DisplayName: fmt.Sprint("Customer ", i),
							Channels: []crm.Channel{{Type: "sms", Value: fmt.Sprintf("+3367950000%d", i)}}})
					}
					s.AddDraft(crm.Customer{ID: "4", DisplayName: "Draft", Channels: []crm.Channel{{Type: "sms", Value: "+33679500004"}}})
				}},
				{"update", func() {
					s.Update("2", func(c *crm.Customer) { c.DisplayName = "Renamed"; c.Worker = "bob@example.com" })
				}},
				{"update a draft", func() { s.Update("4", func(c *crm.Customer) { c.DisplayName = "Still a draft" }) }},
				{"unpublish", func() { s.Unpublish("3") }},
				{"publish", func() { s.Publish("4") }},
				{"delete", func() { s.Delete("1") }},
				{"republish", func() { s.Publish("3") }},
				{"new number", func() {
					s.Update("4", func(c *crm.Customer) { c.Channels = []crm.Channel{{Type: "whatsapp", Value: "+447491000004"}} })
				}},
			}
			for _, step := range steps {
				step.do()
				flush()
				assertSame(t, st, s)
			}
			if c, err := st.FindByAddress(ctx, "+447491000004"); err != nil || c.ID != "4" {
				t.Errorf("FindByAddress(new number) = %+v, %v", c, err)
			}
			if _, err := st.FindByAddress(ctx, "+33679500004"); !errors.Is(err, crm.ErrNotFound) {
				t.Errorf("old number still found: %v", err)
			}
			if actions[crmsync.Ignored] == 0 || actions[crmsync.Deleted] == 0 {
				t.Errorf("actions = %v; the draft events must be ignored", actions)
			}
		})
	}
}

// TestApply applies each kind of change; which Strapi event makes which
// change is strapi's TestDecodeWebhook.
func TestApply(t *testing.T) {
	ctx := context.Background()
	s := strapitest.NewServer(4, strapitest.WithAPIToken("tok"))
	defer s.Close()
	s.Add(crm.Customer{ID: "8", DisplayName: "Eight", Channels: []crm.Channel{{Type: "sms", Value: "+33679500008"}}})

	type change = crm.Change[crm.Customer]
	tests := []struct {
		name       string
		ch         change
		want       crmsync.Applied
		wantErr    bool
		refetch    bool
		wantCached string // display name cached after an upsert; ignored changes leave the seeded record
	}{
		{name: "skip",
			ch:   change{Event: "entry.update", ID: "8", Reason: "draft"},
			want: crmsync.Applied{Event: "entry.update", ID: "8", Action: crmsync.Ignored, Reason: "draft"}},
		{name: "skip without a record",
			ch:   change{Event: "media.create", Reason: "not a customer"},
			want: crmsync.Applied{Event: "media.create", Action: crmsync.Ignored, Reason: "not a customer"}},
		{name: "complete upsert is cached as sent",
			ch: change{Event: "entry.create", Op: crm.Upsert, ID: "8",
				Record: crm.Customer{ID: "8", DisplayName: "From payload", Channels: []crm.Channel{{Type: "sms", Value: "+33679500008"}}}},
			want:       crmsync.Applied{Event: "entry.create", ID: "8", Action: crmsync.Upserted},
			wantCached: "From payload"},
		{name: "partial upsert is read again",
			ch:         change{Event: "entry.create", Op: crm.Upsert, ID: "8", Record: crm.Customer{ID: "8", DisplayName: "Partial"}, Partial: true},
			want:       crmsync.Applied{Event: "entry.create", ID: "8", Action: crmsync.Upserted},
			refetch:    true,
			wantCached: "Eight"},
		{name: "partial and gone from Strapi",
			ch:      change{Event: "entry.publish", Op: crm.Upsert, ID: "99", Record: crm.Customer{ID: "99"}, Partial: true},
			want:    crmsync.Applied{Event: "entry.publish", ID: "99", Action: crmsync.Ignored, Reason: "not published in the CRM"},
			refetch: true},
		{name: "delete",
			ch:   change{Event: "entry.delete", Op: crm.Delete, ID: "8"},
			want: crmsync.Applied{Event: "entry.delete", ID: "8", Action: crmsync.Deleted}},
		{name: "no id",
			ch:      change{Event: "entry.delete", Op: crm.Delete},
			want:    crmsync.Applied{Event: "entry.delete", Action: crmsync.Ignored},
			wantErr: true},
		{name: "unknown op",
			ch:      change{Event: "entry.delete", Op: 9, ID: "8"},
			want:    crmsync.Applied{Event: "entry.delete", ID: "8", Action: crmsync.Ignored},
			wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := inmem.NewStore()
			st.Upsert(ctx, crm.Customer{ID: "8", DisplayName: "Eight"})
			sy := crmsync.New(crmsync.Customers(strapi.New(strapi.Config{BaseURL: s.URL, APIToken: "tok", Version: "4"}), st), crmsync.Options{})
			s.ResetRequests()
			got, err := sy.Apply(ctx, tt.ch)
			if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Apply = %+v, %v; want %+v (error %v)", got, err, tt.want, tt.wantErr)
			}
			if n := s.Requests(strapitest.RouteList); (n > 0) != tt.refetch {
				t.Errorf("Strapi requests = %d, refetch expected %v", n, tt.refetch)
			}
			c, err := st.Get(ctx, "8")
			switch {
			case tt.want.Action == crmsync.Ignored:
				// untouched: the seeded record stays
				if err != nil || c.DisplayName != "Eight" {
					t.Errorf("ignored change changed the cache: %+v, %v", c, err)
				}
			case tt.wantCached == "":
				if !errors.Is(err, crm.ErrNotFound) {
					t.Errorf("customer still cached: %+v", c)
				}
			default:
				if err != nil || c.DisplayName != tt.wantCached || c.SyncedAt.IsZero() {
					t.Errorf("cached = %+v, %v; want %q with SyncedAt", c, err, tt.wantCached)
				}
				if tt.refetch && len(c.Channels) != 1 {
					t.Errorf("re-read customer lost its channels: %+v", c)
				}
			}
		})
	}
}

func TestApplyRefetchFailure(t *testing.T) {
	ctx := context.Background()
	s := strapitest.NewServer(4)
	defer s.Close()
	s.InjectFault(strapitest.Fault{Status: 503})
	st := inmem.NewStore()
	sy := crmsync.New(crmsync.Customers(strapi.New(strapi.Config{BaseURL: s.URL, Version: "4"}), st), crmsync.Options{})
	_, err := sy.Apply(ctx, crm.Change[crm.Customer]{Event: "entry.create", Op: crm.Upsert, ID: "8", Record: crm.Customer{ID: "8"}, Partial: true})
	if err == nil {
		t.Fatal("Apply with Strapi down: no error")
	}
	if st.Len() != 0 {
		t.Error("a customer without channels was cached")
	}
}
