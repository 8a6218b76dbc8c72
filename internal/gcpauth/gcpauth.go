// Package gcpauth validates the Google-signed OIDC ID tokens that Google
// Cloud services (Cloud Tasks, Cloud Scheduler) send to the functions
// they call.
package gcpauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"github.com/experthub/experthub/internal/taskqueue"
)

// ErrInvalidToken is returned by Validate for a token that is not a valid
// Google ID token for the audience.
var ErrInvalidToken = errors.New("gcpauth: invalid ID token")

// GoogleIDTokens validates Google-signed ID tokens against Google's
// public keys, which it fetches and caches. The zero value is ready to
// use; use it by pointer.
type GoogleIDTokens struct {
	// HTTPClient fetches the keys; nil means http.DefaultClient.
	HTTPClient *http.Client

	once sync.Once
	v    *idtoken.Validator
	err  error
}

var _ taskqueue.IDTokenValidator = (*GoogleIDTokens)(nil)

// Validate checks the token's signature, expiry and audience, which must
// not be empty (idtoken.Validate skips the audience check then), and its
// issuer: idtoken checks none, and would accept a token that
// Identity-Aware Proxy signed.
func (g *GoogleIDTokens) Validate(ctx context.Context, token, audience string) (taskqueue.Identity, error) {
	if audience == "" {
		return taskqueue.Identity{}, fmt.Errorf("%w: no audience to check", ErrInvalidToken)
	}
	g.once.Do(func() {
		c := g.HTTPClient
		if c == nil {
			c = http.DefaultClient
		}
		g.v, g.err = idtoken.NewValidator(ctx, option.WithHTTPClient(c))
	})
	if g.err != nil {
		return taskqueue.Identity{}, fmt.Errorf("gcpauth: %w", g.err)
	}
	p, err := g.v.Validate(ctx, token, audience)
	if err != nil {
		return taskqueue.Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	// https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken
	if p.Issuer != "https://accounts.google.com" && p.Issuer != "accounts.google.com" {
		return taskqueue.Identity{}, fmt.Errorf("%w: issuer %q", ErrInvalidToken, p.Issuer)
	}
	email, _ := p.Claims["email"].(string)
	verified, _ := p.Claims["email_verified"].(bool)
	return taskqueue.Identity{Email: email, EmailVerified: verified}, nil
}
