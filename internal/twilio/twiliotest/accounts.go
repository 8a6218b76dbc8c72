package twiliotest

import (
	"fmt"
	"net/http"
	"strings"
)

// A Fake is one Twilio account. AddAccount gives it a sibling: another
// account with its own credentials and its own data (conversations,
// workers, tasks, request log, faults), served on the same URL. A REST
// request goes to the account whose SID (or API key) it authenticates
// with, and is refused unless its password is that account's: Expert
// Hub's Frontline account and a Flex contact center are two accounts, and
// a request sent to the wrong one must fail as it would at Twilio.

// AccountConfig configures a second account. Zero SIDs get fresh ones;
// AccountSID and AuthToken are required.
type AccountConfig struct {
	AccountSID string
	AuthToken  string
	// APIKey and APISecret, when set, are accepted as Basic auth too.
	APIKey    string
	APISecret string

	WorkspaceSID        string
	WorkflowSID         string
	QueueSID            string
	ChatServiceSID      string
	MessagingServiceSID string
}

// AddAccount adds an account beside f's and returns it. A SID that is
// already an account's is a test bug: AddAccount panics.
func (f *Fake) AddAccount(cfg AccountConfig) *Fake {
	if cfg.AccountSID == "" || cfg.AuthToken == "" {
		panic("twiliotest: AddAccount needs an account SID and an auth token")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if cfg.AccountSID == f.cfg.AccountSID || f.accounts[cfg.AccountSID] != nil {
		panic("twiliotest: duplicate account " + cfg.AccountSID)
	}
	sid := func(s, prefix string) string {
		if s == "" {
			// Distinct from every SID of the first account.
			f.seq++
			s = fmt.Sprintf("%s%s%024x", prefix, strings.ToLower(cfg.AccountSID[2:10]), f.seq)
		}
		return s
	}
	acc := New(Config{
		AccountSID:          cfg.AccountSID,
		AuthToken:           cfg.AuthToken,
		APIKey:              cfg.APIKey,
		APISecret:           cfg.APISecret,
		WorkspaceSID:        sid(cfg.WorkspaceSID, "WS"),
		WorkflowSID:         sid(cfg.WorkflowSID, "WW"),
		QueueSID:            sid(cfg.QueueSID, "WQ"),
		ChatServiceSID:      sid(cfg.ChatServiceSID, "IS"),
		MessagingServiceSID: sid(cfg.MessagingServiceSID, "MG"),
		WebhookTimeout:      f.cfg.WebhookTimeout,
		RoutingTimeout:      f.cfg.RoutingTimeout,
		HTTPClient:          f.cfg.HTTPClient,
	})
	if f.accounts == nil {
		f.accounts = map[string]*Fake{}
	}
	f.accounts[cfg.AccountSID] = acc
	if cfg.APIKey != "" {
		f.accounts[cfg.APIKey] = acc
	}
	return acc
}

// accountFor returns the other account r authenticates as, or nil for f's
// own (or none: f then refuses it).
func (f *Fake) accountFor(r *http.Request) *Fake {
	user, _, ok := r.BasicAuth()
	if !ok {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accounts[user]
}
