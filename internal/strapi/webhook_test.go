package strapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/strapi"
	"github.com/experthub/experthub/internal/strapitest"
)

// The payloads https://docs.strapi.io/cms/backend-customization/webhooks quotes from a real Strapi 5.
const (
	realV5Update = `{"event":"entry.update","createdAt":"2026-11-25T05:16:07.228Z","model":"customer","uid":"api::customer.customer",
 "entry":{"id":5,"documentId":"x1pfuisj224w31slinsln7t5","display_name":"Susan Smith-Jones","customer_id":3,
  "avatar":"https://example.com/face3.jpeg","createdAt":"2026-11-25T05:15:47.372Z","updatedAt":"2026-11-25T05:16:07.207Z",
  "publishedAt":null,"channels":[{"id":7,"type":"whatsapp","value":"+5521989500003"},{"id":8,"type":"sms","value":"+5521989500099"}]}}`
	realV5Delete = `{"event":"entry.delete","createdAt":"2026-11-25T05:20:30.000Z","model":"customer","uid":"api::customer.customer","entry":{"id":10,"documentId":"y7d1d2u5sygj44hut0kjopp9","display_name":"Temp Person","customer_id":99,"avatar":"https://example.com/t.jpeg","createdAt":"2026-11-25T05:20:28.000Z","updatedAt":"2026-11-25T05:20:28.000Z","publishedAt":"2026-11-25T05:20:28.875Z"}}`
)

type change = crm.Change[crm.Customer]

// call returns the headers Strapi sends with a webhook call of event.
func call(event string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Strapi-Event", event)
	return h
}

func TestDecodeWebhook(t *testing.T) {
	susan := crm.Customer{ID: "3", SourceKey: "x1pfuisj224w31slinsln7t5", DisplayName: "Susan Smith-Jones",
		Avatar: "https://example.com/face3.jpeg", Channels: []crm.Channel{
			{Type: "whatsapp", Value: "+5521989500003"}, {Type: "sms", Value: "+5521989500099"}}}
	ann := crm.Customer{ID: "4", SourceKey: "4", DisplayName: "Ann"}
	tests := []struct {
		name  string
		model string // Config.Model
		body  string
		want  change
	}{
		{name: "real v5 draft update", body: realV5Update,
			want: change{Event: "entry.update", ID: "3", Reason: "draft"}},
		{name: "real v5 delete", body: realV5Delete,
			want: change{Event: "entry.delete", Op: crm.Delete, ID: "99"}},
		{name: "v3 without D&P", body: `{"event":"entry.update","created_at":"x","model":"customer","entry":{"id":4,"customer_id":"4","display_name":"Ann","channels":[]}}`,
			want: change{Event: "entry.update", Op: crm.Upsert, ID: "4", Record: ann}},
		{name: "published update", body: `{"event":"entry.update","model":"Customer","entry":{"id":5,"documentId":"x1pfuisj224w31slinsln7t5","display_name":"Susan Smith-Jones","customer_id":3,"avatar":"https://example.com/face3.jpeg","publishedAt":"x","channels":[{"id":7,"type":"whatsapp","value":"+5521989500003"},{"id":8,"type":"sms","value":"+5521989500099"}]}}`,
			want: change{Event: "entry.update", Op: crm.Upsert, ID: "3", Record: susan}},
		{name: "v4 without components", body: `{"event":"entry.create","createdAt":"x","model":"customer","uid":"api::customer.customer","entry":{"id":8,"customer_id":8,"publishedAt":"x"}}`,
			want: change{Event: "entry.create", Op: crm.Upsert, ID: "8", Record: crm.Customer{ID: "8", SourceKey: "8"}, Partial: true}},
		{name: "publish", body: `{"event":"entry.publish","model":"customer","entry":{"id":8,"customer_id":8,"publishedAt":"x"}}`,
			want: change{Event: "entry.publish", Op: crm.Upsert, ID: "8", Record: crm.Customer{ID: "8", SourceKey: "8"}, Partial: true}},
		{name: "unpublish", body: `{"event":"entry.unpublish","model":"customer","entry":{"id":8,"customer_id":8,"publishedAt":null}}`,
			want: change{Event: "entry.unpublish", Op: crm.Delete, ID: "8"}},
		{name: "delete of the draft row", body: `{"event":"entry.delete","model":"customer","entry":{"id":8,"customer_id":8,"publishedAt":null}}`,
			want: change{Event: "entry.delete", ID: "8", Reason: "draft"}},
		{name: "draft-discard", body: `{"event":"entry.draft-discard","model":"customer","entry":{"id":8,"customer_id":8,"publishedAt":null}}`,
			want: change{Event: "entry.draft-discard", ID: "8", Reason: "event not handled"}},
		{name: "other model", body: `{"event":"entry.publish","model":"article","entry":{"id":1,"title":"Hi","publishedAt":"x"}}`,
			want: change{Event: "entry.publish", ID: "strapi-1", Reason: "not a customer"}},
		{name: "media event", body: `{"event":"media.create","createdAt":"x","media":{"id":1,"name":"a.png"}}`,
			want: change{Event: "media.create", Reason: "not a customer"}},
		// Used to fail the call with a 500: a non-entry event naming the
		// customer model has no entry to apply.
		{name: "non-entry event of the model", body: `{"event":"review-workflows.updateEntryStage","model":"customer"}`,
			want: change{Event: "review-workflows.updateEntryStage", Reason: "event not handled"}},
		{name: "configured model", model: "client", body: `{"event":"entry.unpublish","model":"client","entry":{"id":8,"customer_id":8}}`,
			want: change{Event: "entry.unpublish", Op: crm.Delete, ID: "8"}},
		{name: "default model when another is configured", model: "client", body: `{"event":"entry.unpublish","model":"customer","entry":{"id":8,"customer_id":8}}`,
			want: change{Event: "entry.unpublish", ID: "8", Reason: "not a client"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := strapi.New(strapi.Config{Model: tt.model})
			var event struct{ Event string }
			if err := json.Unmarshal([]byte(tt.body), &event); err != nil {
				t.Fatal(err)
			}
			got, err := c.DecodeWebhook(call(event.Event), []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if want := []change{tt.want}; !reflect.DeepEqual(got, want) {
				t.Errorf("DecodeWebhook =\n %+v\nwant\n %+v", got, want)
			}
		})
	}
}

func TestDecodeWebhookErrors(t *testing.T) {
	c := strapi.New(strapi.Config{})
	for _, tt := range []struct{ event, body string }{
		{"", ``}, {"", `[]`}, {"", `null`}, {"", `{"model":"customer"}`}, {"", `{"event":""}`},
		{"entry.update", `{"event":"entry.update","model":"customer"}`},
		{"entry.update", `{"event":"entry.update","entry":null}`},
		{"entry.update", `{"event":"entry.update","entry":[1]}`},
		{"entry.update", `{"event":"entry.update","entry":{}}`},
		{"", `{"event":"` + string(make([]byte, 100)) + `"}`},
		{"entry.update", `{"event":"entry.update","entry":{"id":1}`},
		// The header and the payload disagree.
		{"entry.update", `{"event":"entry.delete","model":"customer","entry":{"id":4,"customer_id":4}}`},
		{"", `{"event":"entry.delete","model":"customer","entry":{"id":4,"customer_id":4}}`},
	} {
		if got, err := c.DecodeWebhook(call(tt.event), []byte(tt.body)); err == nil {
			t.Errorf("DecodeWebhook(%q, %q) = %+v, want an error", tt.event, tt.body, got)
		}
	}
}

func TestWebhookEvent(t *testing.T) {
	c := strapi.New(strapi.Config{})
	if got := c.WebhookEvent(call("entry.publish")); got != "entry.publish" {
		t.Errorf("WebhookEvent = %q, want entry.publish", got)
	}
	if got := c.WebhookEvent(http.Header{"Authorization": {"Bearer x"}}); got != "" {
		t.Errorf("WebhookEvent without the header = %q, want none", got)
	}
}

// Every payload the stub builds, in every version, decodes to the change
// it makes: the customer the list API returns is stored, or removed.
func TestDecodeWebhookFromStub(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		s := strapitest.NewServer(v, strapitest.WithExtraFields())
		defer s.Close()
		c := strapi.New(strapi.Config{})
		e := s.Add(crm.Customer{ID: "5", DisplayName: "Owned", Worker: "alice@example.com",
			Channels: []crm.Channel{{Type: "sms", Value: "+33679500005"}},
			Links:    []crm.Link{{Type: "web", Value: "https://example.com", DisplayName: "Site"}},
			Details:  &crm.Details{Title: "T", Content: "C"}})
		want := s.Customers()[0]
		for _, event := range []string{"entry.create", "entry.update", "entry.publish", "entry.unpublish", "entry.delete"} {
			t.Run(fmt.Sprintf("v%d/%s", v, event), func(t *testing.T) {
				got, err := c.DecodeWebhook(call(event), s.WebhookBody(event, e))
				if err != nil {
					t.Fatal(err)
				}
				w := change{Event: event, Op: crm.Upsert, ID: "5", Record: want}
				if event == "entry.delete" || event == "entry.unpublish" {
					w = change{Event: event, Op: crm.Delete, ID: "5"}
				}
				if !reflect.DeepEqual(got, []change{w}) {
					t.Errorf("got %+v\nwant %+v", got, w)
				}
			})
		}
	}
}
