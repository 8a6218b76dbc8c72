package conversation

import (
	"context"
	"errors"
	"time"

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
	return f.convs.Post(ctx, conv, systemAuthor, body, mk.String(), postedWith(mk))
}

// postedWith recognises the message the flow posted with mark mk.
func postedWith(mk mark) func(Message) bool {
	return func(m Message) bool {
		got, ok := readMark(m.Attributes)
		return ok && m.Author == systemAuthor && got == mk
	}
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

// Background bookkeeping: recording an assignment in TaskRouter.
const (
	// recordTimeout bounds one background update, its retries included.
	recordTimeout = 10 * time.Second
	// maxRecords bounds the background updates under way in an instance:
	// past it an update is skipped, and logged.
	maxRecords = 32
)

// recordLater writes the claimed worker's lastAcceptedTaskTime in
// TaskRouter in the background, off the turn's path: the claim store
// ranks workers already (see candidate); TaskRouter's copy is for other
// tools, and may lag or, past maxRecords updates under way, be skipped.
// On Cloud Functions an instance may get little CPU once its request is
// answered: the update then ends with the instance's next request.
func (f *Flow) recordLater(ctx context.Context, a assign.Assignment) {
	select {
	case f.records <- struct{}{}:
	default:
		f.log.WarnContext(ctx, "too many lastAcceptedTaskTime updates under way; skipping one", "worker", a.Worker)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	go func() {
		defer func() {
			cancel()
			<-f.records
		}()
		f.recordAccepted(ctx, a)
	}()
}

// recordAccepted writes the worker's lastAcceptedTaskTime in TaskRouter,
// logging a failure.
func (f *Flow) recordAccepted(ctx context.Context, a assign.Assignment) {
	if err := f.workers.RecordAccepted(ctx, a.WorkerSID, a.ClaimedAt); err != nil {
		f.log.WarnContext(ctx, "recording lastAcceptedTaskTime failed", "worker", a.Worker, "err", err)
	}
}
