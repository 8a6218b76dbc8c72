package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/twilio/twilio-go/client"

	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

var sign = twiliotest.Sign

const token = "12345678901234567890123456789012"

func TestVerifier(t *testing.T) {
	const public = "https://europe-west1-p.cloudfunctions.net/crm"
	form := url.Values{"Location": {"GetCustomersList"}, "Worker": {"ann@example.com"}, "PageSize": {"30"}}
	good := sign(token, public, form)
	jsonBody := `{"a":1}`
	sum := sha256.Sum256([]byte(jsonBody))
	jsonURL := public + "?bodySHA256=" + hex.EncodeToString(sum[:])

	tests := []struct {
		name        string
		method      string
		target      string // path+query the function sees (Cloud Functions strips the name)
		contentType string
		body        string
		sig         string
		want        int
	}{
		{"valid", "POST", "/", "application/x-www-form-urlencoded", form.Encode(), good, 200},
		{"valid with charset", "POST", "/", "application/x-www-form-urlencoded; charset=utf-8", form.Encode(), good, 200},
		{"missing signature", "POST", "/", "application/x-www-form-urlencoded", form.Encode(), "", 403},
		{"wrong signature", "POST", "/", "application/x-www-form-urlencoded", form.Encode(), sign("other", public, form), 403},
		{"tampered body", "POST", "/", "application/x-www-form-urlencoded", strings.Replace(form.Encode(), "ann", "eve", 1), good, 403},
		{"added parameter", "POST", "/", "application/x-www-form-urlencoded", form.Encode() + "&Extra=1", good, 403},
		{"signed for another URL", "POST", "/", "application/x-www-form-urlencoded", form.Encode(),
			sign(token, "https://europe-west1-p.cloudfunctions.net/outgoing", form), 403},
		{"signed for http", "POST", "/", "application/x-www-form-urlencoded", form.Encode(),
			sign(token, "http://europe-west1-p.cloudfunctions.net/crm", form), 403},
		{"query not signed", "POST", "/?x=1", "application/x-www-form-urlencoded", form.Encode(), good, 403},
		{"query signed", "POST", "/?x=1", "application/x-www-form-urlencoded", form.Encode(), sign(token, public+"?x=1", form), 200},
		{"json via bodySHA256", "POST", "/?bodySHA256=" + hex.EncodeToString(sum[:]), "application/json", jsonBody,
			sign(token, jsonURL, nil), 200},
		{"json tampered", "POST", "/?bodySHA256=" + hex.EncodeToString(sum[:]), "application/json", `{"a":2}`,
			sign(token, jsonURL, nil), 403},
		{"json without hash", "POST", "/", "application/json", jsonBody, good, 415},
		{"get signed", "GET", "/?Location=GetCustomersList", "", "", sign(token, public+"?Location=GetCustomersList", nil), 405},
		{"get unsigned", "GET", "/?Location=GetCustomersList", "", "", "", 403},
		{"get forged", "GET", "/?Location=GetCustomersList", "", "", sign(token, public, url.Values{"Location": {"GetCustomersList"}}), 403},
		{"put", "PUT", "/", "application/x-www-form-urlencoded", form.Encode(), good, 405},
		{"too large", "POST", "/", "application/x-www-form-urlencoded", "Body=" + strings.Repeat("a", MaxBody), good, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotForm url.Values
			var gotBody string
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotForm = r.PostForm
				b, _ := io.ReadAll(r.Body)
				gotBody = string(b)
			})
			v := NewVerifier(token, slog.New(slog.DiscardHandler), "https://other.example/crm", public)
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			// What Cloud Functions' front end hands the container.
			req.Host = "localhost:8080"
			req.Header.Set("X-Forwarded-Proto", "https")
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.sig != "" {
				req.Header.Set("X-Twilio-Signature", tt.sig)
			}
			rec := httptest.NewRecorder()
			v.Wrap(next).ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status = %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), tt.want)
			}
			if tt.want != 200 {
				if gotForm != nil {
					t.Error("rejected request reached the handler")
				}
				return
			}
			if gotBody != tt.body {
				t.Errorf("handler read body %q, want %q", gotBody, tt.body)
			}
			if tt.contentType == "application/x-www-form-urlencoded" && gotForm.Get("Worker") != "ann@example.com" {
				t.Errorf("PostForm = %v", gotForm)
			}
		})
	}
}

// FuzzValidAgreesWithTwilioGo checks the verifier's streaming signature
// check against twilio-go's RequestValidator, which it replaced to stop
// copying a 1 MiB form several times over: for any query string, form and
// signature both accept the same requests, POST and GET.
func FuzzValidAgreesWithTwilioGo(f *testing.F) {
	const public = "https://europe-west1-p.cloudfunctions.net/crm"
	f.Add("", "Location=GetCustomersList&Worker=ann%40example.com", uint8(0))
	f.Add("tenant=a", "Body=hello+there&Author=%2B33679500001", uint8(1))
	f.Add("a=1&b=2", "k=1&k=2", uint8(2))
	f.Add("x=%zz", "", uint8(0))
	f.Add("", "é=ü&=&z", uint8(3))
	f.Fuzz(func(t *testing.T, rawQuery, body string, which uint8) {
		form, err := url.ParseQuery(body)
		if err != nil || strings.Contains(rawQuery, "bodySHA256") || strings.ContainsAny(rawQuery, "#") {
			return
		}
		first := url.Values{}
		for k, vs := range form {
			first.Set(k, vs[0])
		}
		u := public
		if rawQuery != "" {
			u += "?" + rawQuery
		}
		withPort := strings.Replace(u, ".net/", ".net:443/", 1)
		sig := []string{sign(token, u, first), sign(token, withPort, first), sign(token, u, nil), sign(token, withPort, nil),
			sign("other", u, first), "garbage"}[int(which)%6]
		v := NewVerifier(token, nil, public)
		rv := client.NewRequestValidator(token)
		r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/", RawQuery: rawQuery}}
		if got, want := v.valid(r, sig, form), rv.ValidateBody(u, []byte(body), sig); got != want {
			t.Fatalf("POST %s with %q signed %q: valid %t, twilio-go %t", u, body, sig, got, want)
		}
		r.Method = http.MethodGet
		if got, want := v.valid(r, sig, nil), rv.Validate(u, map[string]string{}, sig); got != want {
			t.Fatalf("GET %s signed %q: valid %t, twilio-go %t", u, sig, got, want)
		}
	})
}
