package conversation

import (
	"context"
	"strings"

	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/waitline"
)

// Naming workers to customers
//
// Every message of a conversation reaches the customer's phone, so the bot
// never names a worker by their identity, a staff e-mail address, unless
// the customer typed it. It names them by their Frontline display name
// (the Frontline Users API's friendly_name), else by the full_name in
// their TaskRouter attributes, else neutrally ("one of our experts").
//
// The names are read and cached by the adapter (Workers.Name, see
// internal/twilioflow); a lookup starts as soon as the identity is known
// (Workers.PrefetchName), so that a reply rarely waits for one. This file
// decides which name a reply uses.

// askedName is how a reply names the worker identity the customer asked
// for in text: their display name, else the address itself when the
// customer typed it, else "".
func (f *Flow) askedName(ctx context.Context, identity, text string) string {
	if name := f.workers.Name(ctx, identity); name != "" {
		return name
	}
	if identity != "" && strings.Contains(strings.ToLower(text), strings.ToLower(identity)) {
		return identity
	}
	return ""
}

// connecting is a turn's reply once worker was claimed for decision d,
// which answered the customer's text.
func (f *Flow) connecting(ctx context.Context, d bot.Decision, worker, text string) string {
	switch d.Route {
	case bot.RouteAgent:
		return bot.ConnectingAgent(f.chosenName(ctx, worker))
	case bot.RouteArea:
		return bot.ConnectingExpert(f.chosenName(ctx, worker), f.cfg.Areas.Label(d.Area))
	}
	return bot.Connecting(f.askedName(ctx, worker, text))
}

// chosenName names a worker the claim chose among the pool's, after the
// turn's first reads: waiting for their name then would add a round trip
// to the reply, so only a lookup an earlier turn started is waited for.
func (f *Flow) chosenName(ctx context.Context, worker string) string {
	return f.workers.NameKnownBefore(ctx, worker, taskqueue.Asked(ctx))
}

// lineConnecting is the reply once worker was claimed for the customer
// waiting at e; h is the conversation, which holds what they wrote.
func (f *Flow) lineConnecting(ctx context.Context, e waitline.Entry, worker string, h *history) string {
	if !sameWorker(e.Target.Worker, worker) {
		return bot.ConnectingAgent(f.workers.Name(ctx, worker))
	}
	text := ""
	for _, m := range h.messages {
		if m.SID == e.Message {
			text = m.Body
		}
	}
	return bot.Connecting(f.askedName(ctx, worker, text))
}

// waitedName is how InLine names the worker identity the customer, who
// wrote text, waits for; "" when they wait for anyone.
func (f *Flow) waitedName(ctx context.Context, identity, text string) string {
	if identity == "" {
		return ""
	}
	if name := f.askedName(ctx, identity, text); name != "" {
		return name
	}
	return bot.NamedExpert
}
