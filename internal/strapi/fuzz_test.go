package strapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/crm"
)

// The seeds sit in testdata/fuzz/<Target>; these add the spec's shapes.
var fuzzSeeds = []string{
	`[{"id":1,"display_name":"Maria Sanchez","customer_id":1,"channels":[{"id":1,"type":"sms","value":"+33679500001"}]}]`,
	`{"data":[{"id":1,"attributes":{"customer_id":1,"channels":[{"type":"sms","value":"+1"}]}}],"meta":{"pagination":{"page":1,"pageSize":25}}}`,
	`{"data":[{"id":2,"documentId":"a","customer_id":"7","details":"x","links":[{"value":"v"}]}],"meta":{}}`,
}

func FuzzDecodeCustomers(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeList(body)
		if err != nil {
			return
		}
		if len(p.entries) > p.rows {
			t.Fatalf("%d entries from %d rows", len(p.entries), p.rows)
		}
		for _, e := range p.entries {
			if e.customer.ID == "" {
				t.Fatalf("entry without ID: %+v", e)
			}
			if e.customer.Worker != strings.ToLower(e.customer.Worker) {
				t.Fatalf("worker not lower-cased: %q", e.customer.Worker)
			}
			for _, ch := range e.customer.Channels {
				if ch.Value == "" {
					t.Fatalf("empty channel value kept: %+v", e.customer)
				}
			}
			// Whatever came in, the customer must serialise for Frontline.
			if _, err := json.Marshal(e.customer); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParseWebhook(f *testing.F) {
	f.Add([]byte(`{"event":"entry.publish","createdAt":"x","model":"customer","uid":"api::customer.customer","entry":{"id":7,"documentId":"d","customer_id":3,"publishedAt":"x","channels":[{"type":"sms","value":"+1"}]}}`))
	f.Add([]byte(`{"event":"entry.delete","created_at":"x","model":"customer","entry":{"id":4,"customer_id":4}}`))
	f.Add([]byte(`{"event":"media.create","media":{}}`))
	c := New(Config{})
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := parseWebhook(body)
		if err != nil {
			return
		}
		if w.name == "" {
			t.Fatalf("event without a name: %+v", w)
		}
		if strings.HasPrefix(w.name, "entry.") && w.entry.customer.ID == "" {
			t.Fatalf("entry event without a customer ID: %+v", w)
		}
		ch := c.change(w)
		if ch.Op != crm.Skip && ch.ID == "" {
			t.Fatalf("%v without an id: %+v", ch.Op, ch)
		}
		if ch.Op == crm.Upsert && ch.Record.ID != ch.ID {
			t.Fatalf("upsert of %q under id %q", ch.Record.ID, ch.ID)
		}
		if ch.Op == crm.Skip && ch.Reason == "" {
			t.Fatalf("skip without a reason: %+v", ch)
		}
	})
}
