package conversation

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/twilio"
)

// postEvent answers the post-action webhook. Twilio ignores the answer;
// the status still tells logs and retries what happened.
func (f *Flow) postEvent(w http.ResponseWriter, r *http.Request) {
	params := form(r)
	ctx := r.Context()
	switch event := get(params, "EventType"); event {
	case "onMessageAdded":
		m := inbound{
			conversation:   get(params, "ConversationSid"),
			message:        get(params, "MessageSid"),
			participant:    get(params, "ParticipantSid"),
			author:         get(params, "Author"),
			body:           get(params, "Body"),
			source:         get(params, "Source"),
			clientIdentity: get(params, "ClientIdentity"),
		}
		if !isSID(m.conversation, "CH") || !isSID(m.message, "IM") {
			f.log.WarnContext(ctx, "onMessageAdded without a valid ConversationSid and MessageSid",
				"conversation", m.conversation, "message", m.message)
			fail(w, http.StatusBadRequest, "ConversationSid and MessageSid are required")
			return
		}
		if err := f.turn(ctx, m); err != nil {
			f.failed(ctx, w, "bot turn failed", err, "conversation", m.conversation, "message", m.message)
			return
		}
		ok(w)
	case "onParticipantAdded":
		conv, part := get(params, "ConversationSid"), get(params, "ParticipantSid")
		if !isSID(conv, "CH") || !isSID(part, "MB") {
			f.log.WarnContext(ctx, "onParticipantAdded without a valid ConversationSid and ParticipantSid",
				"conversation", conv, "participant", part)
			fail(w, http.StatusBadRequest, "ConversationSid and ParticipantSid are required")
			return
		}
		err := f.describeCustomer(ctx, conv, part, get(params, "Identity"),
			get(params, "MessagingBinding.Address"), get(params, "Attributes"))
		if err != nil {
			f.failed(ctx, w, "setting the customer's participant attributes failed", err, "conversation", conv, "participant", part)
			return
		}
		ok(w)
	default:
		f.log.DebugContext(ctx, "post-event ignored", "event", event)
		ok(w)
	}
}

// describeCustomer gives an inbound customer's participant the attributes
// Frontline reads (https://www.twilio.com/docs/frontline/conversations-webhooks):
// customer_id, which Customer Details needs, display_name and avatar. It
// adds what is missing and overwrites nothing, so a second delivery
// changes nothing. The attributes stay within Twilio's limit: what does
// not fit is left out, customer_id last.
func (f *Flow) describeCustomer(ctx context.Context, conv, part, identity, address, attributes string) error {
	switch {
	case identity != "":
		return nil // a worker
	case address == "":
		return nil // neither a worker nor an SMS/WhatsApp customer
	case !isEmptyObject(attributes):
		// Frontline creates outbound conversations with the customer's
		// attributes already set.
		f.log.DebugContext(ctx, "participant already described", "conversation", conv, "participant", part)
		return nil
	}
	var (
		c      crm.Customer
		crmErr error
		p      twilio.Participant
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		c, crmErr = f.customers.CustomerByAddress(gctx, address)
		if crmErr != nil && !errors.Is(crmErr, crm.ErrNotFound) {
			return fmt.Errorf("customer lookup: %w", crmErr)
		}
		return nil
	})
	g.Go(func() (err error) {
		p, err = f.twilio.FetchParticipant(gctx, conv, part)
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if crmErr != nil {
		f.log.InfoContext(ctx, "customer not in the CRM; participant left as is", "conversation", conv, "address", address)
		return nil
	}
	m, err := parseObject(p.Attributes)
	if err != nil {
		return fmt.Errorf("participant %s: %w", part, err)
	}
	// A display name longer than a conversation's is no name; a long avatar
	// URL (a data: URL, say) is left out before customer_id is: Customer
	// Details needs only that.
	s, dropped, err := mergeWithin(m, map[string]string{
		"customer_id":  c.ID,
		"display_name": twilio.Truncate(c.DisplayName, twilio.MaxFriendlyName),
		"avatar":       c.Avatar,
	}, []string{"avatar", "display_name"}, twilio.MaxParticipantAttributes)
	if err != nil {
		return fmt.Errorf("participant %s: %w", part, err)
	}
	if len(dropped) > 0 {
		f.log.WarnContext(ctx, "customer attributes left out to fit Twilio's limit", "conversation", conv, "left_out", dropped)
	}
	if s == "" {
		return nil
	}
	return f.twilio.UpdateParticipantAttributes(ctx, conv, part, s)
}

// failed answers a callback whose work failed: 404 when Twilio does not
// know the conversation or participant (a bad request, logged as a
// warning), 500 otherwise.
func (f *Flow) failed(ctx context.Context, w http.ResponseWriter, msg string, err error, attrs ...any) {
	attrs = append(attrs, "err", err)
	if errors.Is(err, twilio.ErrNotFound) {
		f.log.WarnContext(ctx, msg+": not found in Twilio", attrs...)
		fail(w, http.StatusNotFound, "not found")
		return
	}
	f.log.ErrorContext(ctx, msg, attrs...)
	fail(w, http.StatusInternalServerError, msg)
}
