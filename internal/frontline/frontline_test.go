package frontline

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crm/crmtest"
	"github.com/experthub/experthub/internal/inmem"
)

func post(t *testing.T, h http.Handler, form url.Values) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest("POST", "/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := req.ParseForm(); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("response is not JSON: %q", rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	return rec.Code, body
}

func sampleService(t *testing.T, extra ...crm.Customer) *crm.Service {
	t.Helper()
	store := inmem.NewStore()
	if err := store.Upsert(context.Background(), append(crmtest.SampleCustomers(), extra...)...); err != nil {
		t.Fatal(err)
	}
	return crm.NewService(store, nil, crm.ServiceOptions{})
}

func TestCustomerDetails(t *testing.T) {
	h := CRMHandler(sampleService(t), nil, nil)
	tests := []struct {
		id       string
		want     int
		wantName string
	}{
		{"3", 200, "Susan Smith"}, // by id, not by array position
		{"1", 200, "Maria Sanchez"},
		{"4", 404, ""},
		{"", 400, ""},
	}
	for _, tt := range tests {
		code, body := post(t, h, url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {tt.id}, "Worker": {"ann@example.com"}})
		if code != tt.want {
			t.Errorf("CustomerId=%q: status %d, want %d (%v)", tt.id, code, tt.want, body)
			continue
		}
		if tt.want != 200 {
			continue
		}
		c := body["objects"].(map[string]any)["customer"].(map[string]any)
		if c["display_name"] != tt.wantName || c["customer_id"] != tt.id || c["avatar"] == "" {
			t.Errorf("CustomerId=%q: customer = %v", tt.id, c)
		}
		if _, ok := c["channels"].([]any); !ok {
			t.Errorf("details lack channels: %v", c)
		}
		if _, ok := c["worker"]; ok && tt.id != "" {
			// The sample has no owners; an empty worker must not be sent.
			t.Errorf("empty worker serialised: %v", c)
		}
	}
}

func TestUnknownLocation(t *testing.T) {
	code, _ := post(t, CRMHandler(sampleService(t), nil, nil), url.Values{"Location": {"GetTemplatesByCustomerId"}})
	if code != http.StatusUnprocessableEntity {
		t.Errorf("status %d, want 422", code)
	}
}

func listNames(t *testing.T, body map[string]any) ([]string, string) {
	t.Helper()
	objects := body["objects"].(map[string]any)
	var names []string
	for _, c := range objects["customers"].([]any) {
		m := c.(map[string]any)
		if _, ok := m["channels"]; ok {
			t.Errorf("list item carries channels: %v", m)
		}
		names = append(names, m["display_name"].(string))
	}
	token, _ := objects["next_page_token"].(string)
	return names, token
}

func TestCustomersListPaging(t *testing.T) {
	var extra []crm.Customer
	for i := range 7 {
		extra = append(extra, crm.Customer{ID: fmt.Sprintf("x%d", i), DisplayName: fmt.Sprintf("Zed %d", i), Worker: "bob@example.com"})
	}
	svc := sampleService(t, extra...)
	h := CRMHandler(svc, nil, nil)

	// Walk all pages with the next-page token.
	var all []string
	form := url.Values{"Location": {"GetCustomersList"}, "Worker": {"bob@example.com"}, "PageSize": {"4"}}
	for range 10 {
		code, body := post(t, h, form)
		if code != 200 {
			t.Fatalf("status %d: %v", code, body)
		}
		names, token := listNames(t, body)
		all = append(all, names...)
		if token == "" {
			break
		}
		form.Set("NextPageToken", token)
	}
	want := "Jo Anne,Maria Sanchez,Susan Smith,Zed 0,Zed 1,Zed 2,Zed 3,Zed 4,Zed 5,Zed 6"
	if got := strings.Join(all, ","); got != want {
		t.Errorf("pages = %s\nwant    %s", got, want)
	}

	// Frontline's Anchor (customer_id of the last row) continues the same way.
	code, body := post(t, h, url.Values{"Location": {"GetCustomersList"}, "PageSize": {"2"}, "Anchor": {"1"}})
	names, _ := listNames(t, body)
	if code != 200 || strings.Join(names, ",") != "Susan Smith,Zed 0" {
		t.Errorf("after Anchor=1: %d %v", code, names)
	}

	// Query is a case-insensitive prefix search on the name.
	_, body = post(t, h, url.Values{"Location": {"GetCustomersList"}, "Query": {"  mAr"}})
	if names, _ := listNames(t, body); strings.Join(names, ",") != "Maria Sanchez" {
		t.Errorf("Query=mAr: %v", names)
	}

	// Ann sees the unowned sample but not Bob's customers.
	_, body = post(t, h, url.Values{"Location": {"GetCustomersList"}, "Worker": {"ann@example.com"}})
	if names, _ := listNames(t, body); len(names) != 3 {
		t.Errorf("Ann's list = %v, want the 3 unowned customers", names)
	}
	_, body = post(t, h, url.Values{"Location": {"GetCustomersList"}, "Worker": {"BOB@example.com"}, "PageSize": {"100"}})
	if names, _ := listNames(t, body); len(names) != 10 {
		t.Errorf("Bob's list has %d customers, want 10", len(names))
	}

	for _, bad := range []url.Values{
		{"Location": {"GetCustomersList"}, "PageSize": {"many"}},
		{"Location": {"GetCustomersList"}, "PageSize": {"0"}},
		{"Location": {"GetCustomersList"}, "NextPageToken": {"%%%"}},
		{"Location": {"GetCustomersList"}, "Anchor": {"nobody"}},
	} {
		if code, _ := post(t, h, bad); code != http.StatusBadRequest {
			t.Errorf("%v: status %d, want 400", bad, code)
		}
	}
}

func TestProxyNumbers(t *testing.T) {
	p := ProxyNumbers{Default: "+447828500000", ByCountry: map[string]string{"FR": "+33757500000", "GB": "+447828500001"}}
	tests := []struct{ channel, address, want string }{
		{"sms", "+33679500001", "+33757500000"},
		{"sms", "+447491000002", "+447828500001"},
		{"sms", "+5521989500003", "+447828500000"},
		{"whatsapp", "whatsapp:+33679500001", "whatsapp:+33757500000"},
		{"whatsapp", "+5521989500003", "whatsapp:+447828500000"},
	}
	for _, tt := range tests {
		if got := p.For(tt.channel, tt.address); got != tt.want {
			t.Errorf("For(%s, %s) = %q, want %q", tt.channel, tt.address, got, tt.want)
		}
	}
	if got := (ProxyNumbers{ByCountry: map[string]string{"FR": "+33757500000"}}).For("sms", "+447491000002"); got != "" {
		t.Errorf("no default and no GB number: got %q", got)
	}
}

func TestOutgoingHandler(t *testing.T) {
	h := OutgoingHandler(ProxyNumbers{ByCountry: map[string]string{"FR": "+33757500000"}}, nil)
	form := func(channel, value string) url.Values {
		return url.Values{"Location": {"GetProxyAddress"}, "Worker": {"ann@example.com"}, "CustomerId": {"1"},
			"ChannelType": {channel}, "ChannelValue": {value}}
	}
	code, body := post(t, h, form("whatsapp", "whatsapp:+33679500001"))
	if code != 200 || body["proxy_address"] != "whatsapp:+33757500000" {
		t.Errorf("FR whatsapp: %d %v", code, body)
	}
	code, body = post(t, h, form("sms", "+447491000002"))
	if code != http.StatusForbidden || !strings.Contains(fmt.Sprint(body["error"]), "FRONTLINE_PROXY_NUMBER") {
		t.Errorf("no number fits: %d %v", code, body)
	}
	if code, _ := post(t, h, form("chat", "ann")); code != http.StatusForbidden {
		t.Errorf("chat channel: %d, want 403", code)
	}
	if code, _ := post(t, h, url.Values{"Location": {"Nope"}}); code != http.StatusUnprocessableEntity {
		t.Errorf("unknown location: %d", code)
	}
}
