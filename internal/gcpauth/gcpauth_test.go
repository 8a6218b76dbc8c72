package gcpauth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/gcpauth"
)

const (
	audience = "https://europe-west1-demo.cloudfunctions.net/work"
	account  = "tasks-invoker@demo.iam.gserviceaccount.com"
	certsURL = "https://www.googleapis.com/oauth2/v3/certs"
)

// google stands in for Google's key endpoint: it serves the public half
// of a key the test signs with. No request leaves the process.
type google struct {
	key     *rsa.PrivateKey
	fetches atomic.Int32
}

func (g *google) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.String() != certsURL {
		return &http.Response{StatusCode: 404, Body: io.NopCloser(bytes.NewReader(nil)), Request: r}, nil
	}
	g.fetches.Add(1)
	b64 := base64.RawURLEncoding.EncodeToString
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kid": "k1", "kty": "RSA", "alg": "RS256", "use": "sig",
		"n": b64(g.key.N.Bytes()), "e": b64(big.NewInt(int64(g.key.E)).Bytes()),
	}}})
	return &http.Response{
		StatusCode: 200,
		Header:     http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"public, max-age=3600"}},
		Body:       io.NopCloser(bytes.NewReader(body)),
		Request:    r,
	}, nil
}

func (g *google) sign(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	signed := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + b64(sig)
}

// unsigned returns a token of claims with header alg and a dummy signature.
func unsigned(alg string, claims map[string]any) string {
	b64 := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": alg, "kid": "k1", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	return b64(h) + "." + b64(c) + "." + b64([]byte("signature"))
}

// newGoogle returns Google's key endpoint with a fresh key, and a key
// Google does not have.
func newGoogle(t *testing.T) (g *google, other *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err = rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &google{key: key}, other
}

// claims are those of a token Cloud Tasks sends for account, with change
// applied (a nil value removes a claim).
func claims(change map[string]any) map[string]any {
	c := map[string]any{
		"iss": "https://accounts.google.com", "aud": audience, "sub": "1234",
		"email": account, "email_verified": true,
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	}
	for k, val := range change {
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
	}
	return c
}

func TestGoogleIDTokens(t *testing.T) {
	g, other := newGoogle(t)
	key := g.key
	v := &gcpauth.GoogleIDTokens{HTTPClient: &http.Client{Transport: g}}
	var _ gcpauth.Validator = v

	tests := []struct {
		name     string
		token    string
		audience string
		want     gcpauth.Identity
		ok       bool
	}{
		{"valid", g.sign(t, key, claims(nil)), audience, gcpauth.Identity{Email: account, EmailVerified: true}, true},
		{"issuer without scheme", g.sign(t, key, claims(map[string]any{"iss": "accounts.google.com"})), audience,
			gcpauth.Identity{Email: account, EmailVerified: true}, true},
		{"unverified email", g.sign(t, key, claims(map[string]any{"email_verified": false})), audience,
			gcpauth.Identity{Email: account}, true},
		{"no email", g.sign(t, key, claims(map[string]any{"email": nil})), audience, gcpauth.Identity{EmailVerified: true}, true},
		{"other audience", g.sign(t, key, claims(map[string]any{"aud": "https://example.com"})), audience, gcpauth.Identity{}, false},
		{"empty audience asked", g.sign(t, key, claims(nil)), "", gcpauth.Identity{}, false},
		{"expired", g.sign(t, key, claims(map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})), audience, gcpauth.Identity{}, false},
		{"IAP issuer", g.sign(t, key, claims(map[string]any{"iss": "https://cloud.google.com/iap"})), audience, gcpauth.Identity{}, false},
		{"other issuer", g.sign(t, key, claims(map[string]any{"iss": "https://evil.example"})), audience, gcpauth.Identity{}, false},
		{"other key", g.sign(t, other, claims(nil)), audience, gcpauth.Identity{}, false},
		{"garbage", "not.a.jwt", audience, gcpauth.Identity{}, false},
		{"unsigned (alg none)", unsigned("none", claims(nil)), audience, gcpauth.Identity{}, false},
		{"HS256", unsigned("HS256", claims(nil)), audience, gcpauth.Identity{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := v.Validate(context.Background(), tt.token, tt.audience)
			if tt.ok && (err != nil || id != tt.want) {
				t.Errorf("Validate = %+v, %v; want %+v", id, err, tt.want)
			}
			if !tt.ok && !errors.Is(err, gcpauth.ErrInvalidToken) {
				t.Errorf("Validate = %+v, %v; want ErrInvalidToken", id, err)
			}
		})
	}
	if n := g.fetches.Load(); n != 1 {
		t.Errorf("keys fetched %d times, want once (cached)", n)
	}
}
