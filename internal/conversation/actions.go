package conversation

import (
	"context"
	"errors"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/taskqueue"
)

// candidate turns a worker into a claim candidate.
//
// Who is idle longest is ranked by the claim store's record, which every
// assignment writes in the claim itself. TaskRouter's lastAcceptedTaskTime
// counts too when a list carries it, but TaskRouter documents worker
// attributes as null on lists (fetch only), and fetching every available
// worker would add a round trip, one request per worker, to each "agent"
// turn. So the store is what ranks; a worker it has no record of (never
// assigned by Expert Hub) counts as never assigned, whatever TaskRouter
// holds.
func candidate(w Worker) assign.Candidate {
	return assign.Candidate{Identity: w.Identity, SID: w.SID, LastAccepted: w.LastAccepted}
}

// post posts a bot message carrying mk. After a post that failed
// unclearly the adapter looks for it (by mk) once and never posts again:
// the attempt fails with requests maybe in flight, and a later attempt
// reads the conversation before posting (see taskqueue.Runner.Hold).
func (f *Flow) post(ctx context.Context, conv, body string, mk mark) error {
	taskqueue.AfterQueued(ctx)
	return f.convs.Post(ctx, conv, systemAuthor, body, mk.String(), func(m Message) bool {
		got, ok := readMark(m.Attributes)
		return ok && m.Author == systemAuthor && got == mk
	})
}

// addWorker adds identity to the conversation unless participants shows
// them there already. Twilio refuses a second participant with one
// identity, which means they are there. An add that failed unclearly is
// not repeated here, as a post is not (see post).
func (f *Flow) addWorker(ctx context.Context, conv, identity string, participants []Participant) error {
	for _, p := range participants {
		if p.Identity == identity {
			return nil
		}
	}
	taskqueue.AfterQueued(ctx)
	if err := f.convs.AddWorker(ctx, conv, identity); err != nil && !errors.Is(err, ErrExists) {
		return err
	}
	return nil
}
