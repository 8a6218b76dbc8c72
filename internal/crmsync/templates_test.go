package crmsync_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crmsync"
	"github.com/experthub/experthub/internal/inmem"
	"github.com/experthub/experthub/internal/strapi"
	"github.com/experthub/experthub/internal/strapitest"
)

// templateContents returns the cached templates' contents in store order.
func templateContents(t *testing.T, s crm.TemplateStore) []string {
	t.Helper()
	ts, err := s.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tp := range ts {
		out = append(out, tp.Content)
	}
	return out
}

// TestTemplatesThroughHandler syncs templates by a full sync and keeps
// them in step through webhooks, in every Strapi version, beside the
// customers.
func TestTemplatesThroughHandler(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			var h http.Handler
			hook := func(event string, body []byte) {
				if h == nil {
					return
				}
				req := httptest.NewRequest("POST", "/sync", strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Strapi-Event", event)
				req.Header.Set("Authorization", "Bearer "+secret)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					t.Errorf("webhook %s: %d %s", event, rec.Code, rec.Body)
				}
			}
			s := newStrapi(v, 3, strapitest.WithWebhooks(hook))
			defer s.Close()
			first := s.AddTemplate(crm.Template{Category: "Openers", Content: "Hello", Order: 1})
			s.AddTemplate(crm.Template{Category: "Openers", Content: "Bonjour", WhatsAppApproved: true, Order: 2})
			c := strapiClient(s)
			customers, tmpl := inmem.NewStore(), inmem.NewTemplates()
			cfg := defaultConfig()
			cfg.Templates, cfg.TemplateHooks = crmsync.New(crmsync.Templates(c, tmpl), crmsync.Options{}), c
			h = crmsync.NewHandler(crmsync.New(crmsync.Customers(c, customers), crmsync.Options{}), c, cfg)

			req := httptest.NewRequest("POST", "/sync", nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"templates":{"deleted":0,"synced":2}`) {
				t.Fatalf("full sync: %d %s", rec.Code, rec.Body)
			}
			if got := templateContents(t, tmpl); !slices.Equal(got, []string{"Hello", "Bonjour"}) {
				t.Fatalf("after full sync: %q", got)
			}
			if customers.Len() != 3 {
				t.Errorf("customers cached = %d, want 3", customers.Len())
			}
			s.AddTemplate(crm.Template{Category: "Replies", Content: "Thanks", Order: 3})
			if err := s.UpdateTemplate(first.ID, func(t *crm.Template) { t.Content = "Hi" }); err != nil {
				t.Fatal(err)
			}
			s.AddTemplateDraft(crm.Template{Content: "draft", Order: 4})
			if got := templateContents(t, tmpl); !slices.Equal(got, []string{"Hi", "Bonjour", "Thanks"}) {
				t.Errorf("after webhooks: %q", got)
			}
			if err := s.DeleteTemplate(first.ID); err != nil {
				t.Fatal(err)
			}
			if got := templateContents(t, tmpl); !slices.Equal(got, []string{"Bonjour", "Thanks"}) {
				t.Errorf("after delete: %q", got)
			}
		})
	}
}

// TestTemplatesNoCollection: a Strapi without the template collection
// still completes the nightly full sync.
func TestTemplatesNoCollection(t *testing.T) {
	s := newStrapi(5, 2)
	defer s.Close()
	// A client pointed at a collection the stub does not serve.
	c := strapi.New(strapi.Config{BaseURL: s.URL, HTTPClient: s.Client(), APIToken: "tok", TemplatesCollection: "snippets", WebhookSecret: secret})
	cfg := defaultConfig()
	cfg.Templates, cfg.TemplateHooks = crmsync.New(crmsync.Templates(c, inmem.NewTemplates()), crmsync.Options{}), c
	h := crmsync.NewHandler(crmsync.New(crmsync.Customers(c, inmem.NewStore()), crmsync.Options{}), c, cfg)
	req := httptest.NewRequest("POST", "/sync", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "no template collection") {
		t.Errorf("full sync = %d %s; want 200 with templates skipped", rec.Code, rec.Body)
	}
}

// TestApplyRenamedCustomer: a customer whose customer_id changes in the
// CRM keeps one cached copy, under the new id, and the hook learns of the
// old one.
func TestApplyRenamedCustomer(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			st := inmem.NewStore()
			var sy *crmsync.Syncer[crm.Customer]
			var c *strapi.Client
			var replaced []string
			hook := func(event string, body []byte) {
				if sy == nil {
					return
				}
				chs, err := c.DecodeWebhook(http.Header{"X-Strapi-Event": {event}}, body)
				if err != nil {
					t.Fatal(err)
				}
				for _, ch := range chs {
					if _, err := sy.Apply(context.Background(), ch); err != nil {
						t.Fatal(err)
					}
				}
			}
			s := newStrapi(v, 3, strapitest.WithWebhooks(hook))
			defer s.Close()
			c = strapiClient(s)
			sy = crmsync.New(crmsync.Customers(c, st), crmsync.Options{})
			sy.OnApplied(func(_ context.Context, _ crm.Customer, a crmsync.Applied) { replaced = append(replaced, a.Replaced...) })
			if _, err := sy.Full(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Update("2", func(c *crm.Customer) { c.ID = "200" }); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Get(t.Context(), "2"); err == nil {
				t.Error("the copy under the old id is still cached")
			}
			if got, err := st.Get(t.Context(), "200"); err != nil || got.DisplayName == "" {
				t.Errorf("Get(200) = %+v, %v", got, err)
			}
			if !slices.Equal(replaced, []string{"2"}) {
				t.Errorf("replaced = %q, want [2]", replaced)
			}
			if st.Len() != 3 {
				t.Errorf("cached customers = %d, want 3", st.Len())
			}
		})
	}
}
