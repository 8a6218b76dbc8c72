package conversation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/twilio"
)

// postEvent answers the post-action webhook. Twilio ignores the answer;
// the status still tells logs and retries what happened.
func (f *Flow) postEvent(w http.ResponseWriter, r *http.Request) {
	params := form(r)
	ctx := r.Context()
	switch event := get(params, "EventType"); event {
	case "onMessageAdded":
		conv, msg := get(params, "ConversationSid"), get(params, "MessageSid")
		if !isSID(conv, "CH") || !isSID(msg, "IM") {
			f.log.WarnContext(ctx, "onMessageAdded without a valid ConversationSid and MessageSid",
				"conversation", conv, "message", msg)
			fail(w, http.StatusBadRequest, "ConversationSid and MessageSid are required")
			return
		}
		if !inboundFrom(params).forBot() {
			ok(w)
			return
		}
		f.accept(w, r, newJob(kindTurn, params, f.now()))
	case "onParticipantAdded":
		conv, part := get(params, "ConversationSid"), get(params, "ParticipantSid")
		if !isSID(conv, "CH") || !isSID(part, "MB") {
			f.log.WarnContext(ctx, "onParticipantAdded without a valid ConversationSid and ParticipantSid",
				"conversation", conv, "participant", part)
			fail(w, http.StatusBadRequest, "ConversationSid and ParticipantSid are required")
			return
		}
		if !describable(params) {
			ok(w)
			return
		}
		f.accept(w, r, newJob(kindDescribe, params, f.now()))
	default:
		f.log.DebugContext(ctx, "post-event ignored", "event", event)
		ok(w)
	}
}

// describable reports whether onParticipantAdded added a customer whose
// attributes are for us to set: an SMS/WhatsApp participant (a worker has
// an identity) whose attributes are still empty (Frontline creates
// outbound conversations with the customer's attributes set).
func describable(params url.Values) bool {
	return get(params, "Identity") == "" && get(params, "MessagingBinding.Address") != "" &&
		isEmptyObject(get(params, "Attributes"))
}

// describeCustomer gives an inbound customer's participant the attributes
// Frontline reads (https://www.twilio.com/docs/frontline/conversations-webhooks):
// customer_id, which Customer Details needs, display_name and avatar. It
// adds what is missing and overwrites nothing, so a second delivery
// changes nothing. The attributes stay within Twilio's limit: what does
// not fit is left out, customer_id last.
func (f *Flow) describeCustomer(ctx context.Context, conv, part, address string) error {
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
	taskqueue.AfterQueued(ctx)
	return f.twilio.UpdateParticipantAttributes(ctx, conv, part, s)
}
