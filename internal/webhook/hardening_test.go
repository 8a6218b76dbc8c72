package webhook_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/twilio/twiliotest"
	"github.com/experthub/experthub/internal/webhook"
)

const (
	authToken = "0123456789abcdef0123456789abcdef"
	publicURL = "https://europe-west1-p.cloudfunctions.net/crm"
)

// serve reports whether r got through v to the next handler, and
// the form that handler saw.
func serve(v *webhook.Verifier, r *http.Request) (rec *httptest.ResponseRecorder, reached bool, form url.Values) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		form = r.PostForm
	})
	rec = httptest.NewRecorder()
	v.Wrap(next).ServeHTTP(rec, r)
	return rec, reached, form
}

// behindProxy is a form POST as Cloud Functions' front end hands it to the
// container: function name stripped from the path, plain HTTP to localhost.
func behindProxy(target, body, sig string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Host = "localhost:8080"
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "europe-west1-p.cloudfunctions.net")
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		r.Header.Set("X-Twilio-Signature", sig)
	}
	return r
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestVerifierWithoutAuthToken checks that a verifier with no auth token
// fails closed: HMAC-SHA1 keyed by the empty string is computable by
// anyone, so such a signature must not open the function.
func TestVerifierWithoutAuthToken(t *testing.T) {
	form := url.Values{"Location": {"GetCustomersList"}, "Worker": {"ann@example.com"}}
	v := webhook.NewVerifier("", discard(), publicURL)
	for _, target := range []string{"/", "/?x=1"} {
		u := publicURL
		if _, q, ok := strings.Cut(target, "?"); ok {
			u += "?" + q
		}
		r := behindProxy(target, form.Encode(), twiliotest.Sign("", u, form))
		rec, reached, _ := serve(v, r)
		if reached || rec.Code != http.StatusForbidden {
			t.Errorf("%s signed with the empty key: status %d, reached handler %t; want 403, not reached", target, rec.Code, reached)
		}
	}
}

// TestVerifierRepeatedParameter checks that a value appended under a key
// the body already has does not get through: twilio-go's ValidateBody
// signs only the first value of each key, so the appended one is unsigned.
func TestVerifierRepeatedParameter(t *testing.T) {
	v := webhook.NewVerifier(authToken, discard(), publicURL)
	signed := url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {"1"}, "Worker": {"ann@example.com"}}
	sig := twiliotest.Sign(authToken, publicURL, signed)
	tests := []struct {
		name string
		body string
		sig  string
	}{
		{"appended value", signed.Encode() + "&CustomerId=2", sig},
		{"prepended in the body, first value kept", "CustomerId=1&" + signed.Encode(), sig},
		{"Twilio's all-values signature", signed.Encode() + "&CustomerId=2",
			twiliotest.Sign(authToken, publicURL, url.Values{"Location": signed["Location"], "CustomerId": {"1", "2"}, "Worker": signed["Worker"]})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, reached, form := serve(v, behindProxy("/", tt.body, tt.sig))
			if reached || rec.Code != http.StatusForbidden {
				t.Errorf("status %d, handler saw %v; want 403 and no handler", rec.Code, form)
			}
		})
	}
	// The signed request itself is fine.
	if rec, reached, _ := serve(v, behindProxy("/", signed.Encode(), sig)); !reached {
		t.Fatalf("signed request refused: %d %s", rec.Code, rec.Body)
	}
}

// TestVerifierConfiguredURLWithQuery checks a function whose public URL
// carries a query string (PUBLIC_URL_<FUNCTION>=…?tenant=a) or a
// fragment: Twilio signs the URL with its query and without the fragment,
// and the request brings the query along.
func TestVerifierConfiguredURLWithQuery(t *testing.T) {
	form := url.Values{"Location": {"GetCustomersList"}, "Worker": {"ann@example.com"}}
	tests := []struct {
		name       string
		configured string
		target     string // what the container sees
		signedURL  string // what Twilio signed
		ok         bool
	}{
		{"query", publicURL + "?tenant=a", "/?tenant=a", publicURL + "?tenant=a", true},
		{"query changed", publicURL + "?tenant=a", "/?tenant=b", publicURL + "?tenant=a", false},
		{"query dropped", publicURL + "?tenant=a", "/", publicURL + "?tenant=a", false},
		{"fragment", publicURL + "#rc=2", "/", publicURL, true},
		{"query and fragment", publicURL + "?tenant=a#rc=2", "/?tenant=a", publicURL + "?tenant=a", true},
		{"signed with the fragment", publicURL + "#rc=2", "/", publicURL + "#rc=2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := webhook.NewVerifier(authToken, discard(), tt.configured)
			rec, reached, _ := serve(v, behindProxy(tt.target, form.Encode(), twiliotest.Sign(authToken, tt.signedURL, form)))
			if reached != tt.ok {
				t.Errorf("status %d (%s), reached handler %t, want %t", rec.Code, strings.TrimSpace(rec.Body.String()), reached, tt.ok)
			}
		})
	}
}

// TestVerifierHostileInput sends requests no signature can save: each
// must get a clear 4xx and never reach the handler.
func TestVerifierHostileInput(t *testing.T) {
	v := webhook.NewVerifier(authToken, discard(), publicURL)
	form := url.Values{"Location": {"GetCustomersList"}}
	sig := twiliotest.Sign(authToken, publicURL, form)
	tests := []struct {
		name        string
		method      string
		contentType string
		body        io.Reader
		want        int
	}{
		{"oversized", http.MethodPost, "application/x-www-form-urlencoded", strings.NewReader("Body=" + strings.Repeat("x", webhook.MaxBody)), 413},
		{"oversized, endless", http.MethodPost, "application/x-www-form-urlencoded", io.MultiReader(strings.NewReader("Body="), endless{}), 413},
		{"JSON", http.MethodPost, "application/json", strings.NewReader(`{"Location":"GetCustomersList"}`), 415},
		{"multipart", http.MethodPost, "multipart/form-data; boundary=x", strings.NewReader("--x--"), 415},
		{"no content type", http.MethodPost, "", strings.NewReader(form.Encode()), 415},
		{"garbage content type", http.MethodPost, "%%%", strings.NewReader(form.Encode()), 415},
		{"text", http.MethodPost, "text/plain", strings.NewReader(form.Encode()), 415},
		{"semicolon separator", http.MethodPost, "application/x-www-form-urlencoded", strings.NewReader("Location=GetCustomersList;Worker=x"), 403},
		{"bad escape", http.MethodPost, "application/x-www-form-urlencoded", strings.NewReader("Location=%zz"), 403},
		{"DELETE", http.MethodDelete, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), 405},
		{"OPTIONS", http.MethodOptions, "", nil, 405},
		{"failing body", http.MethodPost, "application/x-www-form-urlencoded", failing{}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", tt.body)
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			r.Header.Set("X-Twilio-Signature", sig)
			rec, reached, _ := serve(v, r)
			if reached || rec.Code != tt.want {
				t.Errorf("status %d (%s), reached handler %t; want %d, not reached", rec.Code, strings.TrimSpace(rec.Body.String()), reached, tt.want)
			}
		})
	}
}

// endless is a body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// failing is a body whose connection broke.
type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestVerifierLargeRequests checks what a request of about 1 MiB costs
// before it is refused: an unsigned one, or one whose Content-Length is
// over the limit, is refused without its body being read; one read is
// read into one buffer, and a body of unknown length no further than
// MaxBody+1. Bytes allocated are measured, not time.
func TestVerifierLargeRequests(t *testing.T) {
	v := webhook.NewVerifier(authToken, discard(), publicURL)
	h := v.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	big := []byte("Body=" + strings.Repeat("x", webhook.MaxBody-len("Body=")))
	form := url.Values{"Body": {string(big[len("Body="):])}}
	tests := []struct {
		name      string
		sig       string
		length    int64 // Content-Length; -1: unknown (chunked)
		body      []byte
		want      int
		maxRead   int // bytes of the body read at most
		maxAllocs int // bytes allocated per request at most
	}{
		{"unsigned 1 MiB", "", int64(len(big)), big, 403, 0, 64 << 10},
		{"signed, Content-Length over 1 MiB", twiliotest.Sign(authToken, publicURL, form), webhook.MaxBody + 1, append(big, 'x'), 413, 0, 64 << 10},
		{"signed, over 1 MiB, unknown length", twiliotest.Sign(authToken, publicURL, form), -1, append(big, strings.Repeat("x", 1<<20)...), 413, webhook.MaxBody + 1, 5 << 19},
		{"forged 1 MiB", "Zm9yZ2VkIHNpZ25hdHVyZSE=", int64(len(big)), big, 403, len(big), 5 << 19},
		{"signed 1 MiB", twiliotest.Sign(authToken, publicURL, form), int64(len(big)), big, 200, len(big), 5 << 19},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const runs = 5
			reqs := make([]*http.Request, runs)
			bodies := make([]*countingReader, runs)
			for i := range reqs {
				bodies[i] = &countingReader{r: bytes.NewReader(tt.body)}
				r := httptest.NewRequest(http.MethodPost, "/", bodies[i])
				r.ContentLength = tt.length
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if tt.sig != "" {
					r.Header.Set("X-Twilio-Signature", tt.sig)
				}
				reqs[i] = r
			}
			recs := make([]*httptest.ResponseRecorder, runs)
			for i := range recs {
				recs[i] = httptest.NewRecorder()
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i, r := range reqs {
				h.ServeHTTP(recs[i], r)
			}
			runtime.ReadMemStats(&after)
			perRequest := int(after.TotalAlloc-before.TotalAlloc) / runs
			t.Logf("%s: %d, %d bytes read, %d bytes allocated per request", tt.name, recs[0].Code, bodies[0].n, perRequest)
			if recs[0].Code != tt.want {
				t.Errorf("status %d (%s), want %d", recs[0].Code, strings.TrimSpace(recs[0].Body.String()), tt.want)
			}
			if bodies[0].n > tt.maxRead {
				t.Errorf("%d bytes of the body read, want at most %d", bodies[0].n, tt.maxRead)
			}
			if perRequest > tt.maxAllocs {
				t.Errorf("%d bytes allocated per request, want at most %d", perRequest, tt.maxAllocs)
			}
		})
	}
}

// TestVerifierGET checks a webhook configured with method GET: its
// parameters are in the signed URL. A verifier that allows GET hands them
// to the handler as the form; any other answers 405 with Allow: POST and
// says how to fix the configuration, in its answer and in one WARN.
// Unsigned or forged GETs are refused as any request is.
func TestVerifierGET(t *testing.T) {
	params := url.Values{"EventType": {"onConversationAdd"}, "MessagingBinding.Address": {"+33679500001"}}
	signedURL := publicURL + "?" + params.Encode()
	get := func(sig string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/?"+params.Encode(), nil)
		if sig != "" {
			r.Header.Set("X-Twilio-Signature", sig)
		}
		return r
	}
	signed := twiliotest.Sign(authToken, signedURL, nil)
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("AllowGET %t", allow), func(t *testing.T) {
			var logs bytes.Buffer
			v := webhook.NewVerifier(authToken, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), publicURL)
			if allow {
				v.AllowGET()
			}
			for range 3 {
				rec, reached, form := serve(v, get(signed))
				switch {
				case allow && (!reached || rec.Code != http.StatusOK || form.Get("MessagingBinding.Address") != "+33679500001"):
					t.Errorf("signed GET: %d, reached %t, form %v; want the query as the form", rec.Code, reached, form)
				case !allow && (reached || rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" ||
					!strings.Contains(rec.Body.String(), "configure the webhook with method POST")):
					t.Errorf("signed GET: %d %q, Allow %q, reached %t; want 405 naming the fix, Allow: POST",
						rec.Code, rec.Body, rec.Header().Get("Allow"), reached)
				}
			}
			if n := strings.Count(logs.String(), `"level":"WARN"`); n != 1 {
				t.Errorf("%d WARN lines for 3 signed GETs, want 1:\n%s", n, logs.String())
			}
			if !strings.Contains(logs.String(), "configure the webhook with method POST") {
				t.Errorf("the log does not say how to fix it:\n%s", logs.String())
			}
			for _, sig := range []string{"", twiliotest.Sign(authToken, publicURL, params)} {
				if rec, reached, _ := serve(v, get(sig)); reached || rec.Code != http.StatusForbidden {
					t.Errorf("GET signed %q: %d, reached %t; want 403", sig, rec.Code, reached)
				}
			}
		})
	}
}
