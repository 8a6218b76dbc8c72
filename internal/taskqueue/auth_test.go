package taskqueue_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/experthub/experthub/internal/taskqueue"
)

const (
	audience = "https://europe-west1-demo.cloudfunctions.net/work"
	account  = "tasks-invoker@demo.iam.gserviceaccount.com"
)

// idToken is what a token the validator knows says.
type idToken struct {
	audience string
	id       taskqueue.Identity
}

// strictIDTokens validates the tokens it knows, as Google's validator
// does: unknown tokens and tokens for another audience fail.
type strictIDTokens struct {
	tokens map[string]idToken

	mu   sync.Mutex
	seen []string
}

func (v *strictIDTokens) Validate(_ context.Context, token, aud string) (taskqueue.Identity, error) {
	v.mu.Lock()
	v.seen = append(v.seen, aud)
	v.mu.Unlock()
	t, ok := v.tokens[token]
	if !ok {
		return taskqueue.Identity{}, errors.New("invalid token")
	}
	if t.audience != aud {
		return taskqueue.Identity{}, errors.New("audience provided does not match aud claim in the JWT")
	}
	return t.id, nil
}

func TestRequireOIDC(t *testing.T) {
	v := &strictIDTokens{tokens: map[string]idToken{
		"ok":             {audience, taskqueue.Identity{Email: account, EmailVerified: true}},
		"other-audience": {"https://example.com/other", taskqueue.Identity{Email: account, EmailVerified: true}},
		"unverified":     {audience, taskqueue.Identity{Email: account}},
		"intruder":       {audience, taskqueue.Identity{Email: "intruder@demo.iam.gserviceaccount.com", EmailVerified: true}},
		"lookalike":      {audience, taskqueue.Identity{Email: account + ".evil.example", EmailVerified: true}},
		"upper":          {audience, taskqueue.Identity{Email: strings.ToUpper(account), EmailVerified: true}},
		"no-email":       {audience, taskqueue.Identity{EmailVerified: true}},
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
			var log logBuffer
			reached := false
			h := taskqueue.RequireOIDC(v, audience, account, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
			}), log.logger())
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
		v                 taskqueue.IDTokenValidator
		audience, account string
	}{
		{"no validator", nil, audience, account},
		{"no audience", v, "", account},
		{"no account", v, audience, ""},
	} {
		var log logBuffer
		h := taskqueue.RequireOIDC(tt.v, tt.audience, tt.account, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Errorf("%s: handler reached", tt.name)
		}), log.logger())
		req := httptest.NewRequest("POST", "/", nil)
		req.Header.Set("Authorization", "Bearer ok")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		// A refused caller is a WARN, whoever sends it: ERROR lines are
		// for lost work, and nobody outside may write them at will.
		if rec.Code != 401 || !strings.Contains(log.String(), "level=WARN") || strings.Contains(log.String(), "level=ERROR") {
			t.Errorf("%s: status %d, log %q; want 401 and a WARN line, no ERROR", tt.name, rec.Code, log.String())
		}
	}
}
