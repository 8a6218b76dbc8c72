package twilio

import (
	"context"

	twiliogo "github.com/twilio/twilio-go"
	content "github.com/twilio/twilio-go/rest/content/v1"
)

// ContentApproved is the WhatsApp approval status of a Content API
// template WhatsApp takes
// (https://www.twilio.com/docs/content/content-api-resources).
const ContentApproved = "approved"

// ContentApproval is a Content API template's WhatsApp approval.
type ContentApproval struct {
	// Name is the template's name in WhatsApp.
	Name string
	// Status is ContentApproved, or another of WhatsApp's states
	// (pending, rejected, unsubmitted, paused, disabled…); "" when the
	// template was never submitted to WhatsApp.
	Status          string
	RejectionReason string
}

// FetchContentApproval returns the WhatsApp approval of the Content API
// template sid, from
// https://content.twilio.com/v1/Content/{Sid}/ApprovalRequests. An
// unknown template is ErrNotFound.
func (c *Client) FetchContentApproval(ctx context.Context, sid string) (ContentApproval, error) {
	a, err := call(ctx, c, idempotent, func(rc *twiliogo.RestClient) (*content.ContentV1ApprovalFetch, error) {
		return rc.ContentV1.FetchApprovalFetch(sid)
	})
	if err != nil {
		return ContentApproval{}, wrap("fetch the WhatsApp approval of content "+sid, err)
	}
	wa := value(a.Whatsapp)
	str := func(k string) string { s, _ := wa[k].(string); return s }
	return ContentApproval{Name: str("name"), Status: str("status"), RejectionReason: str("rejection_reason")}, nil
}
