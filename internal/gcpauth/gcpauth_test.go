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
	"github.com/experthub/experthub/internal/taskqueue"
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

func TestGoogleIDTokens(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	g := &google{key: key}
	v := &gcpauth.GoogleIDTokens{HTTPClient: &http.Client{Transport: g}}
	var _ taskqueue.IDTokenValidator = v

	claims := func(change map[string]any) map[string]any {
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
	tests := []struct {
		name     string
		token    string
		audience string
		want     taskqueue.Identity
		ok       bool
	}{
		{"valid", g.sign(t, key, claims(nil)), audience, taskqueue.Identity{Email: account, EmailVerified: true}, true},
		{"issuer without scheme", g.sign(t, key, claims(map[string]any{"iss": "accounts.google.com"})), audience,
			taskqueue.Identity{Email: account, EmailVerified: true}, true},
		{"unverified email", g.sign(t, key, claims(map[string]any{"email_verified": false})), audience,
			taskqueue.Identity{Email: account}, true},
		{"no email", g.sign(t, key, claims(map[string]any{"email": nil})), audience, taskqueue.Identity{EmailVerified: true}, true},
		{"other audience", g.sign(t, key, claims(map[string]any{"aud": "https://example.com"})), audience, taskqueue.Identity{}, false},
		{"empty audience asked", g.sign(t, key, claims(nil)), "", taskqueue.Identity{}, false},
		{"expired", g.sign(t, key, claims(map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})), audience, taskqueue.Identity{}, false},
		{"IAP issuer", g.sign(t, key, claims(map[string]any{"iss": "https://cloud.google.com/iap"})), audience, taskqueue.Identity{}, false},
		{"other issuer", g.sign(t, key, claims(map[string]any{"iss": "https://evil.example"})), audience, taskqueue.Identity{}, false},
		{"other key", g.sign(t, other, claims(nil)), audience, taskqueue.Identity{}, false},
		{"garbage", "not.a.jwt", audience, taskqueue.Identity{}, false},
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
