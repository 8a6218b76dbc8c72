package conversation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/twilio"
)

// updateAttempts bounds the read-merge-writes of one worker update that
// keeps losing to other writers. Failed Twilio calls are retried by the
// twilio client, not here.
const updateAttempts = 5

// candidate turns a TaskRouter worker into a claim candidate.
//
// Who is idle longest is ranked by the claim store's record, which every
// assignment writes in the claim itself. TaskRouter's lastAcceptedTaskTime
// counts too when a list carries it, but TaskRouter documents worker
// attributes as null on lists (fetch only), and fetching every available
// worker would add a round trip, one request per worker, to each "agent"
// turn. So the store is what ranks; a worker it has no record of (never
// assigned by Expert Hub) counts as never assigned, whatever TaskRouter
// holds.
func candidate(w twilio.Worker) assign.Candidate {
	c := assign.Candidate{Identity: w.Identity, SID: w.SID}
	if m, err := parseObject(w.Attributes); err == nil {
		if ms, ok := millis(m["lastAcceptedTaskTime"]); ok {
			c.LastAccepted = time.UnixMilli(ms)
		}
	}
	return c
}

// postOnce posts a bot message marked as the answer to sid, at most once.
// With check set (a resumed turn) it first looks whether an earlier
// attempt posted it; the twilio client looks again after a post that
// failed unclearly. The body is cut to Twilio's limit as a last guard: a
// reply too long for SMS would be refused and the turn lost.
func (f *Flow) postOnce(ctx context.Context, conv, body, sid string, check bool) error {
	if check {
		found, err := f.posted(ctx, conv, sid)
		if err != nil || found {
			return err
		}
	}
	if n := twilio.Chars(body); n > twilio.MaxMessageBody {
		f.log.WarnContext(ctx, "bot message cut to Twilio's limit", "conversation", conv, "chars", n)
		body = twilio.Truncate(body, twilio.MaxMessageBody)
	}
	_, err := f.twilio.PostMessageOnce(ctx, conv, systemAuthor, body, replyTo(sid), func(m twilio.Message) bool {
		return answers(m, sid)
	})
	return err
}

// posted reports whether the conversation has a bot message answering sid.
func (f *Flow) posted(ctx context.Context, conv, sid string) (bool, error) {
	ms, err := f.twilio.ListMessages(ctx, conv)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if answers(m, sid) {
			return true, nil
		}
	}
	return false, nil
}

// answers reports whether m is the bot's answer to sid.
func answers(m twilio.Message, sid string) bool {
	return m.Author == systemAuthor && isReplyTo(m.Attributes, sid)
}

// addWorker adds identity to the conversation unless participants shows
// them there already. Twilio refuses a second participant with one
// identity, which means they are there.
func (f *Flow) addWorker(ctx context.Context, conv, identity string, participants []twilio.Participant) error {
	for _, p := range participants {
		if p.Identity == identity {
			return nil
		}
	}
	_, err := f.twilio.AddParticipant(ctx, conv, identity, "")
	if errors.Is(err, twilio.ErrParticipantExists) {
		return nil
	}
	return err
}

// recordAccepted writes the worker's lastAcceptedTaskTime in TaskRouter,
// merged into their other attributes, unless a later time is there
// already. If-Match makes the read-merge-write safe against other
// writers; losing to one means reading again.
func (f *Flow) recordAccepted(ctx context.Context, sid string, at time.Time) error {
	ms := at.UnixMilli()
	for range updateAttempts {
		w, etag, err := f.twilio.FetchWorker(ctx, f.cfg.Workspace, sid)
		if err != nil {
			return err
		}
		m, err := parseObject(w.Attributes)
		if err != nil {
			// Never replace attributes we cannot read.
			return fmt.Errorf("worker %s: %w", sid, err)
		}
		if last, ok := millis(m["lastAcceptedTaskTime"]); ok && last >= ms {
			return nil
		}
		m["lastAcceptedTaskTime"] = ms
		s, err := encode(m)
		if err != nil {
			return err
		}
		err = f.twilio.UpdateWorkerAttributes(ctx, f.cfg.Workspace, sid, s, etag)
		if !errors.Is(err, twilio.ErrPreconditionFailed) {
			return err
		}
	}
	return fmt.Errorf("worker %s kept changing", sid)
}
