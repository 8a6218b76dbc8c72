package conversation

import (
	"context"

	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/twilio"
)

// This file is a seam: the waiting line replaces it (line.go). Until then
// a customer nobody can take is told so, as before.

// waitTarget says whom a customer waits for: a named worker, an expertise
// area, or (both empty) anyone of the pool.
type waitTarget struct {
	Worker string // a worker's identity
	Area   string // an expertise area's key
}

// wait answers msg, which asked for target while nobody of it can take
// the conversation.
//
//lint:ignore U1000 the seam is used by advisor and expertise routing.
func (f *Flow) wait(ctx context.Context, conv string, msg twilio.Message, h *history, target waitTarget) error {
	_, _ = h, target
	return f.post(ctx, conv, bot.NoAgentAvailable, mark{InReplyTo: msg.SID})
}
