package webhook_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/twilio/twiliotest"
	"github.com/experthub/experthub/internal/webhook"
)

// FuzzVerifier sends the verifier arbitrary requests. It must never panic,
// must answer 2xx or 4xx, and whatever reaches the handler must be exactly
// what Twilio's algorithm signed with the auth token: every form value, the
// URL with its query, and for a JSON body the body's SHA-256.
func FuzzVerifier(f *testing.F) {
	form := url.Values{"Location": {"GetCustomersList"}, "Worker": {"ann@example.com"}, "PageSize": {"30"}}
	jsonBody := `{"EventType":"onMessageAdd"}`
	sum := sha256.Sum256([]byte(jsonBody))
	hash := "bodySHA256=" + hex.EncodeToString(sum[:])
	const formType = "application/x-www-form-urlencoded"
	f.Add("POST", "", formType, twiliotest.Sign(authToken, publicURL, form), "", []byte(form.Encode()))
	f.Add("POST", "x=1", formType, twiliotest.Sign(authToken, publicURL+"?x=1", form), "evil.example", []byte(form.Encode()))
	f.Add("POST", "", formType, twiliotest.Sign(authToken, publicURL, form), "", []byte(form.Encode()+"&Worker=eve"))
	f.Add("POST", hash, "application/json", twiliotest.Sign(authToken, publicURL+"?"+hash, nil), "", []byte(jsonBody))
	f.Add("POST", hash, formType, twiliotest.Sign(authToken, publicURL+"?"+hash, nil), "", []byte(jsonBody))
	f.Add("GET", "Location=GetCustomersList", "", twiliotest.Sign(authToken, publicURL+"?Location=GetCustomersList", nil), "", []byte(nil))
	f.Add("POST", "", formType+"; charset=utf-8", "", "", []byte("a=%zz;b"))
	f.Add("PUT", "", "", "x", "", []byte{0xff, 0})
	f.Fuzz(func(t *testing.T, method, rawQuery, contentType, sig, forwardedHost string, body []byte) {
		v := webhook.NewVerifier(authToken, discard(), publicURL)
		r := &http.Request{
			Method:        method,
			URL:           &url.URL{Path: "/", RawQuery: rawQuery},
			Host:          "localhost:8080",
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("X-Twilio-Signature", sig)
		r.Header.Set("X-Forwarded-Host", forwardedHost)
		r.Header.Set("X-Forwarded-Proto", "https")

		var got []byte
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ = io.ReadAll(r.Body)
			if r.PostForm == nil {
				t.Fatal("handler reached with a nil PostForm")
			}
			checkSigned(t, r, body, sig)
		})
		rec := httptest.NewRecorder()
		v.Wrap(next).ServeHTTP(rec, r)
		if rec.Code < 200 || rec.Code >= 500 {
			t.Fatalf("status %d (%s)", rec.Code, rec.Body)
		}
		want := body
		if method == http.MethodGet {
			want = nil // a GET's body is not signed, so the handler gets none
		}
		if got != nil && !bytes.Equal(got, want) {
			t.Fatalf("%s: handler read %q, sent %q", method, got, body)
		}
	})
}

// checkSigned fails unless sig is the Twilio signature of what r carries.
func checkSigned(t *testing.T, r *http.Request, body []byte, sig string) {
	t.Helper()
	u := publicURL
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	withPort := strings.Replace(u, ".net/", ".net:443/", 1)
	params := r.PostForm
	if h := r.URL.Query().Get("bodySHA256"); h != "" && r.Method == http.MethodPost {
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != h {
			t.Fatalf("body %q does not hash to bodySHA256=%s", body, h)
		}
		params = nil
	}
	if sig != twiliotest.Sign(authToken, u, params) && sig != twiliotest.Sign(authToken, withPort, params) {
		t.Fatalf("handler reached with %v at %s, which %q does not sign", r.PostForm, u, sig)
	}
}
