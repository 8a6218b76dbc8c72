package crmsync_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/experthub/experthub/internal/gcpauth"
)

// idToken is what a valid ID token says.
type idToken struct {
	email, audience string
}

// strictIDTokens verifies tokens it issued, as Google's validator does:
// unknown tokens and tokens minted for another audience fail.
type strictIDTokens struct {
	tokens map[string]idToken

	mu   sync.Mutex
	seen []string // audiences asked for
}

var _ gcpauth.Validator = (*strictIDTokens)(nil)

func (v *strictIDTokens) Validate(_ context.Context, token, audience string) (gcpauth.Identity, error) {
	v.mu.Lock()
	v.seen = append(v.seen, audience)
	v.mu.Unlock()
	t, ok := v.tokens[token]
	if !ok {
		return gcpauth.Identity{}, errors.New("invalid token")
	}
	if t.audience != audience {
		return gcpauth.Identity{}, errors.New("audience provided does not match aud claim in the JWT")
	}
	return gcpauth.Identity{Email: t.email, EmailVerified: true}, nil
}

// TestHandlerOIDC checks who may start a full sync with an ID token: only
// the scheduler's account, with a token minted for this function.
func TestHandlerOIDC(t *testing.T) {
	const otherAudience = "https://europe-west1-demo.cloudfunctions.net/crm"
	v := &strictIDTokens{tokens: map[string]idToken{
		"ok":              {scheduler, audience},
		"other-audience":  {scheduler, otherAudience},
		"no-audience":     {scheduler, ""},
		"intruder":        {"intruder@demo.iam.gserviceaccount.com", audience},
		"lookalike":       {scheduler + ".evil.example", audience},
		"prefix":          {"x" + scheduler, audience},
		"local-part-only": {"sync-scheduler", audience},
		"no-email":        {"", audience},
	}}
	cfg := defaultConfig()
	cfg.Scheduler.Validator = v
	f := newFixture(t, cfg)

	tests := []struct {
		token  string
		status int
	}{
		{"unknown", 401},
		{"other-audience", 401},
		{"no-audience", 401},
		{"intruder", 403},
		{"lookalike", 403},
		{"prefix", 403},
		{"local-part-only", 403},
		{"no-email", 403},
		{"ok", 200},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			rec, _ := f.do("POST", map[string]string{"Authorization": "Bearer " + tt.token}, "")
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
		})
	}
	for _, a := range v.seen {
		if a != audience {
			t.Errorf("token checked against audience %q, want the configured %q", a, audience)
		}
	}
	t.Logf("OIDC: %d tokens tried, %d refused", len(tests), len(tests)-1)

	// Without a scheduler account or an audience, no ID token is enough:
	// idtoken.Validate skips the audience check for an empty audience.
	for _, tt := range []struct{ account, audience, token string }{
		{"", audience, "ok"},
		{scheduler, "", "no-audience"},
	} {
		cfg := cfg
		cfg.Scheduler.Account, cfg.Scheduler.Audience = tt.account, tt.audience
		f := newFixture(t, cfg)
		if rec, _ := f.do("POST", map[string]string{"Authorization": "Bearer " + tt.token}, ""); rec.Code != 401 {
			t.Errorf("ID token %q with account %q, audience %q: %d, want 401", tt.token, tt.account, tt.audience, rec.Code)
		}
	}
	// A Strapi webhook is never authorised by an ID token.
	if rec, _ := f.do("POST", webhookHeaders("entry.delete", "Bearer ok"), `{"event":"entry.delete","entry":{"id":1}}`); rec.Code != 401 {
		t.Errorf("webhook with an ID token: %d, want 401", rec.Code)
	}
}
