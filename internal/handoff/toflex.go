package handoff

import (
	"context"
	"time"
)

// ToFlex is a conversation the bot handed to the Flex contact center
// whose task is not settled yet: the scheduled sweep checks each against
// its task, in case the Flex workspace's event callback missed it.
// Twilio (the conversation's "handoff" attribute) stays the source of
// truth; this record only says where to look.
type ToFlex struct {
	Conversation string // the Frontline ConversationSid
	Task         string // the Flex task's sid (WT…)
	At           time.Time
	// Accepted is set once an agent was seen holding the task: a task
	// that is then gone without a trace was the agent's to end, not
	// abandoned.
	Accepted bool
}

// ToFlexRetention is how long a record is kept: far longer than a Flex
// task lives (TaskRouter's Timeout is at most two weeks), so only a
// record the sweep could never settle goes.
const ToFlexRetention = 30 * 24 * time.Hour

// OpenHandoffs keeps the conversations handed to Flex whose task is not
// settled. Implementations are safe for concurrent use; every method is
// one atomic step on one conversation's record.
type OpenHandoffs interface {
	// Track records t, replacing the conversation's earlier record.
	Track(ctx context.Context, t ToFlex) error
	// MarkAccepted sets Accepted on the conversation's record, if it
	// still names task.
	MarkAccepted(ctx context.Context, conversation, task string) error
	// Untrack removes the conversation's record, if it still names task;
	// none is no error.
	Untrack(ctx context.Context, conversation, task string) error
	// Tracked returns up to limit records (0: all), oldest first.
	Tracked(ctx context.Context, limit int) ([]ToFlex, error)
}
