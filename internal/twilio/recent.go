package twilio

import (
	"context"
	"slices"

	twiliogo "github.com/twilio/twilio-go"
	conv "github.com/twilio/twilio-go/rest/conversations/v1"
)

// RecentMessages returns a conversation's latest n messages (at most one
// page), oldest first: one request however long the conversation.
func (c *Client) RecentMessages(ctx context.Context, conversationSID string, n int) ([]Message, error) {
	ms, err := call(ctx, c, idempotent, func(rc *twiliogo.RestClient) ([]conv.ConversationsV1ConversationMessage, error) {
		return rc.ConversationsV1.ListConversationMessage(conversationSID,
			(&conv.ListConversationMessageParams{}).SetOrder("desc").SetPageSize(n).SetLimit(n))
	})
	if err != nil {
		return nil, wrap("list recent messages of "+conversationSID, err)
	}
	out := make([]Message, len(ms))
	for i := range ms {
		out[i] = message(&ms[i])
	}
	slices.Reverse(out)
	return out, nil
}
