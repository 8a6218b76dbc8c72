package twilio

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	twiliogo "github.com/twilio/twilio-go"
)

// A Flex user's token (the JWE the Flex UI holds) is checked by Twilio:
// POST https://iam.twilio.com/v1/Accounts/{AccountSid}/Tokens/validate,
// Basic auth with the account's credentials, JSON body {"token": "…"},
// answered {"valid": true, "expiration", "realm_user_id", "identity",
// "roles", "worker_sid", …} or {"valid": false, "code", "message"}. That
// is what Twilio's own validator sends and reads
// (https://github.com/twilio/twilio-flex-token-validator, src/index.ts
// and its README). twilio-go has no call for it: it is sent through
// twilio-go's request handler, so it goes through the client's origin
// (Config.BaseURL), deadlines and retries like every other call.

// flexValidateURL is the validation endpoint of account sid.
func flexValidateURL(sid string) string {
	return "https://iam.twilio.com/v1/Accounts/" + url.PathEscape(sid) + "/Tokens/validate"
}

// maxValidateAnswer bounds the answer read: a few short fields.
const maxValidateAnswer = 64 << 10

// FlexToken is Twilio's answer about a Flex user's token; its json tags
// are the endpoint's names.
type FlexToken struct {
	// Valid says the token is one of the account's users' and has not
	// expired; the other fields are set only then, but Code and Message.
	Valid   bool   `json:"valid"`
	Code    int    `json:"code"`
	Message string `json:"message"`
	// Expiration is when the token stops being valid.
	Expiration time.Time `json:"expiration"`
	// RealmUserID is the user's login (an e-mail, for SSO users);
	// Identity its encoded form, as Flex names the user's worker.
	RealmUserID string   `json:"realm_user_id"`
	Identity    string   `json:"identity"`
	Roles       []string `json:"roles"`
	WorkerSID   string   `json:"worker_sid"`
}

// ValidateFlexToken asks Twilio whether token is a valid Flex user token
// of the client's account. An invalid token is an answer (Valid false),
// not an error; an error means Twilio could not tell (its credentials
// refused: ErrUnauthorized). The token is a credential: it is sent in the
// body only and never appears in an error.
func (c *Client) ValidateFlexToken(ctx context.Context, token string) (FlexToken, error) {
	body, err := json.Marshal(map[string]string{"token": token})
	if err != nil {
		return FlexToken{}, err
	}
	const op = "validate a Flex token"
	t, err := call(ctx, c, idempotent, func(rc *twiliogo.RestClient) (FlexToken, error) {
		resp, err := rc.Post(flexValidateURL(c.accountSID), url.Values{},
			map[string]any{"Content-Type": "application/json", "Cache-Control": "no-cache"}, "", body...)
		if err != nil {
			return FlexToken{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxValidateAnswer))
		if err != nil {
			return FlexToken{}, err
		}
		var t FlexToken
		if err := json.Unmarshal(b, &t); err != nil {
			return FlexToken{}, fmt.Errorf("answer %d is not the validation's JSON: %w", resp.StatusCode, err)
		}
		return t, nil
	})
	if err != nil {
		return FlexToken{}, wrap(op, err)
	}
	if !t.Valid {
		t = FlexToken{Code: t.Code, Message: t.Message}
	}
	return t, nil
}
