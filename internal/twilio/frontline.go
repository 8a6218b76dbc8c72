package twilio

import (
	"context"
	"net/url"

	twiliogo "github.com/twilio/twilio-go"
	fl "github.com/twilio/twilio-go/rest/frontline/v1"
)

// Frontline user states (https://www.twilio.com/docs/frontline/frontline-api/user).
const (
	UserActive      = "active"
	UserDeactivated = "deactivated"
)

// User is a Frontline user: the person behind a worker's identity.
type User struct {
	Identity string
	// FriendlyName is the user's display name in Frontline; empty when
	// none is set.
	FriendlyName string
	// State is UserActive or UserDeactivated.
	State string
}

// FetchFrontlineUser returns the Frontline user whose identity (or US…
// SID) is identity, from https://frontline-api.twilio.com/v1/Users/{Sid}
// (redirected with every other host when Config.BaseURL is set). An
// unknown user is ErrNotFound. The same path on the Conversations host is
// another resource, a Conversations user: this reads Frontline's.
func (c *Client) FetchFrontlineUser(ctx context.Context, identity string) (User, error) {
	if identity == "" || Chars(identity) > MaxWorkerFriendlyName {
		// Frontline names each worker after its identity, so no user
		// has an identity a worker's friendly name cannot hold.
		return User{}, wrap("fetch frontline user", ErrNotFound)
	}
	u, err := call(ctx, c, idempotent, func(rc *twiliogo.RestClient) (*fl.FrontlineV1User, error) {
		// twilio-go puts the value in the path as it is: an identity is
		// often an e-mail, and may hold what a path may not.
		return rc.FrontlineV1.FetchUser(url.PathEscape(identity))
	})
	if err != nil {
		return User{}, wrap("fetch frontline user "+identity, err)
	}
	out := User{Identity: value(u.Identity), FriendlyName: value(u.FriendlyName), State: value(u.State)}
	if out.State == "" {
		out.State = UserActive // Twilio's documented default
	}
	return out, nil
}
