package app_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/logging"
)

// TestLogsCarryTheRequestTrace: every line logged for a request that came
// with a trace header (Cloud Run sends both) carries Cloud Logging's trace
// fields for the App's project, whichever function served it; a request
// without one logs none.
func TestLogsCarryTheRequestTrace(t *testing.T) {
	h := apptest.New(t, apptest.Options{Store: apptest.Firestore})
	trace := "projects/" + h.Config.Project + "/traces/"
	tests := []struct {
		name      string
		header    map[string]string
		request   func() (function.Name, *http.Request)
		message   string // what the function logs for the request
		wantTrace string // "": no trace field
		wantSpan  string
	}{
		{
			name:   "X-Cloud-Trace-Context on a forged webhook",
			header: map[string]string{"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/81;o=1"},
			request: func() (function.Name, *http.Request) {
				r := h.SignedForm("crm", url.Values{"Location": {"GetTemplatesByCustomerId"}})
				r.Header.Set("X-Twilio-Signature", "forged")
				return "crm", r
			},
			message: "webhook rejected", wantTrace: trace + "105445aa7843bc8bf206b12000100000", wantSpan: "0000000000000051",
		},
		{
			name:   "traceparent on a signed routing callback",
			header: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
			request: func() (function.Name, *http.Request) {
				return "routing", h.SignedForm("routing", url.Values{"ConversationSid": {"nonsense"}})
			},
			message:   "routing callback without a valid ConversationSid",
			wantTrace: trace + "4bf92f3577b34da6a3ce929d0e0e4736", wantSpan: "00f067aa0ba902b7",
		},
		{
			name:   "traceparent on an unauthenticated sync",
			header: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"},
			request: func() (function.Name, *http.Request) {
				return "sync", httptest.NewRequest(http.MethodPost, "/", nil)
			},
			message: "sync request refused", wantTrace: trace + "0af7651916cd43dd8448eb211c80319c", wantSpan: "b7ad6b7169203331",
		},
		{
			name: "no header",
			request: func() (function.Name, *http.Request) {
				r := h.SignedForm("outgoing", url.Values{"Location": {"GetTemplatesByCustomerId"}})
				return "outgoing", r
			},
			message: "outgoing callback: unknown location",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, r := tt.request()
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			before := len(h.Logs.Lines(tt.message))
			h.Serve(name, r)
			lines := h.Logs.Lines(tt.message)
			if len(lines) != before+1 {
				t.Fatalf("%q logged %d times, want once", tt.message, len(lines)-before)
			}
			line := lines[len(lines)-1]
			if got, _ := line[logging.TraceKey].(string); got != tt.wantTrace {
				t.Errorf("trace = %q, want %q: %v", got, tt.wantTrace, line)
			}
			if got, _ := line[logging.SpanKey].(string); got != tt.wantSpan {
				t.Errorf("span = %q, want %q: %v", got, tt.wantSpan, line)
			}
			if line[logging.FunctionKey] != string(name) {
				t.Errorf("function = %v, want %s", line[logging.FunctionKey], name)
			}
		})
	}
}
