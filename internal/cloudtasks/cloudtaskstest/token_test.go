package cloudtaskstest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestTokenExpiryAndIssuer(t *testing.T) {
	now := time.Now()
	v := TokenValidator{Secret: "k"}
	tok := mint("k", "sa@p.iam.gserviceaccount.com", "https://a", now)
	if _, err := v.parse(tok, now.Add(tokenLifetime-time.Second)); err != nil {
		t.Errorf("token within its lifetime: %v", err)
	}
	if _, err := v.parse(tok, now.Add(tokenLifetime+time.Second)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("expired token: %v, want ErrInvalidToken", err)
	}

	// A token the secret signed, but with another issuer, is refused.
	c, _ := json.Marshal(claims{Issuer: "https://evil.example", Audience: "https://a", Expires: now.Add(time.Hour).Unix()})
	signed := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(c)
	other := signed + "." + base64.RawURLEncoding.EncodeToString(sign("k", signed))
	if _, err := v.parse(other, now); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("other issuer: %v, want ErrInvalidToken", err)
	}
	// So is one with another header (e.g. alg none), even if signed.
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))
	signed = h + "." + base64.RawURLEncoding.EncodeToString(c)
	if _, err := v.parse(signed+"."+base64.RawURLEncoding.EncodeToString(sign("k", signed)), now); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("alg none: %v, want ErrInvalidToken", err)
	}
}
