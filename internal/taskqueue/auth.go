package taskqueue

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
)

// Identity is what a validated OIDC ID token says of its subject.
type Identity struct {
	Email         string
	EmailVerified bool
}

// IDTokenValidator checks an OIDC ID token: its signature, expiry and
// issuer, and that it was minted for audience.
type IDTokenValidator interface {
	Validate(ctx context.Context, token, audience string) (Identity, error)
}

// RequireOIDC lets a request reach h only if it carries
// "Authorization: Bearer <ID token>" minted for audience (the URL the
// queue calls) to serviceAccount, the identity the queue's tasks carry
// (https://cloud.google.com/tasks/docs/reference/rest/v2/OidcToken).
// No token, or one that fails validation, gets 401; a valid token of
// another identity or with an unverified e-mail gets 403. Each refusal
// is logged at WARN, without the token: anyone can send a request, and
// ERROR lines are kept for lost work.
//
// Without a validator, audience or service account, every request is
// refused: an empty audience would let a token minted for any other
// service in.
func RequireOIDC(v IDTokenValidator, audience, serviceAccount string, h http.Handler, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &oidcGate{v: v, audience: audience, account: serviceAccount, next: h, log: log}
}

type oidcGate struct {
	v        IDTokenValidator
	audience string
	account  string
	next     http.Handler
	log      *slog.Logger
}

func (g *oidcGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := g.log.With("remote", r.RemoteAddr, "task", r.Header.Get(HeaderTaskName))
	if g.v == nil || g.audience == "" || g.account == "" {
		log.Warn("work: request refused: no OIDC validator, audience or service account is configured")
		unauthorized(w)
		return
	}
	token := bearer(r)
	if token == "" {
		log.Warn("work: request without a bearer token refused")
		unauthorized(w)
		return
	}
	id, err := g.v.Validate(r.Context(), token, g.audience)
	if err != nil {
		log.Warn("work: invalid ID token refused", "error", err)
		unauthorized(w)
		return
	}
	if id.Email != g.account || !id.EmailVerified {
		log.Warn("work: ID token of another identity refused",
			"email", id.Email, "email_verified", id.EmailVerified)
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
		return
	}
	g.next.ServeHTTP(w, r)
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer`)
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}

// bearer returns the token of an "Authorization: Bearer" header, or "".
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
