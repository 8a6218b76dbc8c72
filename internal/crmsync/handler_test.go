package crmsync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crmsync"
	"github.com/experthub/experthub/internal/gcpauth"
	"github.com/experthub/experthub/internal/inmem"
	"github.com/experthub/experthub/internal/strapi"
	"github.com/experthub/experthub/internal/strapitest"
)

const (
	secret    = "hook-secret-123"
	scheduler = "sync-scheduler@demo.iam.gserviceaccount.com"
	audience  = "https://europe-west1-demo.cloudfunctions.net/sync"
	goodOIDC  = "eyJ.scheduler.token"
	otherOIDC = "eyJ.someone-else.token"
)

// fakeIDTokens knows a fixed set of tokens and checks the audience.
type fakeIDTokens struct {
	mu        sync.Mutex
	audiences []string
}

func (f *fakeIDTokens) Validate(_ context.Context, token, aud string) (gcpauth.Identity, error) {
	f.mu.Lock()
	f.audiences = append(f.audiences, aud)
	f.mu.Unlock()
	if aud != audience {
		return gcpauth.Identity{}, errors.New("wrong audience")
	}
	switch token {
	case goodOIDC:
		return gcpauth.Identity{Email: scheduler, EmailVerified: true}, nil
	case otherOIDC:
		return gcpauth.Identity{Email: "intruder@demo.iam.gserviceaccount.com", EmailVerified: true}, nil
	}
	return gcpauth.Identity{}, errors.New("invalid token")
}

type fixture struct {
	strapi *strapitest.Server
	store  *inmem.Store
	h      http.Handler
	logs   *bytes.Buffer
}

func newFixture(t *testing.T, cfg crmsync.HandlerConfig) *fixture {
	t.Helper()
	s := newStrapi(5, 120)
	t.Cleanup(s.Close)
	st := inmem.NewStore()
	logs := &bytes.Buffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	c := strapiClient(s)
	return &fixture{strapi: s, store: st, logs: logs,
		h: crmsync.NewHandler(crmsync.New(crmsync.Customers(c, st), crmsync.Options{}), c, cfg)}
}

func defaultConfig() crmsync.HandlerConfig {
	return crmsync.HandlerConfig{Scheduler: gcpauth.Caller{Validator: &fakeIDTokens{}, Audience: audience, Account: scheduler}}
}

func (f *fixture) do(method string, header map[string]string, body string) (*httptest.ResponseRecorder, map[string]any) {
	req := httptest.NewRequest(method, "/sync", strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	var out map[string]any
	json.Unmarshal(rec.Body.Bytes(), &out)
	return rec, out
}

func webhookHeaders(event, auth string) map[string]string {
	h := map[string]string{"Content-Type": "application/json", "X-Strapi-Event": event}
	if auth != "" {
		h["Authorization"] = auth
	}
	return h
}

func TestHandlerWebhook(t *testing.T) {
	f := newFixture(t, defaultConfig())
	e, _ := f.strapi.Entry("3")
	publish := string(f.strapi.WebhookBody("entry.publish", e))
	del := string(f.strapi.WebhookBody("entry.delete", e))

	tests := []struct {
		name   string
		method string
		header map[string]string
		body   string
		status int
		want   map[string]any
	}{
		{"publish", "POST", webhookHeaders("entry.publish", "Bearer "+secret), publish, 200,
			map[string]any{"applied": "entry.publish", "customer_id": "3", "action": "upsert"}},
		{"charset in content type", "POST", map[string]string{"Content-Type": "application/json; charset=utf-8",
			"X-Strapi-Event": "entry.publish", "Authorization": "bearer " + secret}, publish, 200,
			map[string]any{"applied": "entry.publish", "customer_id": "3", "action": "upsert"}},
		{"no credentials", "POST", webhookHeaders("entry.delete", ""), del, 401, map[string]any{"error": "unauthorized"}},
		{"wrong secret", "POST", webhookHeaders("entry.delete", "Bearer nope"), del, 401, map[string]any{"error": "unauthorized"}},
		{"secret prefix", "POST", webhookHeaders("entry.delete", "Bearer "+secret[:len(secret)-1]), del, 401, map[string]any{"error": "unauthorized"}},
		{"secret plus more", "POST", webhookHeaders("entry.delete", "Bearer "+secret+"4"), del, 401, map[string]any{"error": "unauthorized"}},
		{"secret without Bearer", "POST", webhookHeaders("entry.delete", secret), del, 401, map[string]any{"error": "unauthorized"}},
		{"basic auth", "POST", webhookHeaders("entry.delete", "Basic "+secret), del, 401, map[string]any{"error": "unauthorized"}},
		{"scheduler token is not a webhook secret", "POST", webhookHeaders("entry.delete", "Bearer "+goodOIDC), del, 401, map[string]any{"error": "unauthorized"}},
		{"GET", "GET", webhookHeaders("entry.delete", "Bearer "+secret), "", 405, map[string]any{"error": "method not allowed"}},
		{"not JSON", "POST", webhookHeaders("entry.delete", "Bearer "+secret), "{nope", 400, map[string]any{"error": "bad webhook payload"}},
		{"no entry", "POST", webhookHeaders("entry.delete", "Bearer "+secret), `{"event":"entry.delete","model":"customer"}`, 400,
			map[string]any{"error": "bad webhook payload"}},
		{"wrong content type", "POST", map[string]string{"Content-Type": "text/plain", "X-Strapi-Event": "entry.delete",
			"Authorization": "Bearer " + secret}, del, 415, map[string]any{"error": "content type must be application/json"}},
		{"header and payload disagree", "POST", webhookHeaders("entry.update", "Bearer "+secret), del, 400,
			map[string]any{"error": "bad webhook payload"}},
		{"too large", "POST", webhookHeaders("entry.delete", "Bearer "+secret), `{"event":"entry.delete","x":"` + strings.Repeat("a", 1<<20) + `"}`, 413,
			map[string]any{"error": "body too large"}},
		{"delete", "POST", webhookHeaders("entry.delete", "Bearer "+secret), del, 200,
			map[string]any{"applied": "entry.delete", "customer_id": "3", "action": "delete"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, got := f.do(tt.method, tt.header, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (body %s)", k, got[k], v, rec.Body)
				}
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") != "Bearer" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// After publish then delete, customer 3 is gone again.
	if _, err := f.store.Get(context.Background(), "3"); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("customer 3 after delete: %v", err)
	}
	logs := f.logs.String()
	if strings.Contains(logs, secret[:10]) {
		t.Error("the webhook secret appears in the logs")
	}
	if !strings.Contains(logs, `"msg":"sync request refused"`) || !strings.Contains(logs, `"reason":"wrong bearer token"`) {
		t.Errorf("refusals not logged: %s", logs)
	}
}

func TestHandlerWithoutSecretRefusesWebhooks(t *testing.T) {
	s := newStrapi(5, 1)
	t.Cleanup(s.Close)
	c := strapi.New(strapi.Config{BaseURL: s.URL, HTTPClient: s.Client(), APIToken: "tok"})
	f := &fixture{h: crmsync.NewHandler(crmsync.New(crmsync.Customers(c, inmem.NewStore()), crmsync.Options{}), c, defaultConfig())}
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		if rec, _ := f.do("POST", webhookHeaders("entry.delete", auth), `{}`); rec.Code != 401 {
			t.Errorf("auth %q with no secret configured: %d, want 401", auth, rec.Code)
		}
	}
	if rec, _ := f.do("POST", map[string]string{"Authorization": "Bearer "}, ""); rec.Code != 401 {
		t.Errorf("full sync with an empty token: %d, want 401", rec.Code)
	}
}

func TestHandlerFullSync(t *testing.T) {
	validator := &fakeIDTokens{}
	cfg := defaultConfig()
	cfg.Scheduler.Validator = validator
	f := newFixture(t, cfg)
	ctx := context.Background()
	f.store.Upsert(ctx, crm.Customer{ID: "stale", DisplayName: "Stale"})

	tests := []struct {
		name   string
		auth   string
		status int
		want   map[string]any
	}{
		{"no credentials", "", 401, map[string]any{"error": "unauthorized"}},
		{"invalid token", "Bearer eyJ.forged", 401, map[string]any{"error": "unauthorized"}},
		{"another account", "Bearer " + otherOIDC, 403, map[string]any{"error": "forbidden"}},
		{"scheduler", "Bearer " + goodOIDC, 200, map[string]any{"synced": float64(120), "deleted": float64(1), "resumed": false}},
		{"manual with the webhook secret", "Bearer " + secret, 200, map[string]any{"synced": float64(120), "deleted": float64(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"Content-Type": "application/octet-stream", "User-Agent": "Google-Cloud-Scheduler"}
			if tt.auth != "" {
				h["Authorization"] = tt.auth
			}
			rec, got := f.do("POST", h, "scheduler body")
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (body %s)", k, got[k], v, rec.Body)
				}
			}
		})
	}
	assertSame(t, f.store, f.strapi)
	for _, a := range validator.audiences {
		if a != audience {
			t.Errorf("validated against audience %q", a)
		}
	}
	if strings.Contains(f.logs.String(), "scheduler.token") {
		t.Error("the OIDC token appears in the logs")
	}
}

func TestHandlerFullSyncWithoutOIDC(t *testing.T) {
	cfg := defaultConfig()
	cfg.Scheduler.Validator = nil
	f := newFixture(t, cfg)
	if rec, _ := f.do("POST", map[string]string{"Authorization": "Bearer " + goodOIDC}, ""); rec.Code != 401 {
		t.Errorf("OIDC token with no validator: %d, want 401", rec.Code)
	}
	if rec, _ := f.do("POST", map[string]string{"Authorization": "Bearer " + secret}, ""); rec.Code != 200 {
		t.Errorf("webhook secret: %d, want 200", rec.Code)
	}
}

func TestHandlerFullSyncFailureThenResume(t *testing.T) {
	f := newFixture(t, defaultConfig())
	auth := map[string]string{"Authorization": "Bearer " + goodOIDC}
	f.strapi.InjectFault(strapitest.Fault{Route: strapitest.RouteList, After: 2, Status: 503})
	rec, got := f.do("POST", auth, "")
	if rec.Code != 500 || got["error"] != "full sync failed" {
		t.Fatalf("Strapi down: %d %s, want 500", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "strapi") {
		t.Errorf("internal error details in the answer: %s", rec.Body)
	}
	if !strings.Contains(f.logs.String(), `"msg":"full sync failed"`) {
		t.Errorf("failure not logged: %s", f.logs)
	}
	f.strapi.ClearFaults()
	rec, got = f.do("POST", auth, "")
	if rec.Code != 200 || got["resumed"] != true {
		t.Fatalf("retry: %d %s, want a resumed run", rec.Code, rec.Body)
	}
	assertSame(t, f.store, f.strapi)
}

func TestHandlerFullSyncConflict(t *testing.T) {
	s := newStrapi(5, 150)
	defer s.Close()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c := strapiClient(s)
	sy := crmsync.New(crmsync.Customers(c, inmem.NewStore()), crmsync.Options{Progress: func(crmsync.Progress) {
		once.Do(func() { close(entered); <-release })
	}})
	h := crmsync.NewHandler(sy, c, defaultConfig())
	req := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/sync", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	done := make(chan int)
	go func() { done <- req().Code }()
	<-entered
	if code := req().Code; code != http.StatusConflict {
		t.Errorf("second full sync: %d, want 409", code)
	}
	close(release)
	if code := <-done; code != 200 {
		t.Errorf("first full sync: %d", code)
	}
}

// fakeHooks is a CRM whose webhook calls carry an X-Fake-Event header and
// report the given changes, several a call as some CRMs batch them.
type fakeHooks struct {
	changes []crm.Change[crm.Customer]
}

func (f fakeHooks) WebhookEvent(h http.Header) string { return h.Get("X-Fake-Event") }

func (f fakeHooks) Authenticate(h http.Header) error {
	if h.Get("Authorization") != "Bearer "+secret {
		return errors.New("not the fake CRM's secret")
	}
	return nil
}

func (f fakeHooks) DecodeWebhook(http.Header, []byte) ([]crm.Change[crm.Customer], error) {
	return f.changes, nil
}

func TestHandlerOtherCRM(t *testing.T) {
	s := newStrapi(5, 10)
	t.Cleanup(s.Close)
	hook := map[string]string{"Content-Type": "application/json", "X-Fake-Event": "batch", "Authorization": "Bearer " + secret}
	tests := []struct {
		name    string
		hooks   crmsync.WebhookDecoder
		header  map[string]string
		want    string // the answer
		cached  []string
		missing []string
	}{
		{name: "several changes", header: hook,
			hooks: fakeHooks{[]crm.Change[crm.Customer]{
				{Event: "created", Op: crm.Upsert, ID: "n1", Record: crm.Customer{ID: "n1", DisplayName: "New"}},
				{Event: "deleted", Op: crm.Delete, ID: "old"},
				{Event: "noise", Reason: "not a contact"},
			}},
			want: `[{"applied":"created","customer_id":"n1","action":"upsert"},{"applied":"deleted","customer_id":"old","action":"delete"},` +
				`{"applied":"noise","action":"ignore","reason":"not a contact"}]`,
			cached: []string{"n1"}, missing: []string{"old"}},
		{name: "no change", header: hook, hooks: fakeHooks{}, want: `[]`, cached: []string{"old"}},
		{name: "the Strapi header means nothing to another CRM", hooks: fakeHooks{},
			header: map[string]string{"X-Strapi-Event": "entry.delete", "Authorization": "Bearer " + secret},
			want:   `{"deleted":1,"resumed":false,"synced":10}`, cached: []string{"1", "10"}, missing: []string{"old"}},
		{name: "a CRM without webhooks", hooks: nil,
			header: map[string]string{"X-Fake-Event": "batch", "Authorization": "Bearer " + goodOIDC},
			want:   `{"deleted":1,"resumed":false,"synced":10}`, cached: []string{"1", "10"}, missing: []string{"old"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := inmem.NewStore()
			st.Upsert(ctx, crm.Customer{ID: "old", DisplayName: "Old"})
			h := crmsync.NewHandler(crmsync.New(crmsync.Customers(strapiClient(s), st), crmsync.Options{}), tt.hooks, defaultConfig())
			req := httptest.NewRequest("POST", "/sync", strings.NewReader(`{}`))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got := strings.TrimSpace(rec.Body.String()); rec.Code != 200 || got != tt.want {
				t.Errorf("answer %d %s, want 200 %s", rec.Code, got, tt.want)
			}
			for _, id := range tt.cached {
				if _, err := st.Get(ctx, id); err != nil {
					t.Errorf("customer %s: %v", id, err)
				}
			}
			for _, id := range tt.missing {
				if _, err := st.Get(ctx, id); !errors.Is(err, crm.ErrNotFound) {
					t.Errorf("customer %s still cached: %v", id, err)
				}
			}
		})
	}
}

// TestHandlerWithoutCRM: with no CRM (a nil Syncer) every caller is still
// authenticated first; only an authenticated call learns that there is
// nothing to sync, with a 200 so the scheduler's job does not fail.
func TestHandlerWithoutCRM(t *testing.T) {
	logs := &bytes.Buffer{}
	cfg := defaultConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	s := newStrapi(5, 1)
	t.Cleanup(s.Close)
	h := crmsync.NewHandler(nil, strapiClient(s), cfg)
	tests := []struct {
		name   string
		header map[string]string
		status int
	}{
		{"no credentials", nil, 401},
		{"wrong secret", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"token of another account", map[string]string{"Authorization": "Bearer " + otherOIDC}, 403},
		{"Strapi event, no credentials", map[string]string{"X-Strapi-Event": "entry.update"}, 401},
		{"webhook secret", map[string]string{"Authorization": "Bearer " + secret}, 200},
		{"scheduler's token", map[string]string{"Authorization": "Bearer " + goodOIDC}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/sync", strings.NewReader("{}"))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("answer is not JSON: %s", rec.Body)
			}
			if skipped := got["skipped"] != nil; skipped != (tt.status == 200) {
				t.Errorf("answer %v: skipped is said only to an authenticated caller", got)
			}
		})
	}
	if n := strings.Count(logs.String(), "sync skipped: no CRM is configured"); n != 2 {
		t.Errorf("%d skipped syncs logged, want 2:\n%s", n, logs)
	}
}

// TestHandlerWithoutCRMWebhookDecoder: a decoder without a Syncer (a
// caller's mistake) still authenticates, then syncs nothing.
func TestHandlerWithoutCRMWebhookDecoder(t *testing.T) {
	s := newStrapi(5, 1)
	t.Cleanup(s.Close)
	h := crmsync.NewHandler(nil, strapiClient(s), defaultConfig())
	for _, tt := range []struct {
		auth   string
		status int
	}{{"", 401}, {"Bearer " + secret, 200}} {
		req := httptest.NewRequest(http.MethodPost, "/sync", strings.NewReader(`{"event":"entry.update"}`))
		for k, v := range webhookHeaders("entry.update", tt.auth) {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("auth %q: status %d, want %d: %s", tt.auth, rec.Code, tt.status, rec.Body)
		}
	}
}
