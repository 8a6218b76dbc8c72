package app_test

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
	"github.com/experthub/experthub/internal/webhook"
)

// TestHostileInput sends every Twilio-facing function correctly signed
// requests with content no handler expects. Each gets a clear 4xx or a
// 2xx, never a 5xx, and the pre-event hook answers 200 to whatever got
// past the signature check: any other status would drop the customer's
// message (https://www.twilio.com/docs/conversations/conversations-webhooks).
func TestHostileInput(t *testing.T) {
	h := apptest.New(t, apptest.Options{Env: config.Env{"PUBLIC_BASE_URL": publicBase}})
	const form = "application/x-www-form-urlencoded"
	huge := strings.Repeat("x", webhook.MaxBody)
	var tried int
	for _, name := range twilioFacing() {
		t.Run(string(name), func(t *testing.T) {
			if !wired(h, name) {
				t.Logf("%s: not registered by app.New yet, nothing to check", name)
				return
			}
			valid := validParams(name)
			with := func(kv ...string) url.Values {
				p := maps.Clone(valid)
				for i := 0; i+1 < len(kv); i += 2 {
					p.Set(kv[i], kv[i+1])
				}
				return p
			}
			tests := []struct {
				name        string
				contentType string
				params      url.Values // signed and sent as the body
				rawBody     string     // sent instead, signed as params
				want        int        // 0: any 2xx or 4xx
			}{
				{name: "oversized body", contentType: form, params: url.Values{"Body": {huge}}, want: 413},
				{name: "JSON without bodySHA256", contentType: "application/json", rawBody: `{"Location":"GetCustomersList"}`, params: url.Values{}, want: 415},
				{name: "text/plain", contentType: "text/plain", params: valid, want: 415},
				{name: "multipart", contentType: "multipart/form-data; boundary=x", params: valid, want: 415},
				{name: "no content type", params: valid, want: 415},
				{name: "empty form", contentType: form, params: url.Values{}},
				{name: "unknown Location", contentType: form, params: with("Location", "GetTemplatesByCustomerId")},
				{name: "Location of another function", contentType: form, params: with("Location", "GetProxyAddress")},
				{name: "unknown event", contentType: form, params: with("EventType", "onSomethingNew")},
				{name: "post-event type to pre-event", contentType: form, params: with("EventType", "onMessageAdded")},
				{name: "attributes not JSON", contentType: form, params: with("Attributes", "{not json")},
				{name: "attributes a JSON string", contentType: form, params: with("Attributes", `"{}"`)},
				{name: "attributes huge", contentType: form, params: with("Attributes", `{"a":"`+strings.Repeat("y", 64<<10)+`"}`)},
				{name: "media not JSON", contentType: form, params: with("Media", "[{")},
				{name: "invalid UTF-8", contentType: form, params: with("Body", "\xff\xfe", "Author", "\xc0", "Worker", "\xed\xa0\x80")},
				{name: "NUL bytes", contentType: form, params: with("Body", "a\x00b", "CustomerId", "1\x00", "ConversationSid", "CH\x00")},
				{name: "long values", contentType: form, params: with("Body", strings.Repeat("é", 100<<10), "CustomerId", strings.Repeat("9", 10<<10))},
				{name: "customer id with a path", contentType: form, params: with("CustomerId", "../../customers/2", "ConversationSid", "../CH1")},
				{name: "page size huge", contentType: form, params: with("Location", "GetCustomersList", "PageSize", "99999999999999999999999")},
				{name: "page size negative", contentType: form, params: with("Location", "GetCustomersList", "PageSize", "-5")},
				{name: "page token garbage", contentType: form, params: with("Location", "GetCustomersList", "NextPageToken", "%%%\x00")},
				{name: "unknown anchor", contentType: form, params: with("Location", "GetCustomersList", "Anchor", "nobody")},
				{name: "channel unknown", contentType: form, params: with("ChannelType", "carrier-pigeon", "ChannelValue", "coo")},
				{name: "address not a number", contentType: form, params: with("ChannelValue", "whatsapp:whatsapp:", "MessagingBinding.Address", "+", "Author", "+")},
				{name: "sid of the wrong kind", contentType: form, params: with("ConversationSid", "WS00000000000000000000000000000000", "ParticipantSid", "x")},
				{name: "unknown conversation", contentType: form, params: with("ConversationSid", "CH0000000000000000000000000000ffff")},
			}
			for _, tt := range tests {
				body := tt.rawBody
				if body == "" {
					body = tt.params.Encode()
				}
				r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
				if tt.contentType != "" {
					r.Header.Set("Content-Type", tt.contentType)
				}
				r.Header.Set("X-Twilio-Signature", twiliotest.Sign(h.Config.TwilioAuthToken, h.Config.PublicURL(name), tt.params))
				rec := h.Serve(name, r)
				tried++
				got := strings.TrimSpace(rec.Body.String())
				if len(got) > 200 {
					got = got[:200] + "…"
				}
				switch {
				case tt.want != 0:
					if rec.Code != tt.want {
						t.Errorf("%s: %d %s, want %d", tt.name, rec.Code, got, tt.want)
					}
				case name == "pre-event":
					if rec.Code != http.StatusOK {
						t.Errorf("%s: %d %s, want 200: a customer's message would be dropped", tt.name, rec.Code, got)
					}
				case rec.Code >= 500 || rec.Code < 200 || rec.Code >= 300 && rec.Code < 400:
					t.Errorf("%s: %d %s, want a 2xx or a clear 4xx", tt.name, rec.Code, got)
				case rec.Code >= 400 && got == "":
					t.Errorf("%s: %d with no explanation", tt.name, rec.Code)
				}
			}
		})
	}
	t.Logf("hostile input: %d signed requests", tried)
}

// TestOversizedCRMParameters sends the crm callback, on Firestore with
// Strapi behind it, ids and search texts longer than any real one:
// Strapi answers 414 to such a URL and Firestore refuses index values over
// 1,500 bytes, which were 503s. Each is a 400 now, logged in a short line.
func TestOversizedCRMParameters(t *testing.T) {
	h := apptest.New(t, apptest.Options{Store: apptest.Firestore, StrapiVersion: 5, StrapiCustomers: 5})
	tests := []struct {
		name   string
		params url.Values
	}{
		{"CustomerId of 100,000 characters", url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {strings.Repeat("9", 100_000)}}},
		{"Query of 5,000 characters", url.Values{"Location": {"GetCustomersList"}, "Query": {strings.Repeat("m", 5000)}}},
		{"Anchor of 5,000 characters", url.Values{"Location": {"GetCustomersList"}, "Anchor": {strings.Repeat("9", 5000)}}},
		{"Worker of 5,000 characters", url.Values{"Location": {"GetCustomersList"}, "Worker": {strings.Repeat("w", 5000)}}},
	}
	for _, tt := range tests {
		rec := h.Serve("crm", h.SignedForm("crm", tt.params))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %.200s, want 400", tt.name, rec.Code, rec.Body)
		}
	}
	for i, line := range strings.Split(strings.TrimSpace(h.Logs.String()), "\n") {
		if len(line) > 1000 {
			t.Errorf("log line %d of %d bytes: %.200s…", i+1, len(line), line)
		}
	}
}

// TestSignedGET sends every Twilio-facing function its valid request as a
// webhook configured with method GET sends it: the parameters in the
// signed URL's query. pre-event reads them, as any other answer than 2xx
// would drop the customer's message, and answers exactly as to the POST;
// every other function answers 405 with Allow: POST and says how to fix
// the configuration, never half-handling a request it cannot read.
func TestSignedGET(t *testing.T) {
	h := apptest.New(t, apptest.Options{Env: config.Env{"PUBLIC_BASE_URL": publicBase}})
	for _, name := range twilioFacing() {
		t.Run(string(name), func(t *testing.T) {
			p := validParams(name)
			if name == "pre-event" {
				p = url.Values{"AccountSid": {twiliotest.DefaultAccountSID}, "EventType": {"onConversationAdd"}, "Source": {"SMS"},
					"MessagingBinding.Address": {"+33679500001"}, "MessagingBinding.ProxyAddress": {apptest.ProxyNumber}, "RetryCount": {"0"}}
			}
			r := httptest.NewRequest(http.MethodGet, "/?"+p.Encode(), nil)
			r.Header.Set("X-Twilio-Signature", twiliotest.Sign(h.Config.TwilioAuthToken, h.Config.PublicURL(name)+"?"+p.Encode(), nil))
			rec := h.Serve(name, r)
			got := strings.TrimSpace(rec.Body.String())
			if name != "pre-event" {
				if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" ||
					!strings.Contains(got, "configure the webhook with method POST") {
					t.Errorf("signed GET: %d %q, Allow %q; want 405 naming the fix, Allow: POST", rec.Code, got, rec.Header().Get("Allow"))
				}
				return
			}
			post := strings.TrimSpace(h.Serve(name, h.SignedForm(name, p)).Body.String())
			if rec.Code != http.StatusOK || got != post || !strings.Contains(got, "friendly_name") {
				t.Errorf("signed GET: %d %s; want 200 and the POST's answer %s", rec.Code, got, post)
			}
		})
	}
	if n := strings.Count(h.Logs.String(), "configure the webhook with method POST"); n != len(twilioFacing()) {
		t.Errorf("%d log lines say how to fix the method, want one per function (%d)", n, len(twilioFacing()))
	}
}
