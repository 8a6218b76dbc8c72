package twilio

import (
	"context"
	"fmt"
	"time"

	twiliogo "github.com/twilio/twilio-go"
	conv "github.com/twilio/twilio-go/rest/conversations/v1"
)

// Timers are a conversation's state timers, Timers.Inactive and
// Timers.Closed (https://www.twilio.com/docs/conversations/states-timers):
// after how long without a message Twilio makes it inactive, then
// closes it. Zero: that timer is not set.
type Timers struct {
	Inactive, Closed time.Duration
}

// Off reports whether neither timer is set.
func (t Timers) Off() bool { return t.Inactive <= 0 && t.Closed <= 0 }

// ISODuration renders d as the ISO 8601 duration Twilio's timers take:
// whole days as P30D, else whole minutes as PT90M, else seconds.
func ISODuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("P%dD", d/(24*time.Hour))
	case d%time.Minute == 0:
		return fmt.Sprintf("PT%dM", d/time.Minute)
	}
	return fmt.Sprintf("PT%dS", d/time.Second)
}

// set passes the timers that are set to their setters.
func (t Timers) set(inactive, closed func(string)) {
	if t.Inactive > 0 {
		inactive(ISODuration(t.Inactive))
	}
	if t.Closed > 0 {
		closed(ISODuration(t.Closed))
	}
}

// SetConversationTimers sets a conversation's timers (absolute values,
// so retried like a read). A closed conversation refuses them:
// ErrConversationClosed.
func (c *Client) SetConversationTimers(ctx context.Context, sid string, t Timers) error {
	if t.Off() {
		return nil
	}
	return update(ctx, c, idempotent, "set timers of conversation "+sid, func(rc *twiliogo.RestClient) (*conv.ConversationsV1Conversation, error) {
		p := &conv.UpdateConversationParams{}
		t.set(func(s string) { p.SetTimersInactive(s) }, func(s string) { p.SetTimersClosed(s) })
		return rc.ConversationsV1.UpdateConversation(sid, p)
	})
}
