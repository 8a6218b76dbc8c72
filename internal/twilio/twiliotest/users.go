package twiliotest

import "net/http"

// Frontline users. Every worker is a Frontline user too, of the same
// identity (Frontline names a worker after its user's identity), served
// at GET https://frontline-api.twilio.com/v1/Users/{Sid}.
//
// The path /v1/Users/{Sid} also exists on the Conversations host, where
// it is another resource (a Conversations user). The fake sees paths, not
// hosts, and Expert Hub only calls Frontline's: this is Frontline's, and
// nothing else of the Conversations users is served.

const frontlineHost = "frontline-api.twilio.com"

// Frontline user states (https://www.twilio.com/docs/frontline/frontline-api/user).
const (
	userActive      = "active"
	userDeactivated = "deactivated"
)

// SetDisplayName sets the display name (friendly_name) of the Frontline
// user of the worker identity (a TaskRouter friendly name, ignoring case);
// empty: none. It reports whether the worker exists.
func (f *Fake) SetDisplayName(identity, name string) bool {
	return f.changeWorker(identity, func(w *workerState) { w.DisplayName = name })
}

// SetUserActive activates or deactivates the Frontline user of the worker
// identity, as an administrator would in the Console. It reports whether
// the worker exists.
func (f *Fake) SetUserActive(identity string, active bool) bool {
	return f.changeWorker(identity, func(w *workerState) {
		w.UserState = userDeactivated
		if active {
			w.UserState = userActive
		}
	})
}

// JSON shape, field for field as twilio_frontline_v1.yaml.
type userJSON struct {
	SID          string  `json:"sid"`
	Identity     string  `json:"identity"`
	FriendlyName *string `json:"friendly_name"`
	Avatar       *string `json:"avatar"`
	State        string  `json:"state"`
	IsAvailable  bool    `json:"is_available"`
	URL          string  `json:"url"`
}

// fetchUser serves GET /v1/Users/{sid}: sid is the user's US… SID or its
// identity, which Frontline compares with case (identities are
// case-sensitive, unlike TaskRouter's friendly names).
func (f *Fake) fetchUser(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("sid")
	f.mu.Lock()
	defer f.mu.Unlock()
	var u *workerState
	for _, sid := range f.workerOrder {
		wk := f.workers[sid]
		if wk.UserSID == key || wk.FriendlyName == key {
			u = wk
			break
		}
	}
	if u == nil {
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	writeJSON(w, http.StatusOK, userJSON{
		SID:          u.UserSID,
		Identity:     u.FriendlyName,
		FriendlyName: nullable(u.DisplayName),
		State:        u.UserState,
		// Frontline's availability follows the worker's activity.
		IsAvailable: u.Available,
		URL:         "https://" + frontlineHost + "/v1/Users/" + u.UserSID,
	})
}
