package twiliotest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Flex user tokens. A Flex account's users hold a token (a JWE) that
// Twilio checks at POST https://iam.twilio.com/v1/Accounts/{AccountSid}/Tokens/validate
// with the account's credentials and the JSON body {"token": "…"} (what
// https://github.com/twilio/twilio-flex-token-validator, src/index.ts,
// sends). The fake issues tokens for its own account's users
// (MintFlexToken) and answers as the validator's README shows: valid
// with the user's login, encoded identity, roles, worker and expiration;
// else valid false with a code and message. A token another account
// issued is unknown here, as at Twilio.

// Codes of an invalid token: Twilio's error dictionary's for access
// tokens (20101 invalid, 20104 expired).
const (
	codeInvalidToken = 20101
	codeExpiredToken = 20104
)

// flexToken is a token the account issued.
type flexToken struct {
	realmUserID string
	roles       []string
	expires     time.Time
}

// MintFlexToken issues a token of the user realmUserID (the Flex login,
// e.g. an e-mail) with roles ("agent", "supervisor", "admin"), valid for
// ttl (a negative ttl: expired already). It is shaped as a compact JWE,
// five base64url parts, as Flex's are.
func (f *Fake) MintFlexToken(realmUserID string, roles []string, ttl time.Duration) string {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"dir","enc":"A256GCM","kid":"` + f.cfg.AccountSID + `"}`))
	parts := []string{header, "", randomPart(12), randomPart(48), randomPart(16)}
	tok := strings.Join(parts, ".")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.flexTokens == nil {
		f.flexTokens = map[string]flexToken{}
	}
	f.flexTokens[tok] = flexToken{realmUserID: realmUserID, roles: append([]string(nil), roles...), expires: time.Now().Add(ttl)}
	return tok
}

func randomPart(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// flexIdentity is the encoded identity Flex gives a login: each
// character but letters and digits as _XX (hex), e.g.
// agent_40flex_2Eexample_2Ecom.
func flexIdentity(login string) string {
	var b strings.Builder
	for _, c := range []byte(login) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "_%02X", c)
	}
	return b.String()
}

// tokenAnswerJSON is the validation's answer.
type tokenAnswerJSON struct {
	Valid       bool     `json:"valid"`
	Code        int      `json:"code"`
	Message     *string  `json:"message"`
	Expiration  string   `json:"expiration,omitempty"`
	RealmUserID string   `json:"realm_user_id,omitempty"`
	Identity    string   `json:"identity,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	WorkerSID   string   `json:"worker_sid,omitempty"`
}

// validateFlexToken serves POST /v1/Accounts/{account}/Tokens/validate
// (iam.twilio.com): a JSON body {"token": "…"}, the path's account the
// one authenticated.
func (f *Fake) validateFlexToken(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("account") != f.cfg.AccountSID {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeAPIError(w, errInvalid("twiliotest: Tokens/validate takes a JSON body, not "+ct))
		return
	}
	var req struct {
		Token string `json:"token"`
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil || json.Unmarshal(b, &req) != nil || req.Token == "" {
		writeAPIError(w, errInvalid("twiliotest: Tokens/validate wants {\"token\": \"…\"}"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.flexTokens[req.Token]
	invalid := func(code int, msg string) {
		writeJSON(w, http.StatusOK, tokenAnswerJSON{Code: code, Message: &msg})
	}
	switch {
	case !ok:
		invalid(codeInvalidToken, "Invalid Access Token")
		return
	case !time.Now().Before(t.expires):
		invalid(codeExpiredToken, "Access Token expired or expiration date invalid")
		return
	}
	ans := tokenAnswerJSON{
		Valid:       true,
		Expiration:  t.expires.UTC().Format("2006-01-02T15:04:05.000Z"),
		RealmUserID: t.realmUserID,
		Identity:    flexIdentity(t.realmUserID),
		Roles:       t.roles,
	}
	if wk := f.workerByName(t.realmUserID); wk != nil {
		ans.WorkerSID = wk.SID
	}
	writeJSON(w, http.StatusOK, ans)
}
