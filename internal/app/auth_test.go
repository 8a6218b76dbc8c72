package app_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

const publicBase = "https://europe-west1-expert-hub-test.cloudfunctions.net"

// twilioFacing are the functions Twilio calls: every function but sync,
// which Strapi and Cloud Scheduler call, and work, which the queue calls.
func twilioFacing() []function.Name {
	// handoff is called by the Flex account, signed with its own token
	// or with the bearer secret: handoff_test.go checks its callers;
	// experts is the Flex plugin's (flexuser_test.go); flex-events is signed
	// with the Flex token (flexevents_test.go).
	return slices.DeleteFunc(function.All(), func(name function.Name) bool {
		return name == function.Sync || name == function.Work || name == function.Handoff || name == function.Experts || name == function.FlexEvents
	})
}

// validParams is a realistic request of each Twilio-facing function.
func validParams(name function.Name) url.Values {
	switch name {
	case function.CRM:
		return url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {"1"}, "Worker": {"ann@example.com"}}
	case function.Outgoing:
		return url.Values{"Location": {"GetProxyAddress"}, "Worker": {"ann@example.com"}, "CustomerId": {"1"},
			"ChannelType": {"sms"}, "ChannelValue": {"+33679500001"}}
	case function.Routing:
		return url.Values{"ConversationSid": {"CH00000000000000000000000000000001"},
			"MessagingBinding.Address": {"+33679500001"}, "MessagingBinding.ProxyAddress": {apptest.ProxyNumber}}
	default: // Conversations events
		return url.Values{"AccountSid": {twiliotest.DefaultAccountSID}, "EventType": {"onMessageAdd"}, "Source": {"SMS"},
			"ConversationSid": {"CH00000000000000000000000000000001"}, "Author": {"+33679500001"}, "Body": {"hello"},
			"RetryCount": {"0"}}
	}
}

// attempt is one request to a function.
type attempt struct {
	name        string
	method      string
	query       string // the query string the function sees
	contentType string
	body        string
	sig         string // "" sends no X-Twilio-Signature
}

func (a attempt) request() *http.Request {
	target := "/"
	if a.query != "" {
		target += "?" + a.query
	}
	method := a.method
	if method == "" {
		method = http.MethodPost
	}
	r := httptest.NewRequest(method, target, strings.NewReader(a.body))
	if a.contentType != "" {
		r.Header.Set("Content-Type", a.contentType)
	}
	if a.sig != "" {
		r.Header.Set("X-Twilio-Signature", a.sig)
	}
	r.Header.Set("User-Agent", "TwilioProxy/1.1")
	return r
}

// refused reports whether the signature check turned the request away.
// Every refusal of webhook.Verifier names X-Twilio-Signature.
func refused(rec *httptest.ResponseRecorder) bool {
	return rec.Code == http.StatusForbidden && strings.Contains(rec.Body.String(), "X-Twilio-Signature")
}

func hmacSHA1(key, msg string) string {
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// wired reports whether app.New registered the function: an unsigned
// request to an unregistered one gets app.Unavailable's answer.
func wired(h *apptest.Harness, name function.Name) bool {
	probe := attempt{contentType: "application/x-www-form-urlencoded", body: "a=b"}
	got := h.Serve(name, probe.request())
	want := httptest.NewRecorder()
	app.Unavailable(name).ServeHTTP(want, probe.request())
	return got.Code != want.Code || got.Body.String() != want.Body.String()
}

// TestTwilioSignatures sends every Twilio-facing function its valid
// request and forgeries of it, as Cloud Functions' front end delivers
// them. Only the valid requests get past the signature check.
func TestTwilioSignatures(t *testing.T) {
	// Twilio calls the functions at their public HTTPS URLs; the requests
	// are handed over directly, as the front end would.
	h := apptest.New(t, apptest.Options{Env: config.Env{"PUBLIC_BASE_URL": publicBase}})
	token := h.Config.TwilioAuthToken
	const form = "application/x-www-form-urlencoded"
	names := twilioFacing()
	var tried, forgeries, accepted, valid int
	for _, name := range names {
		t.Run(string(name), func(t *testing.T) {
			if !wired(h, name) {
				// Not built yet; it answers as app.Unavailable, whatever the
				// request. Covered as soon as app.New registers it.
				t.Logf("%s: not registered by app.New yet, nothing to check", name)
				return
			}
			pub := h.Config.PublicURL(name)
			u, err := url.Parse(pub)
			if err != nil {
				t.Fatal(err)
			}
			p := validParams(name)
			body := p.Encode()
			sign := func(rawURL string, params url.Values) string { return twiliotest.Sign(token, rawURL, params) }
			// with and without return p with key k set to v, or removed.
			with := func(k, v string) url.Values {
				q := maps.Clone(p)
				q.Set(k, v)
				return q
			}
			without := func(k string) url.Values {
				q := maps.Clone(p)
				q.Del(k)
				return q
			}
			jsonBody := `{"EventType":"onMessageAdd","Body":"hello"}`
			jsonHash := func(b string) string {
				sum := sha256.Sum256([]byte(b))
				return "bodySHA256=" + hex.EncodeToString(sum[:])
			}
			first, rest, _ := strings.Cut(p.Encode(), "&")
			key := slices.Sorted(maps.Keys(p))[0] // a parameter to tamper with
			repeated := maps.Clone(p)
			repeated[key] = []string{p.Get(key), "eve@example.com"}

			good := []attempt{
				{name: "form", contentType: form, body: body, sig: sign(pub, p)},
				{name: "form, charset", contentType: form + "; charset=utf-8", body: body, sig: sign(pub, p)},
				{name: "form, default port in the signed URL", contentType: form, body: body,
					sig: sign(u.Scheme+"://"+u.Host+":"+map[string]string{"http": "80", "https": "443"}[u.Scheme]+u.Path, p)},
				{name: "form, parameters in another order", contentType: form, body: rest + "&" + first, sig: sign(pub, p)},
				{name: "form, signed query", query: "tenant=a", contentType: form, body: body, sig: sign(pub+"?tenant=a", p)},
				{name: "JSON, bodySHA256", query: jsonHash(jsonBody), contentType: "application/json", body: jsonBody,
					sig: sign(pub+"?"+jsonHash(jsonBody), nil)},
			}
			forged := []attempt{
				{name: "no signature", contentType: form, body: body},
				{name: "another auth token", contentType: form, body: body, sig: twiliotest.Sign("0000000000000000000000000000beef", pub, p)},
				{name: "empty auth token", contentType: form, body: body, sig: twiliotest.Sign("", pub, p)},
				{name: "account SID as key", contentType: form, body: body, sig: twiliotest.Sign(h.Config.TwilioAccountSID, pub, p)},
				{name: "value changed", contentType: form, body: with(key, "eve@example.com").Encode(), sig: sign(pub, p)},
				{name: "value emptied", contentType: form, body: with(key, "").Encode(), sig: sign(pub, p)},
				{name: "parameter removed", contentType: form, body: without(key).Encode(), sig: sign(pub, p)},
				{name: "parameter added", contentType: form, body: body + "&Extra=1", sig: sign(pub, p)},
				{name: "parameter repeated", contentType: form, body: body + "&" + key + "=eve%40example.com", sig: sign(pub, p)},
				{name: "parameter repeated, signed as Twilio does", contentType: form, body: body + "&" + key + "=eve%40example.com",
					sig: sign(pub, repeated)},
				{name: "signed without parameters", contentType: form, body: body, sig: sign(pub, nil)},
				{name: "http scheme", contentType: form, body: body, sig: sign("http://"+u.Host+u.Path, p)},
				{name: "upper-case host", contentType: form, body: body, sig: sign(u.Scheme+"://"+strings.ToUpper(u.Host)+u.Path, p)},
				{name: "other port", contentType: form, body: body, sig: sign(u.Scheme+"://"+u.Hostname()+":8443"+u.Path, p)},
				{name: "trailing slash", contentType: form, body: body, sig: sign(pub+"/", p)},
				{name: "path as the container sees it", contentType: form, body: body, sig: sign(u.Scheme+"://"+u.Host+"/", p)},
				{name: "URL as the container sees it", contentType: form, body: body, sig: sign("http://localhost:8080/", p)},
				{name: "URL from X-Forwarded-*", contentType: form, body: body, sig: sign("https://"+u.Host+"/", p)},
				{name: "query added", query: "x=1", contentType: form, body: body, sig: sign(pub, p)},
				{name: "query changed", query: "tenant=b", contentType: form, body: body, sig: sign(pub+"?tenant=a", p)},
				{name: "query removed", contentType: form, body: body, sig: sign(pub+"?tenant=a", p)},
				{name: "query reordered", query: "b=2&a=1", contentType: form, body: body, sig: sign(pub+"?a=1&b=2", p)},
				{name: "parameters moved to the query", query: body, contentType: form, body: "", sig: sign(pub, p)},
				{name: "signature truncated", contentType: form, body: body, sig: sign(pub, p)[:20]},
				{name: "signature with a bit flipped", contentType: form, body: body, sig: flip(sign(pub, p))},
				{name: "signature lower-cased", contentType: form, body: body, sig: strings.ToLower(sign(pub, p))},
				{name: "signature with spaces", contentType: form, body: body, sig: " " + sign(pub, p) + " "},
				{name: "signature base64url", contentType: form, body: body, sig: strings.NewReplacer("+", "-", "/", "_", "=", "").Replace(sign(pub, p))},
				{name: "HMAC-SHA256", contentType: form, body: body, sig: hmacSHA256(token, pub, p)},
				{name: "HMAC-SHA1 of the body", contentType: form, body: body, sig: hmacSHA1(token, body)},
				{name: "GET with the form's signature", method: http.MethodGet, query: body, sig: sign(pub, p)},
				{name: "GET, query changed", method: http.MethodGet, query: with(key, "eve@example.com").Encode(), sig: sign(pub+"?"+body, nil)},
				{name: "JSON changed", query: jsonHash(jsonBody), contentType: "application/json",
					body: strings.Replace(jsonBody, "hello", "evil", 1), sig: sign(pub+"?"+jsonHash(jsonBody), nil)},
				{name: "JSON changed, hash recomputed", query: jsonHash(strings.Replace(jsonBody, "hello", "evil", 1)), contentType: "application/json",
					body: strings.Replace(jsonBody, "hello", "evil", 1), sig: sign(pub+"?"+jsonHash(jsonBody), nil)},
				{name: "JSON hash as a form", query: jsonHash(jsonBody), contentType: form, body: body, sig: sign(pub+"?"+jsonHash(jsonBody), nil)},
				{name: "JSON hash, form signed without it", query: jsonHash(body), contentType: form, body: body, sig: sign(pub, p)},
			}
			// A genuine request for another function, replayed to this one.
			for _, other := range names {
				if other != name {
					forged = append(forged, attempt{name: "replay of " + string(other), contentType: form, body: body,
						sig: sign(h.Config.PublicURL(other), p)})
				}
			}

			for _, a := range good {
				rec := h.Serve(name, a.request())
				tried++
				if refused(rec) {
					t.Errorf("valid %s: refused: %d %s", a.name, rec.Code, strings.TrimSpace(rec.Body.String()))
					continue
				}
				valid++
				if rec.Code >= 500 {
					t.Errorf("valid %s: %d %s", a.name, rec.Code, strings.TrimSpace(rec.Body.String()))
				}
			}
			for _, a := range forged {
				rec := h.Serve(name, a.request())
				tried++
				forgeries++
				if !refused(rec) {
					accepted++
					t.Errorf("forgery %q accepted: %d %s", a.name, rec.Code, strings.TrimSpace(rec.Body.String()))
				}
			}
		})
	}
	t.Logf("Twilio signatures: %d functions, %d requests: %d valid accepted, %d forgeries, %d accepted",
		len(names), tried, valid, forgeries, accepted)
	if !strings.Contains(h.Logs.String(), `"message":"webhook rejected"`) {
		t.Error("no rejection was logged")
	}
}

// flip changes one bit of a base64 signature.
func flip(sig string) string {
	b, _ := base64.StdEncoding.DecodeString(sig)
	b[len(b)/2] ^= 1
	return base64.StdEncoding.EncodeToString(b)
}

// hmacSHA256 signs as Twilio does, but with HMAC-SHA256.
func hmacSHA256(token, rawURL string, params url.Values) string {
	var s strings.Builder
	s.WriteString(rawURL)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		s.WriteString(k + params.Get(k))
	}
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(s.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestSyncAuthentication sends the sync function Strapi webhooks and full
// sync requests with every credential but the right ones.
func TestSyncAuthentication(t *testing.T) {
	h := apptest.New(t, apptest.Options{StrapiVersion: 5, StrapiCustomers: 20})
	entry, ok := h.Strapi.Entry("3")
	if !ok {
		t.Fatal("no customer 3 in Strapi")
	}
	publish := string(h.Strapi.WebhookBody("entry.publish", entry))
	secret := apptest.WebhookSecret
	sum := sha256.Sum256([]byte(secret))
	now := time.Now()
	// ID tokens GoogleIDTokens refuses without asking Google for its keys.
	audience := h.Config.SyncAudience
	unsigned := jwt(map[string]any{"alg": "none"}, map[string]any{"aud": audience, "email": apptest.SchedulerAccount,
		"email_verified": true, "iss": "https://accounts.google.com", "exp": now.Add(time.Hour).Unix()})
	hs256 := jwt(map[string]any{"alg": "HS256"}, map[string]any{"aud": audience, "email": apptest.SchedulerAccount,
		"email_verified": true, "iss": "https://accounts.google.com", "exp": now.Add(time.Hour).Unix()})
	otherAudience := jwt(map[string]any{"alg": "RS256", "kid": "x"}, map[string]any{"aud": h.Config.PublicURL("crm"),
		"email": apptest.SchedulerAccount, "email_verified": true, "exp": now.Add(time.Hour).Unix()})
	expired := jwt(map[string]any{"alg": "RS256", "kid": "x"}, map[string]any{"aud": audience,
		"email": apptest.SchedulerAccount, "email_verified": true, "exp": now.Add(-time.Hour).Unix()})

	wrong := []struct {
		name   string
		header map[string]string
	}{
		{"no Authorization", nil},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}},
		{"wrong secret", map[string]string{"Authorization": "Bearer nope"}},
		{"secret shorter by one", map[string]string{"Authorization": "Bearer " + secret[:len(secret)-1]}},
		{"secret longer by one", map[string]string{"Authorization": "Bearer " + secret + "x"}},
		{"secret upper-cased", map[string]string{"Authorization": "Bearer " + strings.ToUpper(secret)}},
		{"secret's first half", map[string]string{"Authorization": "Bearer " + secret[:len(secret)/2]}},
		{"secret twice", map[string]string{"Authorization": "Bearer " + secret + secret}},
		{"secret's SHA-256", map[string]string{"Authorization": "Bearer " + hex.EncodeToString(sum[:])}},
		{"secret without scheme", map[string]string{"Authorization": secret}},
		{"secret as Basic", map[string]string{"Authorization": "Basic " + secret}},
		{"secret as Basic password", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("strapi:"+secret))}},
		{"secret in another header", map[string]string{"X-Webhook-Secret": secret, "X-Strapi-Token": secret}},
		{"Strapi API token", map[string]string{"Authorization": "Bearer " + apptest.StrapiAPIToken}},
		{"Twilio auth token", map[string]string{"Authorization": "Bearer " + h.Config.TwilioAuthToken}},
		{"Twilio signature", map[string]string{"X-Twilio-Signature": twiliotest.Sign(h.Config.TwilioAuthToken, audience, nil)}},
		{"unsigned ID token", map[string]string{"Authorization": "Bearer " + unsigned}},
		{"HS256 ID token", map[string]string{"Authorization": "Bearer " + hs256}},
		{"ID token for another audience", map[string]string{"Authorization": "Bearer " + otherAudience}},
		{"expired ID token", map[string]string{"Authorization": "Bearer " + expired}},
		{"garbage ID token", map[string]string{"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.x"}},
	}
	do := func(header map[string]string, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		for k, v := range header {
			r.Header.Set(k, v)
		}
		return h.Serve("sync", r)
	}
	var tried, accepted int
	for _, kind := range []string{"webhook", "full sync"} {
		for _, w := range wrong {
			header := map[string]string{}
			body := ""
			if kind == "webhook" {
				header["Content-Type"], header["X-Strapi-Event"] = "application/json", "entry.publish"
				body = publish
			}
			for k, v := range w.header {
				header[k] = v
			}
			rec := do(header, body)
			tried++
			if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusForbidden {
				accepted++
				t.Errorf("%s, %s: %d %s, want 401 or 403", kind, w.name, rec.Code, strings.TrimSpace(rec.Body.String()))
			}
		}
	}
	if n := h.Strapi.Requests("list") + h.Strapi.Requests("one"); n != 0 {
		t.Errorf("refused requests reached Strapi %d times", n)
	}
	// The right secret works for both.
	rec := do(map[string]string{"Content-Type": "application/json", "X-Strapi-Event": "entry.publish",
		"Authorization": "Bearer " + secret}, publish)
	tried++
	if rec.Code != http.StatusOK {
		t.Errorf("webhook with the secret: %d %s", rec.Code, rec.Body)
	}
	rec = do(map[string]string{"Authorization": "Bearer " + secret}, "")
	tried++
	if rec.Code != http.StatusOK {
		t.Errorf("full sync with the secret: %d %s", rec.Code, rec.Body)
	}
	t.Logf("sync: %d requests, %d with wrong credentials, %d accepted", tried, len(wrong)*2, accepted)
}

// TestSchedulerIDTokens: the scheduler's two callees, sync's full sync
// and taskrouter-events' sweep of the waiting line, check its ID token
// the same way (gcpauth.Caller): the scheduler's account with a token
// minted for the function gets in; a token minted for another function
// is refused 401, one of another account 403.
func TestSchedulerIDTokens(t *testing.T) {
	h := apptest.New(t, apptest.Options{StrapiVersion: 5, StrapiCustomers: 3})
	for _, tt := range []struct {
		function string
		audience string
		ok       int
	}{
		{"sync", h.Config.SyncAudience, http.StatusOK},
		{"taskrouter-events", h.URL("taskrouter-events"), http.StatusNoContent},
	} {
		for _, c := range []struct {
			name   string
			token  string
			status int
		}{
			{"scheduler", h.IDToken(apptest.SchedulerAccount, tt.audience), tt.ok},
			{"minted for another function", h.IDToken(apptest.SchedulerAccount, h.URL("crm")), http.StatusUnauthorized},
			{"another account", h.IDToken("intruder@expert-hub-test.iam.gserviceaccount.com", tt.audience), http.StatusForbidden},
			{"the account in upper case", h.IDToken(strings.ToUpper(apptest.SchedulerAccount), tt.audience), http.StatusForbidden},
		} {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Header.Set("Authorization", "Bearer "+c.token)
			if rec := h.Serve(function.Name(tt.function), r); rec.Code != c.status {
				t.Errorf("%s, %s: %d %s, want %d", tt.function, c.name, rec.Code, strings.TrimSpace(rec.Body.String()), c.status)
			}
		}
	}
	if n := h.Strapi.Requests("list"); n == 0 {
		t.Error("the scheduler's full sync did not read Strapi")
	}
}

// jwt encodes a token with the given header and claims and a dummy
// signature.
func jwt(header, claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return fmt.Sprintf("%s.%s.%s", enc(header), enc(claims), base64.RawURLEncoding.EncodeToString([]byte("signature")))
}

// TestSyncWithoutCRM: a deployment without Strapi (allowed: the Firestore
// cache only) checks sync's callers as any other. An unauthenticated
// request is refused and told nothing of the configuration (the smoke
// test after each deploy sends one); an authenticated one, the
// scheduler's nightly full sync say, answers 200 with nothing synced.
func TestSyncWithoutCRM(t *testing.T) {
	h := apptest.New(t, apptest.Options{Env: config.Env{
		"STRAPI_WEBHOOK_SECRET":          apptest.WebhookSecret,
		"SYNC_SCHEDULER_SERVICE_ACCOUNT": apptest.SchedulerAccount,
	}})
	tests := []struct {
		name   string
		header map[string]string
		status int
	}{
		{"no credentials", nil, http.StatusUnauthorized},
		{"wrong secret", map[string]string{"Authorization": "Bearer nope"}, http.StatusUnauthorized},
		{"Strapi webhook, wrong secret", map[string]string{"Authorization": "Bearer nope",
			"X-Strapi-Event": "entry.update", "Content-Type": "application/json"}, http.StatusUnauthorized},
		{"webhook secret", map[string]string{"Authorization": "Bearer " + apptest.WebhookSecret}, http.StatusOK},
		{"Strapi webhook with the secret", map[string]string{"Authorization": "Bearer " + apptest.WebhookSecret,
			"X-Strapi-Event": "entry.update", "Content-Type": "application/json"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"event":"entry.update"}`))
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			rec := h.Serve("sync", r)
			body := rec.Body.String()
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, body)
			}
			if tt.status != http.StatusOK && (strings.Contains(body, "STRAPI") || strings.Contains(body, "CRM")) {
				t.Errorf("refusal discloses the configuration: %s", body)
			}
		})
	}
	if l := h.Logs.Lines("sync skipped: no CRM is configured"); len(l) != 2 || l[0][logging.FunctionKey] != "sync" {
		t.Errorf("skipped syncs logged %v, want twice with function sync", l)
	}
}
