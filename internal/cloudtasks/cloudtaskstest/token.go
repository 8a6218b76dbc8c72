package cloudtaskstest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/experthub/experthub/internal/gcpauth"
)

// ErrInvalidToken is returned by TokenValidator.Validate for a token the
// fake did not sign with the secret, or that is expired or for another
// audience.
var ErrInvalidToken = errors.New("cloudtaskstest: invalid ID token")

// issuer is the iss claim of Google's ID tokens, which the fake's tokens
// copy.
const issuer = "https://accounts.google.com"

// tokenLifetime is that of Google's ID tokens: an hour.
const tokenLifetime = time.Hour

// claims are those of the OIDC ID token Cloud Tasks sends for an
// OidcToken: its audience, and the service account as a verified e-mail.
type claims struct {
	Issuer        string `json:"iss"`
	Audience      string `json:"aud"`
	Subject       string `json:"sub"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	IssuedAt      int64  `json:"iat"`
	Expires       int64  `json:"exp"`
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// mint signs an ID token with HS256: Google signs with RS256 keys only it
// holds, so the fake's tokens are checked with the shared secret instead
// (TokenValidator).
func mint(secret, email, audience string, now time.Time) string {
	c, _ := json.Marshal(claims{
		Issuer:        issuer,
		Audience:      audience,
		Subject:       email,
		Email:         email,
		EmailVerified: true,
		IssuedAt:      now.Unix(),
		Expires:       now.Add(tokenLifetime).Unix(),
	})
	signed := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(c)
	return signed + "." + base64.RawURLEncoding.EncodeToString(sign(secret, signed))
}

func sign(secret, s string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	return m.Sum(nil)
}

// TokenValidator validates the ID tokens a fake signed with Secret, so a
// process other than the fake's (an experthub instance in a
// production-like local run, given CLOUD_TASKS_EMULATOR_SECRET) can
// authenticate its deliveries. It checks what Google's validator checks:
// signature, expiry, audience; and the issuer.
type TokenValidator struct {
	Secret string
}

var _ gcpauth.Validator = TokenValidator{}

// Validate implements gcpauth.Validator.
func (v TokenValidator) Validate(_ context.Context, token, audience string) (gcpauth.Identity, error) {
	c, err := v.parse(token, time.Now())
	if err != nil {
		return gcpauth.Identity{}, err
	}
	if audience == "" || c.Audience != audience {
		return gcpauth.Identity{}, fmt.Errorf("%w: audience %q, want %q", ErrInvalidToken, c.Audience, audience)
	}
	return gcpauth.Identity{Email: c.Email, EmailVerified: c.EmailVerified}, nil
}

func (v TokenValidator) parse(token string, now time.Time) (claims, error) {
	var c claims
	if v.Secret == "" {
		return c, fmt.Errorf("%w: no secret to check it with", ErrInvalidToken)
	}
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return c, fmt.Errorf("%w: not a JWT", ErrInvalidToken)
	}
	signed, sig := token[:i], token[i+1:]
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, sign(v.Secret, signed)) {
		return c, fmt.Errorf("%w: bad signature", ErrInvalidToken)
	}
	header, payload, ok := strings.Cut(signed, ".")
	if !ok || header != jwtHeader {
		return c, fmt.Errorf("%w: not an HS256 JWT", ErrInvalidToken)
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return c, fmt.Errorf("%w: payload: %w", ErrInvalidToken, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: payload: %w", ErrInvalidToken, err)
	}
	if c.Issuer != issuer {
		return c, fmt.Errorf("%w: issuer %q", ErrInvalidToken, c.Issuer)
	}
	if now.Unix() > c.Expires {
		return c, fmt.Errorf("%w: expired", ErrInvalidToken)
	}
	return c, nil
}
