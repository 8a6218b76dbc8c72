package strapi_test

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/strapi"
	"github.com/experthub/experthub/internal/strapitest"
)

// TestTemplatePagesAllVersions lists more than a page of templates from
// each version, skipping drafts, and reads one back by its key.
func TestTemplatePagesAllVersions(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			s := strapitest.NewServer(v, strapitest.WithCustomers(1))
			defer s.Close()
			for i := range 130 {
				s.AddTemplate(crm.Template{Category: "Openers", Content: fmt.Sprintf("Hello %d", i), WhatsAppApproved: i%2 == 0, Order: i})
			}
			s.AddTemplateDraft(crm.Template{Category: "Drafts", Content: "not yet"})
			c := newClient(s, strapi.Config{})
			var got []crm.Template
			pages := 0
			err := c.TemplatePages(t.Context(), "", func(page []crm.Template, cursor string) error {
				pages++
				if cursor != page[len(page)-1].ID {
					t.Errorf("cursor %q, last template %q", cursor, page[len(page)-1].ID)
				}
				got = append(got, page...)
				return nil
			})
			if err != nil {
				t.Fatalf("TemplatePages: %v", err)
			}
			want := s.Templates()
			crm.SortTemplates(got)
			crm.SortTemplates(want)
			if len(got) != 130 || !reflect.DeepEqual(got, want) || pages < 2 {
				t.Fatalf("got %d templates in %d pages, want the stub's 130 in 2+", len(got), pages)
			}
			one, err := c.TemplateByID(t.Context(), want[7].ID)
			if err != nil || !reflect.DeepEqual(one, want[7]) {
				t.Errorf("TemplateByID(%q) = %+v, %v; want %+v", want[7].ID, one, err, want[7])
			}
			if _, err := c.TemplateByID(t.Context(), "999999"); err != crm.ErrNotFound {
				t.Errorf("TemplateByID(unknown): err = %v, want ErrNotFound", err)
			}
		})
	}
}

// TestDecodeTemplateWebhookFromStub decodes what each version sends for a
// template's life: created and published, updated, deleted.
func TestDecodeTemplateWebhookFromStub(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			var got []crm.Change[crm.Template]
			var c *strapi.Client
			hook := func(event string, body []byte) {
				h := http.Header{"X-Strapi-Event": {event}}
				if !c.IsTemplateWebhook(body) {
					t.Errorf("%s: not recognised as a template webhook", event)
				}
				chs, err := c.DecodeTemplateWebhook(h, body)
				if err != nil {
					t.Fatalf("%s: %v", event, err)
				}
				if cs, err := c.DecodeWebhook(h, body); err != nil || cs[0].Op != crm.Skip {
					t.Errorf("customer decoder took a template webhook: %+v, %v", cs, err)
				}
				for _, ch := range chs {
					if ch.Op != crm.Skip {
						got = append(got, ch)
					}
				}
			}
			s := strapitest.NewServer(v, strapitest.WithWebhooks(hook))
			defer s.Close()
			c = newClient(s, strapi.Config{})
			tp := s.AddTemplate(crm.Template{Category: "Openers", Content: "Hi", WhatsAppApproved: true, Order: 2})
			if err := s.UpdateTemplate(tp.ID, func(t *crm.Template) { t.Content = "Hello" }); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteTemplate(tp.ID); err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Fatalf("changes = %+v, want upsert, upsert, delete", got)
			}
			want := crm.Template{ID: tp.ID, Category: "Openers", Content: "Hello", WhatsAppApproved: true, Order: 2}
			if got[0].Op != crm.Upsert || got[0].Record.Content != "Hi" || got[1].Op != crm.Upsert || got[1].Record != want || got[2].Op != crm.Delete || got[2].ID != tp.ID {
				t.Errorf("changes = %+v", got)
			}
		})
	}
}

// TestLocalize checks that DEFAULT_REGION turns national numbers into
// E.164 when reading, and that a lookup by the E.164 number finds a
// customer stored with a national or spaced number.
func TestLocalize(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			s := strapitest.NewServer(v)
			defer s.Close()
			s.Add(crm.Customer{ID: "7", DisplayName: "National", Channels: []crm.Channel{{Type: "sms", Value: "06 79 50 00 98"}}})
			s.Add(crm.Customer{ID: "8", DisplayName: "Spaced", Channels: []crm.Channel{{Type: "whatsapp", Value: "whatsapp:+33 6 79 50 00 99"}}})
			c := newClient(s, strapi.Config{DefaultRegion: "fr"})
			got, err := c.CustomerByAddress(t.Context(), "+33679500098")
			if err != nil || got.ID != "7" || got.Channels[0].Value != "+33679500098" {
				t.Errorf("by national number = %+v, %v; want 7 with +33679500098", got, err)
			}
			if got, err := c.CustomerByAddress(t.Context(), "whatsapp:+33679500099"); err != nil || got.ID != "8" {
				t.Errorf("by spaced number = %+v, %v; want 8", got, err)
			}
			byID, err := c.CustomerByID(t.Context(), "7")
			if err != nil || byID.Channels[0].Value != "+33679500098" {
				t.Errorf("CustomerByID(7) channels = %+v, %v", byID.Channels, err)
			}
			// Without a region the national number stays as stored and is
			// not a match.
			plain := newClient(s, strapi.Config{})
			if _, err := plain.CustomerByAddress(t.Context(), "+33679500098"); err != crm.ErrNotFound {
				t.Errorf("without DefaultRegion: err = %v, want ErrNotFound", err)
			}
		})
	}
}
