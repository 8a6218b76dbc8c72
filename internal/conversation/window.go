package conversation

import (
	"context"
	"time"

	"github.com/experthub/experthub/internal/crm"
)

// WhatsApp delivers a business's free-form message only within 24 hours
// of the customer's last message; outside that window only an approved
// template (https://www.twilio.com/docs/whatsapp/key-concepts), and a
// free-form message fails later, undelivered (error 63016). A handoff to
// a WhatsApp customer outside the window therefore opens with an
// approved template (ContactCenter.Opener), or is refused before
// anything is created.

// Opener is what opens a handoff to a WhatsApp customer outside the
// window: an approved template's text, or a Content API template, which
// WhatsApp requires of every template since April 2025.
type Opener struct {
	Text    string
	Content Content // set: sent instead of Text
}

// Content is a Content API template (https://www.twilio.com/docs/content):
// its SID (HX…) and the JSON object of its variables, "" for none.
type Content struct {
	SID, Variables string
}

// whatsAppWindow is WhatsApp's customer service window.
const whatsAppWindow = 24 * time.Hour

// whatsAppOpener returns the template a handoff (id) to customer c at
// address opens with: zero inside the window or for SMS. Outside it
// without a template the handoff is refused (ErrOutsideWindow). conv is
// the customer's open conversation as read with convErr.
func (f *Flow) whatsAppOpener(ctx context.Context, id string, c crm.Customer, address, conv string, convErr error) (Opener, error) {
	if !crm.IsWhatsApp(address) {
		return Opener{}, nil
	}
	open, err := f.inWhatsAppWindow(ctx, address, conv, convErr)
	if err != nil {
		f.log.WarnContext(ctx, "handoff: the customer's latest messages could not be read", "handoff_id", id, "err", err)
		return Opener{}, refuse(ErrUnavailable, "Twilio did not answer; retry with the same handoff_id")
	}
	if open {
		return Opener{}, nil
	}
	if f.cc.Opener != nil {
		o, ok, err := f.cc.Opener(ctx, c)
		if err != nil {
			f.log.WarnContext(ctx, "handoff: the templates could not be read", "handoff_id", id, "err", err)
			return Opener{}, refuse(ErrUnavailable, "the message templates could not be read; retry with the same handoff_id")
		}
		if ok {
			f.log.InfoContext(ctx, "handoff outside the WhatsApp window: opening with an approved template", "handoff_id", id, "content_sid", o.Content.SID)
			return o, nil
		}
	}
	return Opener{}, refuse(ErrOutsideWindow, "the customer has not written on WhatsApp for 24 hours: outside that window WhatsApp delivers only "+
		"an approved template, and none is set (HANDOFF_WHATSAPP_CONTENT_SID) or marked whatsAppApproved; nothing was created")
}

// inWhatsAppWindow reports whether the customer at address wrote within
// whatsAppWindow, in their open Frontline conversation conv (its latest
// messages; "": none). A message in a conversation closed since is not
// seen: the window then reads as closed, and the handoff opens with a
// template.
func (f *Flow) inWhatsAppWindow(ctx context.Context, address, conv string, convErr error) (bool, error) {
	if convErr != nil || conv == "" {
		return false, convErr
	}
	ms, err := f.convs.RecentMessages(ctx, conv, recentWindow)
	if err != nil {
		return false, err
	}
	since := f.now().Add(-whatsAppWindow)
	for i := len(ms) - 1; i >= 0; i-- {
		if m := ms[i]; m.Author == address && !m.Created.IsZero() {
			return m.Created.After(since), nil
		}
	}
	return false, nil
}
