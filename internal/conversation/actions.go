package conversation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/twilio"
)

// Attempts at one create (a message, a participant) whose outcome was
// unclear, and at one worker update that kept losing to other writers.
const (
	createAttempts = 3
	updateAttempts = 5
)

// candidate turns a TaskRouter worker into a claim candidate.
func candidate(w twilio.Worker) assign.Candidate {
	c := assign.Candidate{Identity: w.Identity, SID: w.SID}
	if m, err := parseObject(w.Attributes); err == nil {
		if ms, ok := millis(m["lastAcceptedTaskTime"]); ok {
			c.LastAccepted = time.UnixMilli(ms)
		}
	}
	return c
}

// unclear reports whether a failed create may nonetheless have happened:
// no answer, or a server error. A 4xx is a clear refusal.
func unclear(err error) bool {
	var te *client.TwilioRestError
	if errors.As(err, &te) && te.Status >= 400 && te.Status < http.StatusInternalServerError {
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// post posts a bot message carrying mk. A post whose outcome is unclear
// (no answer, a 5xx) may have happened: the conversation is looked at
// before it is tried again.
func (f *Flow) post(ctx context.Context, conv, body string, mk mark) error {
	for attempt := 1; ; attempt++ {
		_, err := f.twilio.PostMessage(ctx, conv, systemAuthor, body, mk.String())
		if err == nil {
			return nil
		}
		if attempt == createAttempts || !unclear(err) || ctx.Err() != nil {
			return err
		}
		if found, lerr := f.posted(ctx, conv, mk); lerr != nil {
			return err
		} else if found {
			return nil
		}
	}
}

// posted reports whether the conversation has a bot message carrying mk.
func (f *Flow) posted(ctx context.Context, conv string, mk mark) (bool, error) {
	ms, err := f.twilio.RecentMessages(ctx, conv, recentWindow)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if got, ok := readMark(m.Attributes); ok && m.Author == systemAuthor && got == mk {
			return true, nil
		}
	}
	return false, nil
}

// addWorker adds identity to the conversation unless participants shows
// them there already. Adding is idempotent (Twilio refuses a second
// participant with one identity), so an unclear failure is simply tried
// again.
func (f *Flow) addWorker(ctx context.Context, conv, identity string, participants []twilio.Participant) error {
	for _, p := range participants {
		if p.Identity == identity {
			return nil
		}
	}
	for attempt := 1; ; attempt++ {
		_, err := f.twilio.AddParticipant(ctx, conv, identity, "")
		if err == nil || errors.Is(err, twilio.ErrParticipantExists) {
			return nil
		}
		if attempt == createAttempts || !unclear(err) || ctx.Err() != nil {
			return err
		}
	}
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
