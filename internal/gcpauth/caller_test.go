package gcpauth_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/gcpauth"
)

// TestCallerCheck is the one check every Google-called function makes
// (work, taskrouter-events' sweep, sync's full sync): tokens minted here,
// signed with a key the stand-in for Google's key endpoint serves, each
// wrong in one way.
func TestCallerCheck(t *testing.T) {
	g, other := newGoogle(t)
	c := gcpauth.Caller{
		Validator: &gcpauth.GoogleIDTokens{HTTPClient: &http.Client{Transport: g}},
		Audience:  audience,
		Account:   account,
	}
	sign := func(change map[string]any) string { return g.sign(t, g.key, claims(change)) }
	tests := []struct {
		name   string
		auth   string
		caller func(gcpauth.Caller) gcpauth.Caller
		want   error // nil: accepted
	}{
		{name: "valid", auth: "Bearer " + sign(nil)},
		{name: "scheme in lower case", auth: "bearer " + sign(nil)},
		{name: "account configured in mixed case", auth: "Bearer " + sign(nil),
			caller: func(c gcpauth.Caller) gcpauth.Caller {
				c.Account = "Tasks-Invoker@demo.iam.gserviceaccount.com"
				return c
			}},
		{name: "wrong issuer", auth: "Bearer " + sign(map[string]any{"iss": "https://evil.example"}), want: gcpauth.ErrUnauthenticated},
		{name: "IAP issuer", auth: "Bearer " + sign(map[string]any{"iss": "https://cloud.google.com/iap"}), want: gcpauth.ErrUnauthenticated},
		{name: "wrong audience", auth: "Bearer " + sign(map[string]any{"aud": "https://europe-west1-demo.cloudfunctions.net/crm"}), want: gcpauth.ErrUnauthenticated},
		{name: "expired", auth: "Bearer " + sign(map[string]any{"exp": time.Now().Add(-time.Minute).Unix()}), want: gcpauth.ErrUnauthenticated},
		{name: "other key", auth: "Bearer " + g.sign(t, other, claims(nil)), want: gcpauth.ErrUnauthenticated},
		{name: "no token", want: gcpauth.ErrUnauthenticated},
		{name: "empty bearer", auth: "Bearer ", want: gcpauth.ErrUnauthenticated},
		{name: "basic", auth: "Basic " + sign(nil), want: gcpauth.ErrUnauthenticated},
		{name: "wrong e-mail", auth: "Bearer " + sign(map[string]any{"email": "intruder@demo.iam.gserviceaccount.com"}), want: gcpauth.ErrForbidden},
		{name: "lookalike e-mail", auth: "Bearer " + sign(map[string]any{"email": account + ".evil.example"}), want: gcpauth.ErrForbidden},
		{name: "e-mail in upper case", auth: "Bearer " + sign(map[string]any{"email": strings.ToUpper(account)}), want: gcpauth.ErrForbidden},
		{name: "unverified e-mail", auth: "Bearer " + sign(map[string]any{"email_verified": false}), want: gcpauth.ErrForbidden},
		{name: "no e-mail", auth: "Bearer " + sign(map[string]any{"email": nil}), want: gcpauth.ErrForbidden},
		{name: "no audience configured", auth: "Bearer " + sign(nil), want: gcpauth.ErrUnauthenticated,
			caller: func(c gcpauth.Caller) gcpauth.Caller { c.Audience = ""; return c }},
		{name: "no account configured", auth: "Bearer " + sign(nil), want: gcpauth.ErrUnauthenticated,
			caller: func(c gcpauth.Caller) gcpauth.Caller { c.Account = ""; return c }},
		{name: "no validator", auth: "Bearer " + sign(nil), want: gcpauth.ErrUnauthenticated,
			caller: func(c gcpauth.Caller) gcpauth.Caller { c.Validator = nil; return c }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, audience, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			c := c
			if tt.caller != nil {
				c = tt.caller(c)
			}
			id, err := c.Check(r)
			switch {
			case tt.want == nil && (err != nil || id != gcpauth.Identity{Email: account, EmailVerified: true}):
				t.Errorf("Check = %+v, %v; want the account", id, err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("Check = %+v, %v; want %v", id, err, tt.want)
			}
			if token := strings.TrimPrefix(tt.auth, "Bearer "); err != nil && token != "" && strings.Contains(err.Error(), token) {
				t.Errorf("the error holds the token: %v", err)
			}
		})
	}
}

// idToken is what a token the validator knows says.
type idToken struct {
	audience string
	id       gcpauth.Identity
}

// strictIDTokens validates the tokens it knows, as Google's validator
// does: unknown tokens and tokens for another audience fail.
type strictIDTokens struct {
	tokens map[string]idToken

	mu   sync.Mutex
	seen []string
}

func (v *strictIDTokens) Validate(_ context.Context, token, aud string) (gcpauth.Identity, error) {
	v.mu.Lock()
	v.seen = append(v.seen, aud)
	v.mu.Unlock()
	t, ok := v.tokens[token]
	if !ok {
		return gcpauth.Identity{}, errors.New("invalid token")
	}
	if t.audience != aud {
		return gcpauth.Identity{}, errors.New("audience provided does not match aud claim in the JWT")
	}
	return t.id, nil
}

// TestRequire: the middleware answers Check's refusals with 401 or 403
// and a WARN line without the token, and lets the account's requests
// through.
func TestRequire(t *testing.T) {
	v := &strictIDTokens{tokens: map[string]idToken{
		"ok":             {audience, gcpauth.Identity{Email: account, EmailVerified: true}},
		"other-audience": {"https://example.com/other", gcpauth.Identity{Email: account, EmailVerified: true}},
		"unverified":     {audience, gcpauth.Identity{Email: account}},
		"intruder":       {audience, gcpauth.Identity{Email: "intruder@demo.iam.gserviceaccount.com", EmailVerified: true}},
		"lookalike":      {audience, gcpauth.Identity{Email: account + ".evil.example", EmailVerified: true}},
		"upper":          {audience, gcpauth.Identity{Email: strings.ToUpper(account), EmailVerified: true}},
		"no-email":       {audience, gcpauth.Identity{EmailVerified: true}},
	}}
	tests := []struct {
		name          string
		authorization string
		status        int
	}{
		{"valid", "Bearer ok", 200},
		{"scheme case", "bearer ok", 200},
		{"no header", "", 401},
		{"basic", "Basic b2s6b2s=", 401},
		{"empty bearer", "Bearer ", 401},
		{"unknown token", "Bearer forged", 401},
		{"other audience", "Bearer other-audience", 401},
		{"unverified email", "Bearer unverified", 403},
		{"other account", "Bearer intruder", 403},
		{"lookalike account", "Bearer lookalike", 403},
		{"account in upper case", "Bearer upper", 403},
		{"no email", "Bearer no-email", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log strings.Builder
			reached := false
			h := gcpauth.Require(gcpauth.Caller{Validator: v, Audience: audience, Account: account},
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }),
				slog.New(slog.NewTextHandler(&log, nil)))
			req := httptest.NewRequest("POST", "/", nil)
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d", rec.Code, tt.status)
			}
			if reached != (tt.status == 200) {
				t.Errorf("handler reached: %v, want %v", reached, tt.status == 200)
			}
			if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") != "Bearer" {
				t.Error("401 without WWW-Authenticate: Bearer")
			}
			// A refused caller is a WARN, whoever sends it: ERROR lines
			// are for lost work, and nobody outside may write them at will.
			if tt.status != 200 && (!strings.Contains(log.String(), "level=WARN") || strings.Contains(log.String(), "level=ERROR")) {
				t.Errorf("refusal not logged at WARN: %q", log.String())
			}
			if strings.Contains(log.String(), "Bearer") || (tt.authorization == "Bearer forged" && strings.Contains(log.String(), "forged")) {
				t.Errorf("token logged: %q", log.String())
			}
		})
	}
	for _, a := range v.seen {
		if a != audience {
			t.Errorf("token checked for audience %q, want %q", a, audience)
		}
	}

	// Misconfigured, every request is refused, even with a valid token.
	for _, tt := range []struct {
		name              string
		v                 gcpauth.Validator
		audience, account string
	}{
		{"no validator", nil, audience, account},
		{"no audience", v, "", account},
		{"no account", v, audience, ""},
	} {
		var log strings.Builder
		h := gcpauth.Require(gcpauth.Caller{Validator: tt.v, Audience: tt.audience, Account: tt.account},
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Errorf("%s: handler reached", tt.name) }),
			slog.New(slog.NewTextHandler(&log, nil)))
		req := httptest.NewRequest("POST", "/", nil)
		req.Header.Set("Authorization", "Bearer ok")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 401 || !strings.Contains(log.String(), "level=WARN") || strings.Contains(log.String(), "level=ERROR") {
			t.Errorf("%s: status %d, log %q; want 401 and a WARN line, no ERROR", tt.name, rec.Code, log.String())
		}
	}
}
