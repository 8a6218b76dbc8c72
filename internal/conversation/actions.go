package conversation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/taskqueue"
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

// post posts a bot message carrying mk. After a post that failed
// unclearly the twilio client looks for it (by mk) once and never posts
// again: the attempt fails with requests maybe in flight, and a later
// attempt reads the conversation before posting (see hold). The body is
// cut to Twilio's limit as a last guard: a reply too long for SMS would
// be refused and the turn lost.
func (f *Flow) post(ctx context.Context, conv, body string, mk mark) error {
	taskqueue.AfterQueued(ctx)
	if n := twilio.Chars(body); n > twilio.MaxMessageBody {
		f.log.WarnContext(ctx, "bot message cut to Twilio's limit", "conversation", conv, "chars", n)
		body = twilio.Truncate(body, twilio.MaxMessageBody)
	}
	_, err := f.twilio.PostMessageOnce(ctx, conv, systemAuthor, body, mk.String(), func(m twilio.Message) bool {
		got, ok := readMark(m.Attributes)
		return ok && m.Author == systemAuthor && got == mk
	})
	return err
}

// addWorker adds identity to the conversation unless participants shows
// them there already. Twilio refuses a second participant with one
// identity, which means they are there. An add that failed unclearly is
// not repeated here, as a post is not (see post).
func (f *Flow) addWorker(ctx context.Context, conv, identity string, participants []twilio.Participant) error {
	for _, p := range participants {
		if p.Identity == identity {
			return nil
		}
	}
	taskqueue.AfterQueued(ctx)
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
