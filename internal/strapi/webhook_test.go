package strapi_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/strapi"
	"github.com/experthub/experthub/internal/strapitest"
)

// The payloads strapi.md §6 quotes from a real Strapi 5.
const (
	realV5Update = `{"event":"entry.update","createdAt":"2026-11-25T05:16:07.228Z","model":"customer","uid":"api::customer.customer",
 "entry":{"id":5,"documentId":"x1pfuisj224w31slinsln7t5","display_name":"Susan Smith-Jones","customer_id":3,
  "avatar":"https://example.com/face3.jpeg","createdAt":"2026-11-25T05:15:47.372Z","updatedAt":"2026-11-25T05:16:07.207Z",
  "publishedAt":null,"channels":[{"id":7,"type":"whatsapp","value":"+5521989500003"},{"id":8,"type":"sms","value":"+5521989500099"}]}}`
	realV5Delete = `{"event":"entry.delete","createdAt":"2026-11-25T05:20:30.000Z","model":"customer","uid":"api::customer.customer","entry":{"id":10,"documentId":"y7d1d2u5sygj44hut0kjopp9","display_name":"Temp Person","customer_id":99,"avatar":"https://example.com/t.jpeg","createdAt":"2026-11-25T05:20:28.000Z","updatedAt":"2026-11-25T05:20:28.000Z","publishedAt":"2026-11-25T05:20:28.875Z"}}`
)

func TestParseWebhook(t *testing.T) {
	tests := []struct {
		name string
		body string
		want strapi.Event
	}{
		{"real v5 draft update", realV5Update, strapi.Event{
			Name: "entry.update", Model: "customer", Published: false, Populated: true,
			Customer: crm.Customer{ID: "3", SourceKey: "x1pfuisj224w31slinsln7t5", DisplayName: "Susan Smith-Jones",
				Avatar: "https://example.com/face3.jpeg", Channels: []crm.Channel{
					{Type: "whatsapp", Value: "+5521989500003"}, {Type: "sms", Value: "+5521989500099"}}},
		}},
		{"real v5 delete", realV5Delete, strapi.Event{
			Name: "entry.delete", Model: "customer", Published: true,
			Customer: crm.Customer{ID: "99", SourceKey: "y7d1d2u5sygj44hut0kjopp9", DisplayName: "Temp Person", Avatar: "https://example.com/t.jpeg"},
		}},
		{"v3 without D&P", `{"event":"entry.update","created_at":"x","model":"customer","entry":{"id":4,"customer_id":"4","display_name":"Ann","channels":[]}}`,
			strapi.Event{Name: "entry.update", Model: "customer", Published: true, Populated: true,
				Customer: crm.Customer{ID: "4", SourceKey: "4", DisplayName: "Ann"}}},
		{"v4 without components", `{"event":"entry.create","createdAt":"x","model":"customer","uid":"api::customer.customer","entry":{"id":8,"customer_id":8,"publishedAt":"x"}}`,
			strapi.Event{Name: "entry.create", Model: "customer", Published: true, Customer: crm.Customer{ID: "8", SourceKey: "8"}}},
		{"other model", `{"event":"entry.publish","model":"article","entry":{"id":1,"title":"Hi","publishedAt":"x"}}`,
			strapi.Event{Name: "entry.publish", Model: "article", Published: true, Customer: crm.Customer{ID: "strapi-1", SourceKey: "1"}}},
		{"media event", `{"event":"media.create","createdAt":"x","media":{"id":1,"name":"a.png"}}`,
			strapi.Event{Name: "media.create"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := strapi.ParseWebhook([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseWebhook =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestParseWebhookErrors(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `null`, `{"model":"customer"}`, `{"event":""}`, `{"event":"entry.update","model":"customer"}`,
		`{"event":"entry.update","entry":null}`, `{"event":"entry.update","entry":[1]}`, `{"event":"entry.update","entry":{}}`,
		`{"event":"` + string(make([]byte, 100)) + `"}`, `{"event":"entry.update","entry":{"id":1}`,
	} {
		if ev, err := strapi.ParseWebhook([]byte(body)); err == nil {
			t.Errorf("ParseWebhook(%q) = %+v, want an error", body, ev)
		}
	}
}

// Every payload the stub builds, in every version, parses back to the
// customer the list API returns.
func TestParseWebhookFromStub(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		s := strapitest.NewServer(v, strapitest.WithExtraFields())
		defer s.Close()
		e := s.Add(crm.Customer{ID: "5", DisplayName: "Owned", Worker: "alice@example.com",
			Channels: []crm.Channel{{Type: "sms", Value: "+33679500005"}},
			Links:    []crm.Link{{Type: "web", Value: "https://example.com", DisplayName: "Site"}},
			Details:  &crm.Details{Title: "T", Content: "C"}})
		want := s.Customers()[0]
		for _, event := range []string{"entry.create", "entry.update", "entry.publish", "entry.unpublish", "entry.delete"} {
			t.Run(fmt.Sprintf("v%d/%s", v, event), func(t *testing.T) {
				ev, err := strapi.ParseWebhook(s.WebhookBody(event, e))
				if err != nil {
					t.Fatal(err)
				}
				w := want
				populated := event != "entry.delete" && event != "entry.unpublish"
				if !populated {
					w.Channels, w.Links, w.Details = nil, nil, nil
				}
				if ev.Name != event || ev.Model != "customer" || !ev.Published || ev.Populated != populated || !reflect.DeepEqual(ev.Customer, w) {
					t.Errorf("got %+v\nwant customer %+v", ev, w)
				}
			})
		}
	}
}
