package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
)

type category struct {
	DisplayName string `json:"display_name"`
	Templates   []struct {
		Content          string `json:"content"`
		WhatsAppApproved *bool  `json:"whatsAppApproved"`
	} `json:"templates"`
}

// templatesOn asks instance i's templates callback, signed as Frontline
// signs it, and decodes a 200 answer.
func templatesOn(t *testing.T, h *apptest.Harness, i int, form url.Values) (int, []category) {
	t.Helper()
	rec := h.ServeOn(i, "templates", h.SignedForm("templates", form))
	var cats []category
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &cats); err != nil {
			t.Fatalf("templates answer is not an array of categories: %s", rec.Body)
		}
	}
	return rec.Code, cats
}

func templatesForm(customer string) url.Values {
	return url.Values{"Location": {"GetTemplatesByCustomerId"}, "CustomerId": {customer},
		"Worker": {"ann@example.com"}, "ConversationSid": {"CH00000000000000000000000000000001"}}
}

// TestTemplatesCallback: templates kept in Strapi reach the callback by
// the full sync and by webhooks, rendered for the customer, with the
// WhatsApp-approved ones flagged; the callback refuses what it must.
func TestTemplatesCallback(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			h := apptest.New(t, apptest.Options{Store: store, StrapiVersion: 5, StrapiCustomers: 5, StrapiWebhooks: true})
			h.Strapi.AddTemplate(crm.Template{Category: "Openers", Content: "Hello {{customer.first_name}}, {{worker.name}} here.", WhatsAppApproved: true, Order: 1})
			later := h.Strapi.AddTemplate(crm.Template{Category: "Openers", Content: "Dear {{customer.display_name}}: {{unknown}}", Order: 2})
			h.Strapi.AddTemplate(crm.Template{Category: "Follow-up", Content: "Thanks for your visit!", WhatsAppApproved: true, Order: 3})
			if out := h.FullSync(t); !strings.Contains(out, `"templates":{"deleted":0,"synced":3}`) {
				t.Fatalf("full sync = %s", out)
			}
			// Customer 3 of the fake Strapi has a WhatsApp channel.
			e, _ := h.Strapi.Entry("3")
			if !strings.Contains(e.Customer.Channels[len(e.Customer.Channels)-1].Type, "whatsapp") {
				t.Fatalf("customer 3 has no WhatsApp channel: %+v", e.Customer.Channels)
			}
			name := e.Customer.DisplayName
			first, _, _ := strings.Cut(name, " ")
			code, cats := templatesOn(t, h, 0, templatesForm("3"))
			if code != 200 || len(cats) != 2 || cats[0].DisplayName != "Openers" || cats[1].DisplayName != "Follow-up" || len(cats[0].Templates) != 2 {
				t.Fatalf("templates = %d %+v", code, cats)
			}
			approved := func(c category, i int) bool {
				return c.Templates[i].WhatsAppApproved != nil && *c.Templates[i].WhatsAppApproved
			}
			if got, want := cats[0].Templates[0].Content, "Hello "+first+", ann@example.com here."; got != want || !approved(cats[0], 0) {
				t.Errorf("first template = %q (approved %v), want %q approved", got, approved(cats[0], 0), want)
			}
			if got, want := cats[0].Templates[1].Content, "Dear "+name+": {{unknown}}"; got != want || cats[0].Templates[1].WhatsAppApproved != nil {
				t.Errorf("second template = %q (flag %v), want %q without the flag", got, cats[0].Templates[1].WhatsAppApproved, want)
			}
			if !approved(cats[1], 0) {
				t.Errorf("follow-up not flagged approved")
			}

			// A webhook changes a template; a draft changes nothing.
			if err := h.Strapi.UpdateTemplate(later.ID, func(tp *crm.Template) { tp.Content = "Bonjour {{customer.first_name}}"; tp.WhatsAppApproved = true }); err != nil {
				t.Fatal(err)
			}
			h.Strapi.AddTemplateDraft(crm.Template{Category: "Drafts", Content: "not yet", Order: 0})
			_, cats = templatesOn(t, h, 0, templatesForm("3"))
			if len(cats) != 2 || cats[0].Templates[1].Content != "Bonjour "+first || !approved(cats[0], 1) {
				t.Errorf("after the webhook: %+v", cats)
			}

			for _, tt := range []struct {
				name string
				form url.Values
				want int
			}{
				{"unknown customer", templatesForm("999"), 404},
				{"unknown location", url.Values{"Location": {"GetTemplates"}, "CustomerId": {"3"}}, 422},
				{"no customer", url.Values{"Location": {"GetTemplatesByCustomerId"}, "Worker": {"ann@example.com"}}, 400},
			} {
				if code, _ := templatesOn(t, h, 0, tt.form); code != tt.want {
					t.Errorf("%s: %d, want %d", tt.name, code, tt.want)
				}
			}
			// Unsigned and wrongly signed calls are refused before anything.
			unsigned := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(templatesForm("3").Encode()))
			unsigned.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if rec := h.Serve("templates", unsigned); rec.Code != http.StatusForbidden {
				t.Errorf("unsigned: %d, want 403", rec.Code)
			}
			forged := h.SignedForm("crm", templatesForm("3")) // signed for another URL
			if rec := h.Serve("templates", forged); rec.Code != http.StatusForbidden {
				t.Errorf("signed for crm: %d, want 403", rec.Code)
			}
		})
	}
}

// TestTemplatesCallbackDefaults: without templates in the CRM the
// callback offers the built-in ones, none flagged approved.
func TestTemplatesCallbackDefaults(t *testing.T) {
	h := apptest.New(t, apptest.Options{})
	code, cats := templatesOn(t, h, 0, templatesForm("1"))
	n := 0
	for _, c := range cats {
		for _, tp := range c.Templates {
			n++
			if tp.WhatsAppApproved != nil || strings.Contains(tp.Content, "{{") {
				t.Errorf("default template %+v", tp)
			}
		}
	}
	if code != 200 || n != len(bot.DefaultTemplates) || !strings.Contains(cats[0].Templates[0].Content, "Maria") {
		t.Errorf("defaults = %d %+v", code, cats)
	}
}

// preEventName asks instance i's pre-event webhook to name a new
// conversation with address, and returns the friendly name it answers.
func preEventName(t *testing.T, h *apptest.Harness, i int, address string) string {
	t.Helper()
	rec := h.ServeOn(i, "pre-event", h.SignedForm("pre-event", url.Values{
		"EventType": {"onConversationAdd"}, "MessagingBinding.Address": {address},
		"MessagingBinding.ProxyAddress": {apptest.ProxyNumber}, "Attributes": {"{}"},
	}))
	var out struct {
		FriendlyName string `json:"friendly_name"`
	}
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		t.Fatalf("pre-event: %d %s", rec.Code, rec.Body)
	}
	return out.FriendlyName
}

// detailsName asks instance i's crm callback for a customer's name; ""
// when it answers 404.
func detailsName(t *testing.T, h *apptest.Harness, i int, id string) string {
	t.Helper()
	rec := h.ServeOn(i, "crm", h.SignedForm("crm", url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {id}}))
	if rec.Code == http.StatusNotFound {
		return ""
	}
	var out struct {
		Objects struct {
			Customer crm.Customer `json:"customer"`
		} `json:"objects"`
	}
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		t.Fatalf("crm: %d %s", rec.Code, rec.Body)
	}
	return out.Objects.Customer.DisplayName
}

// TestFreshnessAcrossInstances: two instances share Firestore, both have
// cached a customer (and a "not found"); Strapi changes them and its
// webhook reaches the first instance. The first answers the change at
// once, the second once its in-process entries expire (CACHE_TTL, driven
// by the harness clock rather than waited for). A customer whose
// customer_id changes leaves no copy under the old id.
func TestFreshnessAcrossInstances(t *testing.T) {
	h := apptest.New(t, apptest.Options{Store: apptest.Firestore, Instances: 2, CloudTasks: true,
		StrapiVersion: 5, StrapiCustomers: 5, StrapiWebhooks: true,
		Env: config.Env{"CACHE_TTL": "2s"}})
	h.FullSync(t)
	e2, _ := h.Strapi.Entry("2")
	oldAddr := e2.Customer.Channels[0].Value
	for i := range 2 {
		if got := detailsName(t, h, i, "2"); got != e2.Customer.DisplayName {
			t.Fatalf("instance %d: customer 2 = %q", i, got)
		}
		if got := detailsName(t, h, i, "77"); got != "" {
			t.Fatalf("instance %d: customer 77 exists already: %q", i, got)
		}
		if got := preEventName(t, h, i, oldAddr); got != e2.Customer.DisplayName {
			t.Fatalf("instance %d: pre-event names %q", i, got)
		}
	}

	h.SetWebhookInstance(0)
	const newAddr = "+33612345678"
	if _, err := h.Strapi.Update("2", func(c *crm.Customer) {
		c.DisplayName = "Renamed Two"
		c.Channels = []crm.Channel{{Type: "sms", Value: newAddr}}
	}); err != nil {
		t.Fatal(err)
	}
	h.Strapi.Add(crm.Customer{ID: "77", DisplayName: "Just Created", Channels: []crm.Channel{{Type: "sms", Value: "+33612345677"}}})

	check := func(i int) {
		t.Helper()
		if got := detailsName(t, h, i, "2"); got != "Renamed Two" {
			t.Errorf("instance %d: customer 2 = %q, want the new name", i, got)
		}
		if got := detailsName(t, h, i, "77"); got != "Just Created" {
			t.Errorf("instance %d: customer 77 = %q, want it found", i, got)
		}
		if got := preEventName(t, h, i, newAddr); got != "Renamed Two" {
			t.Errorf("instance %d: pre-event by the new number names %q", i, got)
		}
		if got := preEventName(t, h, i, oldAddr); got == "Renamed Two" || got == e2.Customer.DisplayName {
			t.Errorf("instance %d: the old number still names %q", i, got)
		}
	}
	// The instance the webhook reached: at once.
	check(0)
	// The other: within CACHE_TTL.
	h.Clock.Advance(2 * time.Second)
	check(1)

	// customer_id changes in Strapi: the copy under the old id goes.
	if _, err := h.Strapi.Update("4", func(c *crm.Customer) { c.ID = "4000" }); err != nil {
		t.Fatal(err)
	}
	if got := detailsName(t, h, 0, "4"); got != "" {
		t.Errorf("customer 4 still answered as %q after its id changed", got)
	}
	if got := detailsName(t, h, 0, "4000"); got == "" {
		t.Error("customer 4000 not found")
	}
	if _, err := h.App.Store.Get(t.Context(), "4"); err == nil {
		t.Error("the Firestore copy under the old id is still there")
	}
}

// TestNationalNumbers: with DEFAULT_REGION, a customer whose number
// Strapi holds without a country code is found by the number Twilio
// sends, through the sync and through a read-through alike.
func TestNationalNumbers(t *testing.T) {
	for _, store := range apptest.Stores {
		t.Run(string(store), func(t *testing.T) {
			h := apptest.New(t, apptest.Options{Store: store, StrapiVersion: 4, StrapiCustomers: 2,
				Env: config.Env{"DEFAULT_REGION": "FR"}})
			h.Strapi.Add(crm.Customer{ID: "50", DisplayName: "Synced National", Channels: []crm.Channel{{Type: "sms", Value: "06 79 50 00 50"}}})
			h.FullSync(t)
			// Added after the sync: only a read-through can find it.
			h.Strapi.Add(crm.Customer{ID: "51", DisplayName: "Unsynced National", Channels: []crm.Channel{{Type: "whatsapp", Value: "whatsapp:06.79.50.00.51"}}})
			h.Strapi.Add(crm.Customer{ID: "52", DisplayName: "Unsynced Spaced", Channels: []crm.Channel{{Type: "sms", Value: "+33 6 79 50 00 52"}}})
			for addr, want := range map[string]string{
				"+33679500050":          "Synced National",
				"whatsapp:+33679500051": "Unsynced National",
				"+33679500052":          "Unsynced Spaced",
			} {
				if got := preEventName(t, h, 0, addr); got != want {
					t.Errorf("pre-event for %s names %q, want %q", addr, got, want)
				}
			}
			c, err := h.App.Store.Get(t.Context(), "50")
			if err != nil || c.Channels[0].Value != "+33679500050" {
				t.Errorf("cached customer 50 = %+v, %v; want its number in E.164", c.Channels, err)
			}
		})
	}
}
