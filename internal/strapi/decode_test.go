package strapi

import (
	"reflect"
	"testing"

	"github.com/experthub/experthub/internal/crm"
)

func TestParseEntry(t *testing.T) {
	sms := []crm.Channel{{Type: "sms", Value: "+33679500001"}}
	tests := []struct {
		name string
		raw  string
		want entry
	}{
		{
			name: "v5 flat with documentId",
			raw: `{"id":2,"documentId":"ev8pgcua1mnr7wmekdx5d514","display_name":"Maria Sanchez","customer_id":1,
				"avatar":"https://example.com/face1.jpeg","createdAt":"2026-11-25T05:15:47.341Z","publishedAt":"2026-11-25T05:15:47.346Z",
				"channels":[{"id":2,"type":"sms","value":"+33679500001"}]}`,
			want: entry{customer: crm.Customer{ID: "1", SourceKey: "ev8pgcua1mnr7wmekdx5d514", DisplayName: "Maria Sanchez",
				Avatar: "https://example.com/face1.jpeg", Channels: sms}, rowID: "2", hasCustomerID: true, populated: true, published: true, shape: 5},
		},
		{
			name: "v4 attributes",
			raw:  `{"id":1,"attributes":{"display_name":"Maria Sanchez","customer_id":1,"publishedAt":"x","channels":[{"id":1,"type":"sms","value":"+33679500001"}]}}`,
			want: entry{customer: crm.Customer{ID: "1", SourceKey: "1", DisplayName: "Maria Sanchez", Channels: sms},
				rowID: "1", hasCustomerID: true, populated: true, published: true, shape: 4},
		},
		{
			name: "v5 answering in v4 format keeps documentId as key",
			raw:  `{"id":7,"documentId":"abc","attributes":{"customer_id":3}}`,
			want: entry{customer: crm.Customer{ID: "3", SourceKey: "abc"}, rowID: "7", hasCustomerID: true, published: true, shape: 4},
		},
		{
			name: "v3 flat, snake_case, no D&P field",
			raw:  `{"id":1,"display_name":"Maria Sanchez","customer_id":1,"channels":[{"id":1,"type":"SMS","value":" +33679500001 "}],"created_at":"x"}`,
			want: entry{customer: crm.Customer{ID: "1", SourceKey: "1", DisplayName: "Maria Sanchez", Channels: sms},
				rowID: "1", hasCustomerID: true, populated: true, published: true},
		},
		{
			name: "v3 draft",
			raw:  `{"id":4,"customer_id":4,"published_at":null}`,
			want: entry{customer: crm.Customer{ID: "4", SourceKey: "4"}, rowID: "4", hasCustomerID: true},
		},
		{
			name: "customer_id as string, float and exponent",
			raw:  `{"id":9,"customer_id":" 42 "}`,
			want: entry{customer: crm.Customer{ID: "42", SourceKey: "9"}, rowID: "9", hasCustomerID: true, published: true},
		},
		{
			name: "customer_id 7.0",
			raw:  `{"id":9,"customer_id":7.0}`,
			want: entry{customer: crm.Customer{ID: "7", SourceKey: "9"}, rowID: "9", hasCustomerID: true, published: true},
		},
		{
			name: "customer_id 1e3",
			raw:  `{"id":9,"customer_id":1e3}`,
			want: entry{customer: crm.Customer{ID: "1000", SourceKey: "9"}, rowID: "9", hasCustomerID: true, published: true},
		},
		{
			name: "null customer_id falls back to documentId",
			raw:  `{"id":9,"documentId":"doc9","customer_id":null,"publishedAt":null}`,
			want: entry{customer: crm.Customer{ID: "doc9", SourceKey: "doc9"}, rowID: "9", shape: 5},
		},
		{
			name: "absent customer_id falls back to the prefixed id",
			raw:  `{"id":12,"display_name":"No Id"}`,
			want: entry{customer: crm.Customer{ID: "strapi-12", SourceKey: "12", DisplayName: "No Id"}, rowID: "12", published: true},
		},
		{
			name: "worker, links and details object",
			raw: `{"id":1,"customer_id":5,"worker":" Alice@Example.COM ","links":[{"id":1,"type":"web","value":"https://x","display_name":"X"},{"type":"web"},7],
				"details":{"id":3,"title":"T","content":"C"}}`,
			want: entry{customer: crm.Customer{ID: "5", SourceKey: "1", Worker: "alice@example.com",
				Links:   []crm.Link{{Type: "web", Value: "https://x", DisplayName: "X"}},
				Details: &crm.Details{Title: "T", Content: "C"}}, rowID: "1", hasCustomerID: true, published: true},
		},
		{
			name: "details as plain text",
			raw:  `{"id":1,"customer_id":5,"details":"Likes jazz"}`,
			want: entry{customer: crm.Customer{ID: "5", SourceKey: "1", Details: &crm.Details{Content: "Likes jazz"}},
				rowID: "1", hasCustomerID: true, published: true},
		},
		{
			name: "mistyped fields are dropped, not fatal",
			raw: `{"id":1,"customer_id":5,"display_name":{"x":1},"avatar":true,"channels":{"type":"sms"},"details":[1],
				"links":"nope","unknown":{"deep":[1,2]}}`,
			want: entry{customer: crm.Customer{ID: "5", SourceKey: "1"}, rowID: "1", hasCustomerID: true, populated: true, published: true},
		},
		{
			name: "channels without value are skipped",
			raw:  `{"id":1,"customer_id":5,"channels":[{"type":"sms"},{"type":"sms","value":""},null,{"type":"chat","value":"Bob"}]}`,
			want: entry{customer: crm.Customer{ID: "5", SourceKey: "1", Channels: []crm.Channel{{Type: "chat", Value: "Bob"}}},
				rowID: "1", hasCustomerID: true, populated: true, published: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEntry([]byte(tt.raw))
			if err != nil {
				t.Fatalf("parseEntry: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseEntry =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestParseEntryErrors(t *testing.T) {
	for _, raw := range []string{``, `null`, `[]`, `"x"`, `{}`, `{"display_name":"x"}`, `{"id":null,"customer_id":null}`, `{"id":`} {
		if e, err := parseEntry([]byte(raw)); err == nil {
			t.Errorf("parseEntry(%q) = %+v, want an error", raw, e)
		}
	}
}

func TestDecodeList(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		ids      []string
		rows     int
		pageSize int
		wantErr  bool
	}{
		{"v3 array", `[{"id":1,"customer_id":1},{"id":2,"customer_id":2}]`, []string{"1", "2"}, 2, 0, false},
		{"v5 page", `{"data":[{"id":2,"documentId":"a","customer_id":1}],"meta":{"pagination":{"page":1,"pageSize":100}}}`, []string{"1"}, 1, 100, false},
		{"offset meta", `{"data":[],"meta":{"pagination":{"start":0,"limit":50,"total":0}}}`, nil, 0, 50, false},
		{"unusable rows still count", `{"data":[7,{"id":3,"customer_id":3},null],"meta":{}}`, []string{"3"}, 3, 0, false},
		{"error body", `{"data":null,"error":{"status":400}}`, nil, 0, 0, true},
		{"not JSON", `<html>`, nil, 0, 0, true},
		{"empty", ``, nil, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := decodeList([]byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			var ids []string
			for _, e := range p.entries {
				ids = append(ids, e.customer.ID)
			}
			if !reflect.DeepEqual(ids, tt.ids) || p.rows != tt.rows || p.pageSize != tt.pageSize {
				t.Errorf("got ids %v rows %d pageSize %d, want %v %d %d", ids, p.rows, p.pageSize, tt.ids, tt.rows, tt.pageSize)
			}
		})
	}
}

func TestNewError(t *testing.T) {
	tests := []struct {
		body, name, msg string
	}{
		{`{"data":null,"error":{"status":401,"name":"UnauthorizedError","message":"Missing or invalid credentials"}}`, "UnauthorizedError", "Missing or invalid credentials"},
		{`{"statusCode":400,"error":"Bad Request","message":[{"messages":[{"id":"Auth.form.error.invalid"}]}]}`, "Bad Request", ""},
		{`{"statusCode":403,"error":"Forbidden","message":"Forbidden"}`, "Forbidden", "Forbidden"},
		{`Bad Gateway`, "", ""},
	}
	for _, tt := range tests {
		e := newError("GET", "/api/customers", 400, []byte(tt.body))
		if e.Name != tt.name || e.Message != tt.msg {
			t.Errorf("newError(%s) = %q/%q, want %q/%q", tt.body, e.Name, e.Message, tt.name, tt.msg)
		}
	}
}
