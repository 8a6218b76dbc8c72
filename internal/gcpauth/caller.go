package gcpauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// Check's refusals: ErrUnauthenticated answers 401, ErrForbidden 403
// (Status).
var (
	ErrUnauthenticated = errors.New("gcpauth: no valid ID token")
	ErrForbidden       = errors.New("gcpauth: ID token of another identity")
)

// What an ErrUnauthenticated refusal was for, to name it in the log.
var (
	errNotConfigured = errors.New("no validator, audience or service account is configured")
	errNoToken       = errors.New("no bearer token")
)

// Caller is the one service account a function lets in: its requests
// carry "Authorization: Bearer <ID token>", the token minted for
// Audience (the URL called, or the audience configured on the caller's
// side) with Account as its verified e-mail
// (https://cloud.google.com/tasks/docs/reference/rest/v2/OidcToken,
// https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs#oidctoken).
//
// A Caller without a Validator, Audience or Account lets nobody in: an
// empty audience would let a token minted for any other service in.
type Caller struct {
	Validator Validator
	Audience  string
	Account   string
}

// Check authenticates r. It returns the token's identity, or an error
// wrapping ErrUnauthenticated (no token, an invalid one, or an
// incomplete Caller) or ErrForbidden (a valid token of another identity,
// or with an unverified e-mail), which never holds the token.
//
// Google's service-account e-mails are lower case, and so are the
// tokens': Account is compared in lower case, the token's e-mail as it
// is.
func (c Caller) Check(r *http.Request) (Identity, error) {
	if c.Validator == nil || c.Audience == "" || c.Account == "" {
		return Identity{}, fmt.Errorf("%w: %w", ErrUnauthenticated, errNotConfigured)
	}
	token := bearer(r.Header)
	if token == "" {
		return Identity{}, fmt.Errorf("%w: %w", ErrUnauthenticated, errNoToken)
	}
	id, err := c.Validator.Validate(r.Context(), token, c.Audience)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	if id.Email != strings.ToLower(c.Account) || !id.EmailVerified {
		return id, fmt.Errorf("%w: e-mail %q, verified %v", ErrForbidden, id.Email, id.EmailVerified)
	}
	return id, nil
}

// Status is the HTTP status of a refusal by Check: 403 for ErrForbidden,
// else 401.
func Status(err error) int {
	if errors.Is(err, ErrForbidden) {
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

// Require lets a request reach h only if c.Check accepts it. A refused
// request gets 401 (with WWW-Authenticate) or 403, and a WARN line
// without the token: anyone can send a request, and ERROR lines are kept
// for lost work.
func Require(c Caller, h http.Handler, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := c.Check(r); err != nil {
			log.WarnContext(r.Context(), refusal(err), "error", err, "remote", r.RemoteAddr)
			status := Status(err)
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", "Bearer")
			}
			http.Error(w, http.StatusText(status), status)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// refusal is the message of a refusal's log line.
func refusal(err error) string {
	switch {
	case errors.Is(err, ErrForbidden):
		return "ID token of another identity refused"
	case errors.Is(err, errNotConfigured):
		return "request refused: no ID token validator, audience or service account is configured"
	case errors.Is(err, errNoToken):
		return "request without a bearer token refused"
	}
	return "invalid ID token refused"
}

// bearer returns the token of an "Authorization: Bearer" header, or "".
func bearer(h http.Header) string {
	scheme, token, ok := strings.Cut(h.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
