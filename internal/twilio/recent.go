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
	out, err := list(ctx, c, "list recent messages of "+conversationSID, message,
		func(rc *twiliogo.RestClient) ([]conv.ConversationsV1ConversationMessage, error) {
			return rc.ConversationsV1.ListConversationMessage(conversationSID,
				(&conv.ListConversationMessageParams{}).SetOrder("desc").SetPageSize(n).SetLimit(n))
		})
	slices.Reverse(out)
	return out, err
}
