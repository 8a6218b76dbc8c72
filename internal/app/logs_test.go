package app_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/strapitest"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// TestLogsKeepSecretsAndNumbers drives every function through a day's
// work, failures included, with customers' real-looking numbers and the
// configured secrets, then reads every log line: no secret may appear, nor
// eight digits in a row of a customer's number.
func TestLogsKeepSecretsAndNumbers(t *testing.T) {
	h := apptest.New(t, apptest.Options{StrapiVersion: 5, StrapiCustomers: 40,
		Env: config.Env{"RETURNING_CUSTOMER": "offer", "FALLBACK_WORKER": "bob@example.com"}})
	ctx := t.Context()
	cfg := h.Config
	stranger := "+16505550142" // texts in, in no CRM
	numbers := []string{stranger, "+33679500001", "+447491000002", "+5521989500003", "+33612340001"}

	do := func(name function.Name, r *http.Request) *httptest.ResponseRecorder {
		t.Helper()
		rec := h.Serve(name, r)
		if rec.Code >= 500 {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
		return rec
	}
	syncReq := func(header map[string]string, body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		for k, v := range header {
			r.Header.Set(k, v)
		}
		return r
	}
	bearer := map[string]string{"Authorization": "Bearer " + apptest.WebhookSecret}
	hook := func(event string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + apptest.WebhookSecret,
			"Content-Type": "application/json", "X-Strapi-Event": event}
	}

	// Sync: a run cut short by Strapi, resumed; webhooks; refusals.
	h.Strapi.InjectFault(strapitest.Fault{Route: strapitest.RouteList, After: 0, Status: 503})
	h.Serve("sync", syncReq(bearer, "")) // 500: Strapi is down
	h.Strapi.ClearFaults()
	do("sync", syncReq(bearer, ""))
	e, _ := h.Strapi.Update("7", func(c *crm.Customer) {
		c.Channels = append(c.Channels, crm.Channel{Type: "whatsapp", Value: "whatsapp:+33 6 12 34 56 78"})
	})
	do("sync", syncReq(hook("entry.update"), string(h.Strapi.WebhookBody("entry.update", e))))
	e, _ = h.Strapi.Delete("8")
	do("sync", syncReq(hook("entry.delete"), string(h.Strapi.WebhookBody("entry.delete", e))))
	do("sync", syncReq(hook("entry.update"), `{"event":"entry.update","entry":{"id":9,"customer_id":"+33679500001","channels":"+447491000002"}}`))
	do("sync", syncReq(map[string]string{"Authorization": "Bearer " + apptest.StrapiAPIToken}, ""))
	do("sync", syncReq(map[string]string{"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.eyJlbWFpbCI6IisxNjUwNTU1MDE0MiJ9.x"}, ""))
	do("sync", syncReq(map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("a:"+apptest.WebhookSecret))}, ""))

	customers := h.Strapi.Customers()
	for _, c := range customers {
		for _, ch := range c.Channels {
			numbers = append(numbers, ch.Value)
		}
	}

	// The Frontline app: lists, details, outgoing conversations.
	for _, c := range customers {
		do("crm", h.SignedForm("crm", url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {c.ID}, "Worker": {"ann@example.com"}}))
		for _, ch := range c.Channels {
			do("outgoing", h.SignedForm("outgoing", url.Values{"Location": {"GetProxyAddress"}, "Worker": {"ann@example.com"},
				"CustomerId": {c.ID}, "ChannelType": {ch.Type}, "ChannelValue": {ch.Value}}))
		}
	}
	for _, p := range []url.Values{
		{"Location": {"GetCustomersList"}, "Worker": {"ann@example.com"}, "PageSize": {"7"}},
		{"Location": {"GetCustomersList"}, "Query": {stranger}},
		{"Location": {"GetCustomersList"}, "Anchor": {stranger}},
		{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {stranger}},
		{"Location": {stranger}},
	} {
		do("crm", h.SignedForm("crm", p))
	}
	for _, p := range []url.Values{
		{"Location": {"GetProxyAddress"}, "ChannelType": {"chat"}, "ChannelValue": {stranger}},
		{"Location": {"GetProxyAddress"}, "ChannelType": {"sms"}, "ChannelValue": {"whatsapp:whatsapp:" + stranger}},
		{"Location": {"GetProxyAddress" + stranger}},
	} {
		do("outgoing", h.SignedForm("outgoing", p))
	}

	// Forgeries, which the signature check logs.
	for _, name := range twilioFacing() {
		r := h.SignedForm(name, url.Values{"Author": {stranger}})
		r.Header.Set("X-Twilio-Signature", "forged")
		r.Header.Set("User-Agent", "curl from "+stranger)
		r.URL.RawQuery = "From=" + url.QueryEscape(stranger)
		h.Serve(name, r)
	}

	// Conversations: customers text in, the bot answers, workers join.
	h.Twilio.AddWorker("ann@example.com", true, map[string]any{"full_name": "Ann", "phone": "+33612340001"}, h.Twilio.QueueSID())
	h.Twilio.AddWorker("bob@example.com", false, nil, h.Twilio.QueueSID())
	texters := []string{stranger, customers[0].Channels[0].Value, "whatsapp:" + customers[2].Channels[0].Value}
	for i, from := range texters {
		to := apptest.ProxyNumber
		if strings.HasPrefix(from, "whatsapp:") {
			to = "whatsapp:" + to
		}
		for _, body := range []string{"hello, I am " + from, "AGENT", "bob@example.com", "call me on " + from} {
			if i == 1 && body == "AGENT" {
				// Twilio fails for a while: the flow logs the errors.
				for range 8 {
					h.Twilio.FailNext(http.MethodPost, "/v1/Conversations", http.StatusServiceUnavailable, 0)
				}
			}
			res, err := h.Twilio.CustomerTexts(ctx, from, to, body)
			if err != nil {
				t.Fatalf("%s texts %q: %v", from, body, err)
			}
			if body == "AGENT" && slices.ContainsFunc(h.Twilio.Participants(res.ConversationSID), func(p twiliotest.Participant) bool {
				return p.Identity == "ann@example.com"
			}) {
				if _, err := h.Twilio.WorkerTexts(ctx, res.ConversationSID, "ann@example.com", "Hi, Ann here, call me on +33612340001"); err != nil {
					t.Errorf("worker text: %v", err)
				}
			}
		}
	}
	if n := len(h.Twilio.Deliveries()); n == 0 {
		t.Error("no webhook was delivered to the flow")
	}

	// Strapi drops its connections: lookups that fall through to it fail
	// with errors naming the request, its query holding the number
	// URL-encoded (filters…=%2B447491000002, whatsapp%3A%2B447491000002).
	h.Strapi.InjectFault(strapitest.Fault{Drop: true})
	for _, from := range []string{"+447491000002", "whatsapp:+5521989500003"} {
		to := apptest.ProxyNumber
		if strings.HasPrefix(from, "whatsapp:") {
			to = "whatsapp:" + to
		}
		if _, err := h.Twilio.CustomerTexts(ctx, from, to, "hello while Strapi is down"); err != nil {
			t.Errorf("%s texts while Strapi is down: %v", from, err)
		}
	}
	// 503: the CRM is unavailable, which is the truth.
	h.Serve("crm", h.SignedForm("crm", url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {"+447491000002"}}))
	h.Strapi.ClearFaults()
	h.WaitWork(t)
	if !strings.Contains(h.Logs.String(), "naming the conversation by number") {
		t.Error("no failed lookup was logged while Strapi was down")
	}

	logs := h.Logs.String()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) < 20 {
		t.Fatalf("only %d log lines: the run did not log what it should:\n%s", len(lines), logs)
	}
	secrets := map[string]string{
		"TWILIO_AUTH_TOKEN":     cfg.TwilioAuthToken,
		"STRAPI_API_TOKEN":      cfg.CRM.APIToken,
		"STRAPI_WEBHOOK_SECRET": cfg.CRM.WebhookSecret,
		"Twilio Basic auth":     base64.StdEncoding.EncodeToString([]byte(cfg.TwilioAccountSID + ":" + cfg.TwilioAuthToken)),
	}
	var leaks int
	for i, line := range lines {
		for name, s := range secrets {
			if strings.Contains(line, s[:len(s)/2]) {
				leaks++
				t.Errorf("log line %d holds %s: %s", i+1, name, line)
			}
		}
		var rec map[string]any
		err := json.Unmarshal([]byte(line), &rec)
		if msg, _ := rec["message"].(string); err != nil || msg == "" || rec["severity"] == nil {
			t.Errorf("log line %d is not a Cloud Logging record: %s", i+1, line)
		}
		if strings.Count(line, `"message":`) != 1 {
			t.Errorf("log line %d repeats the message key; Cloud Logging keeps the last: %s", i+1, line)
		}
		if n := phoneLeak(line, numbers); n != "" {
			leaks++
			t.Errorf("log line %d holds digits of %s: %s", i+1, n, line)
		}
	}
	if t.Failed() {
		t.Logf("the logs:\n%s", logs)
	}
	t.Logf("logs: %d lines from %d numbers and %d secrets, %d leaks", len(lines), len(numbers), len(secrets), leaks)
}

var (
	sidPattern = regexp.MustCompile(`\b[A-Z]{2}[0-9a-fA-F]{32}\b`)
	// separated joins digits split by up to two of " .-()/".
	separated = regexp.MustCompile(`(\d)[ .\-()/]{1,2}(\d)`)
	digitRuns = regexp.MustCompile(`\d{8,}`)
)

// phoneLeak returns the number of which line shows eight digits in a row,
// written together or split by separators, or "".
func phoneLeak(line string, numbers []string) string {
	line = sidPattern.ReplaceAllString(line, "SID") // 32 hex digits, not a number
	joined := line
	for {
		next := separated.ReplaceAllString(joined, "$1$2")
		if next == joined {
			break
		}
		joined = next
	}
	runs := slices.Concat(digitRuns.FindAllString(line, -1), digitRuns.FindAllString(joined, -1))
	for _, n := range numbers {
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, n)
		for i := 0; i+8 <= len(digits); i++ {
			for _, run := range runs {
				if strings.Contains(run, digits[i:i+8]) {
					return fmt.Sprintf("%s (%s)", n, digits[i:i+8])
				}
			}
		}
	}
	return ""
}

// TestPhoneLeak checks the detector TestLogsKeepSecretsAndNumbers relies on.
func TestPhoneLeak(t *testing.T) {
	numbers := []string{"+33679500001", "whatsapp:+447491000002"}
	tests := []struct {
		line string
		leak bool
	}{
		{`{"message":"from +33679500001"}`, true},
		{`{"address":"+33 6 79 50 00 01"}`, true},
		{`{"url":"/v1/Conversations?Address=%2B447491000002"}`, true},
		{`{"err":"Get \"http://s/api/customers?v=whatsapp%3A%2B447491000002\": EOF"}`, true},
		{`{"err":"Get \"http://s/api/customers?v=whatsapp%3A%2B**********02\": EOF"}`, false},
		{`{"n":"0033679500001"}`, true},
		{`{"part":"67950000"}`, true},
		{`{"message":"from +*********01"}`, false},
		{`{"sid":"CH00000000000000000000000000000001","conv":"CH33679500001000000000000000000000"}`, false},
		{`{"time":"2026-11-25T06:00:00.123456789Z","elapsed":"1.5s"}`, false},
	}
	for _, tt := range tests {
		if got := phoneLeak(tt.line, numbers) != ""; got != tt.leak {
			t.Errorf("phoneLeak(%s) = %t, want %t", tt.line, got, tt.leak)
		}
	}
}
