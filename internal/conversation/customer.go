package conversation

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/taskqueue"
)

// describeCustomer gives an inbound customer's participant the attributes
// Frontline reads (https://www.twilio.com/docs/frontline/conversations-webhooks):
// customer_id, which Customer Details needs, display_name and avatar. It
// adds what is missing and overwrites nothing, so a second delivery
// changes nothing. What does not fit Twilio's limit is left out,
// customer_id last (Conversations.DescribeCustomer). It sets the
// conversation's timers at the same time (lifecycle.go): every inbound
// conversation gets its customer's participant, off the bot's path.
func (f *Flow) describeCustomer(ctx context.Context, conv, part, address string) error {
	var (
		c      crm.Customer
		crmErr error
		p      Participant
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
		p, err = f.convs.Participant(gctx, conv, part)
		return err
	})
	g.Go(func() error { return f.setTimers(gctx, conv) })
	if err := g.Wait(); err != nil {
		return err
	}
	if crmErr != nil {
		f.log.InfoContext(ctx, "customer not in the CRM; participant left as is", "conversation", conv, "address", address)
		return nil
	}
	taskqueue.AfterQueued(ctx)
	leftOut, err := f.convs.DescribeCustomer(ctx, conv, p, c)
	if len(leftOut) > 0 {
		f.log.WarnContext(ctx, "customer attributes left out to fit Twilio's limit", "conversation", conv, "left_out", leftOut)
	}
	if err != nil {
		return fmt.Errorf("participant %s: %w", part, err)
	}
	return nil
}

// Naming is how a new conversation is named: after the customer, as the
// Frontline app lists it, with their avatar.
type Naming struct {
	Name   string // "" for a conversation created through the API
	Avatar string
}

// NameConversation names a new conversation with the customer at address
// (onConversationAdd, a pre-event webhook that must answer in time). An
// unknown customer, or a CRM that fails or is too slow, leaves the masked
// number as name.
func (f *Flow) NameConversation(ctx context.Context, address string) Naming {
	if address == "" {
		// Created through the API: no customer yet, nothing to name it by.
		return Naming{}
	}
	out := Naming{Name: logging.Mask(address)}
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
		out.Name = c.DisplayName
	}
	out.Avatar = c.Avatar
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
