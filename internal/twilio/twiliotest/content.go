package twiliotest

import "net/http"

// Content API templates, served at
// GET https://content.twilio.com/v1/Content/{Sid}/ApprovalRequests: a
// template's WhatsApp approval, which experthub doctor checks. A message
// may name any well-formed ContentSid (conversations.go): what Twilio
// does with an unknown one is a delivery failure the fake does not model.

const contentHost = "content.twilio.com"

type contentState struct {
	name, status string
}

// AddContent adds a Content API template whose WhatsApp approval has
// status (approved, pending, rejected…; "": never submitted), and
// returns its SID.
func (f *Fake) AddContent(name, status string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	sid := f.newSID("HX")
	if f.contents == nil {
		f.contents = map[string]contentState{}
	}
	f.contents[sid] = contentState{name: name, status: status}
	return sid
}

// JSON shape, as https://www.twilio.com/docs/content/content-api-resources
// (Fetch an approval status).
type contentApprovalJSON struct {
	AccountSID string         `json:"account_sid"`
	SID        string         `json:"sid"`
	URL        string         `json:"url"`
	WhatsApp   map[string]any `json:"whatsapp"`
}

func (f *Fake) fetchContentApproval(w http.ResponseWriter, r *http.Request) {
	sid := r.PathValue("sid")
	f.mu.Lock()
	c, ok := f.contents[sid]
	f.mu.Unlock()
	if !ok {
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	wa := map[string]any{}
	if c.status != "" {
		wa = map[string]any{"name": c.name, "category": "UTILITY", "content_type": "twilio/text", "status": c.status,
			"rejection_reason": "", "allow_category_change": true, "type": "whatsapp"}
	}
	writeJSON(w, http.StatusOK, contentApprovalJSON{
		AccountSID: f.cfg.AccountSID, SID: sid, URL: "https://" + contentHost + "/v1/Content/" + sid + "/ApprovalRequests", WhatsApp: wa,
	})
}
