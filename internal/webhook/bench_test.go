package webhook_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/twilio/twiliotest"
	"github.com/experthub/experthub/internal/webhook"
)

// largeRequests are requests of about MaxBody, all but one refused.
func largeRequests() map[string]func() *http.Request {
	big := "Body=" + strings.Repeat("x", webhook.MaxBody-len("Body=")-1) // just under the limit
	form := url.Values{"Body": {big[len("Body="):]}}
	post := func(body, sig string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			r.Header.Set("X-Twilio-Signature", sig)
		}
		return r
	}
	return map[string]func() *http.Request{
		"unsigned 1 MiB": func() *http.Request { return post(big, "") },
		"forged 1 MiB":   func() *http.Request { return post(big, "Zm9yZ2VkIHNpZ25hdHVyZSE=") },
		"signed, over 1 MiB": func() *http.Request {
			return post(big+strings.Repeat("x", 2), twiliotest.Sign(authToken, publicURL, form))
		},
		"signed 1 MiB (valid)": func() *http.Request { return post(big, twiliotest.Sign(authToken, publicURL, form)) },
	}
}

// BenchmarkVerifier1MiB measures what a request of about 1 MiB costs the
// verifier: allocations and bytes allocated per request.
func BenchmarkVerifier1MiB(b *testing.B) {
	v := webhook.NewVerifier(authToken, discard(), publicURL)
	h := v.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for name, req := range largeRequests() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			reqs := make([]*http.Request, b.N)
			for i := range reqs {
				reqs[i] = req()
			}
			b.ResetTimer()
			for i := range b.N {
				h.ServeHTTP(discardWriter{}, reqs[i])
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}
