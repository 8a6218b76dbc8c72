package twilio_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// TestValidateFlexToken: Twilio's answer about a Flex user's token, each
// case as the Flex account's client sees it.
func TestValidateFlexToken(t *testing.T) {
	s, frontline := newFake(t, twiliotest.Config{})
	flexAcc := s.AddAccount(twiliotest.AccountConfig{AccountSID: flexSID, AuthToken: flexToken})
	flexAcc.AddWorker("agent@flex.example.com", true, nil, flexAcc.QueueSID())
	flex := twilio.New(twilio.Config{AccountSID: flexSID, AuthToken: flexToken, BaseURL: s.URL})
	ctx := ctxTimeout(t, 10*time.Second)

	agent := flexAcc.MintFlexToken("agent@flex.example.com", []string{"agent"}, time.Hour)
	got, err := flex.ValidateFlexToken(ctx, agent)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Valid || got.RealmUserID != "agent@flex.example.com" || got.Identity == "" || !slices.Equal(got.Roles, []string{"agent"}) ||
		!strings.HasPrefix(got.WorkerSID, "WK") || got.Expiration.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("a valid token: %+v", got)
	}
	// The Flex account's own log: a request goes to the account it
	// authenticates as.
	reqs := flexAcc.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1/Accounts/"+flexSID+"/Tokens/validate" ||
		!strings.HasPrefix(reqs[0].Header.Get("Content-Type"), "application/json") {
		t.Errorf("requests to the validation: %+v", reqs)
	}

	for name, tok := range map[string]string{
		"expired":                     flexAcc.MintFlexToken("agent@flex.example.com", []string{"agent"}, -time.Second),
		"another account's":           s.MintFlexToken("agent@flex.example.com", []string{"agent"}, time.Hour),
		"never issued":                agent[:len(agent)-2] + "xx",
		"not a token":                 "hello",
		"the Flex account's, mangled": strings.ToUpper(agent),
	} {
		got, err := flex.ValidateFlexToken(ctx, tok)
		if err != nil || got.Valid || got.Code == 0 || got.RealmUserID != "" || got.Roles != nil {
			t.Errorf("%s token: %+v, %v; want invalid, with a code and no user", name, got, err)
		}
	}

	// The Frontline account cannot validate the Flex account's tokens: a
	// validation is asked of the account that issued them.
	if got, err := frontline.ValidateFlexToken(ctx, agent); err != nil || got.Valid {
		t.Errorf("the Frontline account validating a Flex token: %+v, %v; want invalid", got, err)
	}
	wrong := twilio.New(twilio.Config{AccountSID: flexSID, AuthToken: s.AuthToken(), BaseURL: s.URL})
	_, err = wrong.ValidateFlexToken(ctx, agent)
	if !errors.Is(err, twilio.ErrUnauthorized) || strings.Contains(err.Error(), agent) {
		t.Errorf("wrong credentials: %v; want ErrUnauthorized, without the token", err)
	}

	// Twilio down for a moment: retried, as every read.
	flexAcc.FailNext(http.MethodPost, "/v1/Accounts/", http.StatusServiceUnavailable, 0)
	if got, err := flex.ValidateFlexToken(ctx, agent); err != nil || !got.Valid {
		t.Errorf("after one 503: %+v, %v; want valid", got, err)
	}
}
