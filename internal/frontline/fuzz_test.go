package frontline

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/experthub/experthub/internal/crm"
)

// serveForm serves a verified request carrying form, as webhook.Verifier
// hands it over, and checks what every answer must be: JSON, and a 2xx or
// a 4xx (the store never fails here, so a 5xx is a bug).
func serveForm(t *testing.T, h http.Handler, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.PostForm, r.Form = form, form
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code < 200 || rec.Code >= 500 || rec.Code >= 300 && rec.Code < 400 {
		t.Fatalf("%v: status %d %s", form, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%v: Content-Type %q", form, ct)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%v: answer is not JSON: %q", form, rec.Body)
	}
	return rec
}

// FuzzCRMHandler sends the CRM callback arbitrary parameters.
func FuzzCRMHandler(f *testing.F) {
	f.Add("GetCustomersList", "", "ann@example.com", "30", "", "", "mar")
	f.Add("GetCustomersList", "", "", "2", "1", "", "")
	f.Add("GetCustomersList", "", "", "", "", encodeCursor(crm.Cursor{NameKey: "jo anne", ID: "2"}), "")
	f.Add("GetCustomersList", "", "", "-1", "nobody", "%%%", "\x00")
	f.Add("GetCustomerDetailsByCustomerId", "3", "ann@example.com", "", "", "", "")
	f.Add("GetCustomerDetailsByCustomerId", " ", "", "", "", "", "")
	f.Add("GetTemplatesByCustomerId", "1", "", "", "", "", "")
	f.Add("", "", "", "99999999999999999999", "", "AA", "")
	f.Fuzz(func(t *testing.T, location, customerID, worker, pageSize, anchor, token, query string) {
		h := CRMHandler(sampleService(t), nil, nil)
		form := url.Values{"Location": {location}}
		for k, v := range map[string]string{"CustomerId": customerID, "Worker": worker, "PageSize": pageSize,
			"Anchor": anchor, "NextPageToken": token, "Query": query} {
			if v != "" {
				form.Set(k, v)
			}
		}
		rec := serveForm(t, h, form)
		if rec.Code != http.StatusOK {
			return
		}
		var body struct {
			Objects struct {
				Customers []crm.Customer `json:"customers"`
				Customer  *crm.Customer  `json:"customer"`
				Next      string         `json:"next_page_token"`
			} `json:"objects"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Objects.Customers) > maxPageSize {
			t.Fatalf("%v: %d customers in a page", form, len(body.Objects.Customers))
		}
		if body.Objects.Next != "" {
			if _, err := decodeCursor(body.Objects.Next); err != nil {
				t.Fatalf("%v: next_page_token %q does not decode: %v", form, body.Objects.Next, err)
			}
		}
	})
}

// FuzzOutgoingHandler sends the outgoing-conversation callback arbitrary
// parameters.
func FuzzOutgoingHandler(f *testing.F) {
	f.Add("GetProxyAddress", "sms", "+33679500001")
	f.Add("GetProxyAddress", "whatsapp", "whatsapp:+447491000002")
	f.Add("GetProxyAddress", "chat", "ann@example.com")
	f.Add("GetProxyAddress", "SMS", "whatsapp:whatsapp:+1")
	f.Add("Nope", "", "")
	f.Fuzz(func(t *testing.T, location, channel, address string) {
		h := OutgoingHandler(ProxyNumbers{Default: "+15555550100", ByCountry: map[string]string{"GB": "+445555550100"}}, nil)
		rec := serveForm(t, h, url.Values{"Location": {location}, "ChannelType": {channel}, "ChannelValue": {address},
			"Worker": {"ann@example.com"}, "CustomerId": {"1"}})
		if rec.Code != http.StatusOK {
			return
		}
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["proxy_address"] == "" {
			t.Fatalf("200 without a proxy address: %s", rec.Body)
		}
	})
}
