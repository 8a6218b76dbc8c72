package frontline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/crm"
)

// strictCustomers refuses what the real back ends refuse: an id or index
// value over 1,500 bytes (Firestore; Strapi answers 414 to the URL).
type strictCustomers struct{ calls int }

var errTooLarge = fmt.Errorf("strictCustomers: value over 1500 bytes")

func (s *strictCustomers) Customer(_ context.Context, id string) (crm.Customer, error) {
	s.calls++
	if len(id) > 1500 {
		return crm.Customer{}, errTooLarge
	}
	return crm.Customer{}, crm.ErrNotFound
}

func (s *strictCustomers) List(_ context.Context, q crm.ListQuery) (crm.Page, error) {
	s.calls++
	for _, v := range []string{q.Worker, q.Prefix} {
		if len(v) > 1500 {
			return crm.Page{}, errTooLarge
		}
	}
	if q.After != nil && (len(q.After.NameKey) > 1500 || len(q.After.ID) > 1500) {
		return crm.Page{}, errTooLarge
	}
	return crm.Page{}, nil
}

// TestOversizedParameters sends the CRM callback ids, search texts and
// page tokens far longer than any real one: each gets a 400 naming the
// parameter, never reaches the CRM, and is logged in one short line.
func TestOversizedParameters(t *testing.T) {
	long := func(n int) string { return strings.Repeat("9", n) }
	list := func(kv ...string) url.Values {
		v := url.Values{"Location": {"GetCustomersList"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name  string
		form  url.Values
		want  int
		calls int // calls the CRM gets
	}{
		{"CustomerId of 100,000 characters", url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {long(100_000)}}, 400, 0},
		{"CustomerId of 257 characters", url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {long(MaxField + 1)}}, 400, 0},
		{"CustomerId of 257 multi-byte characters", url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {strings.Repeat("é", MaxField+1)}}, 400, 0},
		{"CustomerId of 256 characters", url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {long(MaxField)}}, 404, 1},
		{"Query of 5,000 characters", list("Query", strings.Repeat("maria ", 1000)[:5000]), 400, 0},
		{"Query of 256 four-byte characters", list("Query", strings.Repeat("𝔐", MaxField)), 200, 1},
		{"Anchor of 100,000 characters", list("Anchor", long(100_000)), 400, 0},
		{"Worker of 5,000 characters", list("Worker", strings.Repeat("w", 5000)+"@example.com"), 400, 0},
		{"page token with a 5,000-character name", list("NextPageToken", encodeCursor(crm.Cursor{NameKey: strings.Repeat("m", 5000), ID: "1"})), 400, 0},
		{"page token with a 100,000-character id", list("NextPageToken", encodeCursor(crm.Cursor{NameKey: "maria", ID: long(100_000)})), 400, 0},
		{"Location of 100,000 characters", url.Values{"Location": {long(100_000)}}, 422, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			customers := &strictCustomers{}
			h := CRMHandler(customers, nil, slog.New(slog.NewJSONHandler(&logs, nil)))
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if err := req.ParseForm(); err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d: %.200s", rec.Code, tt.want, rec.Body)
			}
			if customers.calls != tt.calls {
				t.Errorf("the CRM got %d calls, want %d", customers.calls, tt.calls)
			}
			if rec.Body.Len() > 300 {
				t.Errorf("answer of %d bytes: %.200s…", rec.Body.Len(), rec.Body)
			}
			if tt.want >= 400 {
				var body struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
					t.Errorf("no explanation: %q", rec.Body)
				}
				if logs.Len() == 0 && tt.want != 404 {
					t.Error("refusal not logged")
				}
			}
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				if len(line) > 500 {
					t.Errorf("log line of %d bytes: %.200s…", len(line), line)
				}
			}
		})
	}
}

// TestOutgoingOversizedParameters: the outgoing callback quotes no
// oversized value whole, in its answer or its log.
func TestOutgoingOversizedParameters(t *testing.T) {
	huge := strings.Repeat("x", 100_000)
	for _, form := range []url.Values{
		{"Location": {huge}},
		{"Location": {"GetProxyAddress"}, "ChannelType": {huge}, "ChannelValue": {"+33679500001"}},
		{"Location": {"GetProxyAddress"}, "ChannelType": {"sms"}, "ChannelValue": {"+1" + huge}, "Worker": {huge}},
		{"Location": {"GetProxyAddress"}, "ChannelType": {"sms"}, "ChannelValue": {"+33679500001"}, "CustomerId": {huge}},
	} {
		var logs bytes.Buffer
		h := OutgoingHandler(ProxyNumbers{ByCountry: map[string]string{"FR": "+33700000000"}}, slog.New(slog.NewJSONHandler(&logs, nil)))
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := req.ParseForm(); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 || rec.Body.Len() > 300 {
			t.Errorf("%d, answer of %d bytes: %.200s", rec.Code, rec.Body.Len(), rec.Body)
		}
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if len(line) > 500 {
				t.Errorf("log line of %d bytes: %.200s…", len(line), line)
			}
		}
	}
}
