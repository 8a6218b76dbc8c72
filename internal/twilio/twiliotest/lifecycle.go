package twiliotest

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Conversation states and timers
// (https://www.twilio.com/docs/conversations/states-timers). A
// conversation is active, inactive or closed; closed is final: it takes
// no message, participant or update (50377), and its customer's
// address/proxy pair is free for the next inbound text, which creates a
// new conversation. Timers.Inactive and Timers.Closed, ISO 8601
// durations of at least 1 and 10 minutes, count from the conversation's
// last activity (DateUpdated). The fake runs no clock of its own: a test
// moves time with ExpireTimers, or closes a conversation with
// CloseConversation; both send onConversationStateUpdated, as a timer or
// a Frontline user closing it does. A REST update of State sends nothing:
// REST actions never trigger webhooks.

const (
	stateActive   = "active"
	stateInactive = "inactive"
	stateClosed   = "closed"
)

// Timer minimums (twilio_conversations_v1.yaml).
const (
	minInactive = time.Minute
	minClosed   = 10 * time.Minute
)

// Timers are a conversation's timers as set: ISO 8601 durations, empty
// when none.
type Timers struct {
	Inactive, Closed string
}

// isoDuration is the subset of ISO 8601 durations Twilio's examples use:
// weeks, or days and a time of hours, minutes and seconds.
var isoDuration = regexp.MustCompile(`^P(?:(\d+)W|(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?)$`)

// parseISODuration reads an ISO 8601 duration.
func parseISODuration(s string) (time.Duration, bool) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "P" || s[len(s)-1] == 'T' {
		return 0, false
	}
	var d time.Duration
	for i, unit := range []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.Atoi(m[i+1])
		if err != nil {
			return 0, false
		}
		d += time.Duration(n) * unit
	}
	return d, true
}

// setTimers applies the form's Timers.Inactive and Timers.Closed to t.
func setTimers(form url.Values, t *Timers) *apiError {
	for _, tm := range []struct {
		key string
		min time.Duration
		dst *string
	}{{"Timers.Inactive", minInactive, &t.Inactive}, {"Timers.Closed", minClosed, &t.Closed}} {
		if !form.Has(tm.key) {
			continue
		}
		v := form.Get(tm.key)
		d, ok := parseISODuration(v)
		if !ok {
			return errInvalid(tm.key + " must be an ISO 8601 duration")
		}
		if d < tm.min {
			return errInvalid(fmt.Sprintf("%s is %v, under Twilio's minimum %v", tm.key, d, tm.min))
		}
		*tm.dst = v
	}
	return nil
}

// due returns when the timer d fires, counted from last activity; zero
// when d is not set.
func due(last time.Time, d string) time.Time {
	v, ok := parseISODuration(d)
	if !ok {
		return time.Time{}
	}
	return last.Add(v)
}

// timersJSON is the conversation's timers as Twilio answers them.
func timersJSON(c *Conversation) map[string]string {
	out := map[string]string{}
	if c.State == stateClosed {
		return out
	}
	if t := due(c.DateUpdated, c.Timers.Inactive); !t.IsZero() && c.State == stateActive {
		out["date_inactive"] = t.UTC().Format(time.RFC3339)
	}
	if t := due(c.DateUpdated, c.Timers.Closed); !t.IsZero() {
		out["date_closed"] = t.UTC().Format(time.RFC3339)
	}
	return out
}

// CloseConversation closes the conversation, as a Frontline user or
// another system of the account does, and sends onConversationStateUpdated
// (Reason API). It reports an error when the conversation does not exist
// or is closed already.
func (f *Fake) CloseConversation(ctx context.Context, sid string) error {
	f.mu.Lock()
	c := f.convs[sid]
	if c == nil || c.State == stateClosed {
		f.mu.Unlock()
		return fmt.Errorf("twiliotest: no open conversation %s", sid)
	}
	params := f.changeState(c, stateClosed, "API", time.Now())
	f.mu.Unlock()
	return f.postHook(ctx, "onConversationStateUpdated", params)
}

// ExpireTimers moves every conversation whose timer is due at at into
// its state, as Twilio's clock does, sending onConversationStateUpdated
// (Reason TIMER) for each.
func (f *Fake) ExpireTimers(ctx context.Context, at time.Time) error {
	f.mu.Lock()
	var events []url.Values
	for _, sid := range f.convOrder {
		c := f.convs[sid]
		switch {
		case c.State == stateClosed:
		case isDue(due(c.DateUpdated, c.Timers.Closed), at):
			events = append(events, f.changeState(c, stateClosed, "TIMER", at))
		case c.State == stateActive && isDue(due(c.DateUpdated, c.Timers.Inactive), at):
			events = append(events, f.changeState(c, stateInactive, "TIMER", at))
		}
	}
	f.mu.Unlock()
	for _, params := range events {
		if err := f.postHook(ctx, "onConversationStateUpdated", params); err != nil {
			return err
		}
	}
	return nil
}

func isDue(t, at time.Time) bool { return !t.IsZero() && !t.After(at) }

// changeState moves c to state and returns its onConversationStateUpdated
// parameters (https://www.twilio.com/docs/events/event-types/conversations/conversation-state).
// Callers hold f.mu.
func (f *Fake) changeState(c *conversationState, state, reason string, at time.Time) url.Values {
	v := f.eventParams("onConversationStateUpdated", "API")
	v.Set("ConversationSid", c.SID)
	v.Set("MessagingServiceSid", f.cfg.MessagingServiceSID)
	v.Set("StateFrom", c.State)
	v.Set("StateTo", state)
	v.Set("StateUpdated", at.UTC().Format(time.RFC3339))
	v.Set("Reason", reason)
	c.State = state
	return v
}

// RemoveParticipant removes the worker identity from the conversation, as
// the Frontline app does when they leave it, and sends
// onParticipantRemoved.
func (f *Fake) RemoveParticipant(ctx context.Context, conversationSID, identity string) error {
	f.mu.Lock()
	c, p, err := f.workerIn(conversationSID, identity)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	c.participants = slices.DeleteFunc(c.participants, func(q *Participant) bool { return q == p })
	params := f.participantParams("onParticipantRemoved", "SDK", p)
	f.mu.Unlock()
	return f.postHook(ctx, "onParticipantRemoved", params)
}

// SetTimers sets the conversation's timers directly, as the Console's
// defaults would. It reports whether the conversation exists.
func (f *Fake) SetTimers(sid string, t Timers) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.convs[sid]
	if c == nil {
		return false
	}
	c.Timers = t
	return true
}
