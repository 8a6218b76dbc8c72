package conversation

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/httpjson"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/twilio"
)

// preEvent answers the pre-action webhook. Every path answers 200: a 4xx
// or 5xx would make Twilio drop the conversation or the message.
func (f *Flow) preEvent(w http.ResponseWriter, r *http.Request) {
	params := form(r)
	switch event := get(params, "EventType"); event {
	case "onConversationAdd":
		httpjson.Write(w, http.StatusOK, f.nameConversation(r.Context(), get(params, "MessagingBinding.Address"), get(params, "Attributes")))
	case "onMessageAdd":
		f.announce.Do(func() {
			f.log.InfoContext(r.Context(), "onMessageAdd is let through untouched: the bot answers on the post-event onMessageAdded; "+
				"the pre-event filter needs only onConversationAdd")
		})
		ok(w)
	default:
		f.log.DebugContext(r.Context(), "pre-event ignored", "event", event)
		ok(w)
	}
}

// conversationChanges is an onConversationAdd answer: the fields Twilio
// sets on the conversation it is about to create.
type conversationChanges struct {
	FriendlyName string `json:"friendly_name,omitempty"`
	// Attributes is a JSON string, as Twilio wants it.
	Attributes string `json:"attributes,omitempty"`
}

// nameConversation names a new conversation after the customer, as the
// Frontline app lists it, and gives it their avatar. An unknown customer,
// or a CRM that fails or is too slow, leaves the masked number as name.
func (f *Flow) nameConversation(ctx context.Context, address, attributes string) conversationChanges {
	if address == "" {
		// Created through the API: no customer yet, nothing to name it by.
		return conversationChanges{}
	}
	out := conversationChanges{FriendlyName: logging.Mask(address)}
	c, err := f.lookupCustomer(ctx, address)
	switch {
	case errors.Is(err, crm.ErrNotFound):
		f.log.InfoContext(ctx, "new conversation with a customer not in the CRM", "address", address)
		return out
	case err != nil:
		f.log.WarnContext(ctx, "customer lookup failed; naming the conversation by number", "address", address, "err", err)
		return out
	}
	if c.DisplayName != "" {
		// Twilio refuses a longer name, which would drop the conversation.
		out.FriendlyName = twilio.Truncate(c.DisplayName, twilio.MaxFriendlyName)
	}
	if c.Avatar == "" {
		return out
	}
	m, err := parseObject(attributes)
	if err != nil {
		f.log.WarnContext(ctx, "conversation attributes are not a JSON object; leaving them", "err", err)
		return out
	}
	s, dropped, err := mergeWithin(m, map[string]string{"avatar": c.Avatar}, []string{"avatar"}, twilio.MaxConversationAttributes)
	if len(dropped) > 0 || err != nil {
		f.log.WarnContext(ctx, "customer avatar too long for the conversation's attributes; left out", "address", address, "err", err)
	}
	if s != "" {
		out.Attributes = s
	}
	return out
}

// lookupCustomer asks the cache, giving up at ctx's deadline even if the
// cache does not: the answer must reach Twilio in time.
func (f *Flow) lookupCustomer(ctx context.Context, address string) (crm.Customer, error) {
	type result struct {
		c   crm.Customer
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				ch <- result{err: fmt.Errorf("customer lookup panicked: %v", v)}
			}
		}()
		c, err := f.customers.CustomerByAddress(ctx, address)
		ch <- result{c, err}
	}()
	select {
	case res := <-ch:
		return res.c, res.err
	case <-ctx.Done():
		return crm.Customer{}, fmt.Errorf("customer lookup: %w", ctx.Err())
	}
}
