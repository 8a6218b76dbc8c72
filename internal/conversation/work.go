package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/experthub/experthub/internal/ledger"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/twilio"
)

// Kinds of conversation work, each started by one webhook.
const (
	kindWelcome  = "welcome"  // Frontline's routing callback
	kindTurn     = "turn"     // onMessageAdded: the bot's answer
	kindDescribe = "describe" // onParticipantAdded: the customer's attributes
	kindHandoff  = "handoff"  // the handoff function: an expert and the context
	kindDrain    = "drain"    // a TaskRouter event: serve the waiting line
)

// jobParams are the webhook parameters a job keeps: what its work reads.
var jobParams = []string{
	"ConversationSid", "MessageSid", "ParticipantSid", "Author", "Body", "Source", "ClientIdentity",
	"Identity", "Attributes", "MessagingBinding.Address",
}

// job is one piece of conversation work: what a webhook asked for. It is
// the body of its queue task, so the queue can finish what the webhook's
// own attempt did not.
type job struct {
	Kind   string            `json:"kind"`
	Params map[string]string `json:"params"`
	// Received is when the webhook arrived: the job's age decides when the
	// queue gives up (Config.MaxAge).
	Received time.Time `json:"received"`
}

func newJob(kind string, form url.Values, now time.Time) job {
	j := job{Kind: kind, Params: map[string]string{}, Received: now}
	for _, k := range jobParams {
		if v := get(form, k); v != "" {
			j.Params[k] = v
		}
	}
	return j
}

func (j job) conversation() string { return j.Params["ConversationSid"] }

// subject is the SID the work is about: the message, the participant or
// the conversation.
func (j job) subject() string {
	switch j.Kind {
	case kindTurn:
		return j.Params["MessageSid"]
	case kindDescribe:
		return j.Params["ParticipantSid"]
	case kindHandoff:
		return j.Params["HandoffId"]
	case kindDrain:
		return j.Params[drainTrigger]
	}
	return j.conversation()
}

// taskName names the job's task: one task per piece of work, whoever
// enqueues it and however often Twilio delivers the webhook.
func (j job) taskName() string { return taskqueue.TaskID(j.Kind, j.subject()) }

// unheldKey marks the context of a queued attempt at a job: its value is
// when the job's webhook attempt is surely over, lease grace included.
type unheldKey struct{}

// mayRunUnheld reports whether an attempt that cannot hold its
// conversation (the ledger did not answer) may work without it. Nothing
// then keeps it apart from another attempt at the same job, and two
// attempts that both read the history before either posts both post. So
// the webhook's own attempt leaves the job to its queued task, when it is
// queued; a queued attempt waits, asking the ledger again meanwhile,
// until the webhook's attempt is over (see hold).
func (f *Flow) mayRunUnheld(ctx context.Context) bool {
	if _, ok := ctx.Value(queuedKey{}).(*safetyNet); ok {
		return !leftToQueue(ctx)
	}
	if after, ok := ctx.Value(unheldKey{}).(time.Time); ok {
		return !f.now().Before(after)
	}
	return true
}

// errNoLedger is returned when an attempt leaves its job to the queue
// because the ledger could not say whether another attempt holds the
// conversation (see mayRunUnheld).
var errNoLedger = errors.New("conversation: ledger unavailable; the queue does the work")

// errBusy is returned when another attempt holds the conversation for
// longer than this attempt may wait.
var errBusy = errors.New("conversation: another attempt is working on the conversation")

// accept serves a webhook that starts conversation work: it queues the job
// as a safety net due Config.WorkDelay from now, and meanwhile does the
// work at once. A safety net whose work got done is deleted, so that the
// queue carries only work left to do: in a burst, the tasks of finished
// work would otherwise take the queue's dispatches before the unfinished.
// The answer is 200 when the work is done or safely queued;
// a job Twilio can never complete (the conversation is gone) answers 404;
// only a job that neither ran nor could be queued answers 500, logged as
// an error: Twilio never redelivers, so that work is lost.
func (f *Flow) accept(w http.ResponseWriter, r *http.Request, j job) {
	switch f.acceptJob(r.Context(), j) {
	case http.StatusOK, http.StatusAccepted:
		ok(w)
	case http.StatusNotFound:
		fail(w, http.StatusNotFound, "not found")
	default:
		fail(w, http.StatusInternalServerError, "conversation work failed")
	}
}

// acceptJob queues j as a safety net and does it at once: 200 when done
// (the safety net is then deleted), 202 when left to the queue, 404 when
// Twilio does not know the conversation, 503 when it neither ran nor
// could be queued.
func (f *Flow) acceptJob(ctx context.Context, j job) int {
	q := &safetyNet{done: make(chan struct{})}
	go func() {
		defer close(q.done)
		q.err = f.enqueue(ctx, j)
	}()
	err := f.do(context.WithValue(ctx, queuedKey{}, q), j)
	<-q.done
	qerr := q.err
	attrs := []any{"kind", j.Kind, "conversation", j.conversation(), "subject", j.subject()}
	switch {
	case err == nil:
		if qerr != nil {
			f.log.WarnContext(ctx, "queueing the safety net failed; the work is done anyway", append(attrs, "err", qerr)...)
		} else {
			f.dropSafetyNet(ctx, j)
		}
		return http.StatusOK
	case errors.Is(err, twilio.ErrNotFound):
		f.log.WarnContext(ctx, "conversation work for something Twilio does not know", append(attrs, "err", err)...)
		return http.StatusNotFound
	case qerr == nil:
		f.log.InfoContext(ctx, "conversation work left to the queue", append(attrs, "err", err)...)
		return http.StatusAccepted
	}
	f.log.ErrorContext(ctx, "conversation work lost: it failed and could not be queued", append(attrs, "err", err, "queue_err", qerr)...)
	return http.StatusServiceUnavailable
}

// queuedKey marks the context of a webhook's own attempt at a job: its
// value is the job's safety net.
type queuedKey struct{}

// safetyNet is the queueing of a job's task: done is closed once it is
// queued, or failed to be (err).
type safetyNet struct {
	done chan struct{}
	err  error
}

// afterQueued waits, before an attempt's first effect, until the job's
// safety net is queued: an instance that dies after the effect then still
// leaves the rest of the job to the queue. The reads before it overlap
// with the queueing, which costs nothing when it is the faster.
func afterQueued(ctx context.Context) {
	if q, ok := ctx.Value(queuedKey{}).(*safetyNet); ok {
		select {
		case <-q.done:
		case <-ctx.Done():
		}
	}
}

// leftToQueue reports whether ctx is a webhook's own attempt whose job is
// safely queued.
func leftToQueue(ctx context.Context) bool {
	q, ok := ctx.Value(queuedKey{}).(*safetyNet)
	if !ok {
		return false
	}
	select {
	case <-q.done:
		return q.err == nil
	case <-ctx.Done():
		return false
	}
}

// enqueueTimeout bounds queueing the safety net, which must be tried even
// when the webhook's own deadline is near.
const enqueueTimeout = 3 * time.Second

// dropSafetyNet deletes the queued task of a job the webhook did. Failing
// costs only a delivery that finds the work done.
func (f *Flow) dropSafetyNet(ctx context.Context, j job) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	if err := f.queue.Delete(ctx, j.taskName()); err != nil {
		f.log.WarnContext(ctx, "deleting the safety net of work done failed; its delivery will find the work done",
			"kind", j.Kind, "conversation", j.conversation(), "err", err)
	}
}

func (f *Flow) enqueue(ctx context.Context, j job) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
	defer cancel()
	body, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return f.queue.Enqueue(ctx, taskqueue.Task{Name: j.taskName(), Body: body, At: j.Received.Add(f.cfg.WorkDelay)})
}

// do does a job's work. Every step checks Twilio before acting, so doing
// a job twice, or after an attempt that died half way, does each effect
// once.
func (f *Flow) do(ctx context.Context, j job) error {
	p := url.Values{}
	for k, v := range j.Params {
		p.Set(k, v)
	}
	ctx = context.WithValue(ctx, askedKey{}, j.Received)
	switch j.Kind {
	case kindTurn:
		return f.turn(ctx, inboundFrom(p))
	case kindWelcome:
		return f.welcome(ctx, get(p, "ConversationSid"), get(p, "MessagingBinding.Address"))
	case kindDescribe:
		return f.describeCustomer(ctx, get(p, "ConversationSid"), get(p, "ParticipantSid"), get(p, "MessagingBinding.Address"))
	case kindHandoff:
		return f.handoffIn(ctx, p)
	case kindDrain:
		return f.drain(ctx)
	}
	return fmt.Errorf("conversation: unknown kind of work %q", j.Kind)
}

// askedKey marks the context of an attempt at a job with when its
// webhook arrived: when the customer asked (see assign.Request.Asked).
type askedKey struct{}

// asked returns when the work under ctx was asked for; zero if unknown.
func asked(ctx context.Context) time.Time {
	t, _ := ctx.Value(askedKey{}).(time.Time)
	return t
}

// Work is the consumer of the conversation-work queue: it finishes what
// the webhooks' own attempts left undone. Its caller must be the queue
// (see taskqueue.RequireOIDC).
func (f *Flow) Work() http.Handler { return taskqueue.Consumer(f.consume, f.log) }

// consume runs one delivery of a job. An error makes the queue retry it
// later; a job that can never be done, or is older than Config.MaxAge, is
// dead-lettered instead.
func (f *Flow) consume(ctx context.Context, d taskqueue.Delivery) error {
	var j job
	if err := json.Unmarshal(d.Body, &j); err != nil || j.Kind == "" {
		f.log.WarnContext(ctx, "conversation work dropped: the task is not a job", "task", d.Name, "err", err)
		return nil
	}
	if age := f.now().Sub(j.Received); age > f.cfg.MaxAge {
		f.deadLetter(ctx, j, d, fmt.Errorf("gave up after %s", age.Round(time.Second)))
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, workTimeout)
	defer cancel()
	err := f.do(context.WithValue(ctx, unheldKey{}, j.Received.Add(f.cfg.Lease+leaseGrace)), j)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, twilio.ErrNotFound):
		f.deadLetter(ctx, j, d, err)
		return nil
	}
	f.log.WarnContext(ctx, "conversation work failed; the queue retries it",
		"kind", j.Kind, "conversation", j.conversation(), "subject", j.subject(), "attempt", d.RetryCount+1, "err", err)
	return err
}

// deadLetter gives a job up, with one error log naming what is left
// undone: the ledger makes repeated deliveries of a given-up job quiet.
func (f *Flow) deadLetter(ctx context.Context, j job, d taskqueue.Delivery, why error) {
	a := f.begin(ctx, "dead:"+j.taskName(), time.Minute)
	if a.Outcome == ledger.Done {
		return
	}
	f.log.ErrorContext(ctx, "conversation work dead-lettered: "+undone[j.Kind],
		"kind", j.Kind, "conversation", j.conversation(), "subject", j.subject(),
		"attempts", d.RetryCount+1, "received", j.Received, "err", why)
	if a.Owns() {
		f.finish(ctx, a)
	}
}

// undone says, for an operator, what a dead-lettered job leaves undone.
var undone = map[string]string{
	kindWelcome:  "the customer was not welcomed",
	kindTurn:     "the customer's message got no answer from the bot",
	kindDescribe: "the customer's participant lacks its CRM attributes",
	kindHandoff:  "the customer the contact center handed over got no expert or no context",
	kindDrain:    "the waiting line was not served on this trigger (the next event or sweep serves it)",
}

// exclusive runs fn while holding the conversation: work on one
// conversation never runs twice at once, on any instance, so its messages
// are answered one after the other. The hold is a ledger lease that ends
// at ctx's deadline (and a grace) — an attempt cannot act after it, so a
// retry never waits for longer than a dead attempt could still be
// running — or sooner, once the attempt is over (see hold).
//
// Without a ledger (the store is down or too slow to answer) an attempt
// runs unheld, checking Twilio before each step, only once no other
// attempt at its job can be running (see mayRunUnheld).
func (f *Flow) exclusive(ctx context.Context, conv string, fn func(context.Context) error) error {
	return f.hold(ctx, "conversation:"+conv, fn)
}

// hold runs fn while holding the ledger key, as exclusive does. While
// another attempt holds it, or the ledger does not answer and an earlier
// attempt may still be running, hold waits and asks again, within ctx's
// deadline: a queued attempt that waits here runs as soon as it may,
// where handing it back to the queue would wait out the queue's backoff.
func (f *Flow) hold(ctx context.Context, key string, fn func(context.Context) error) error {
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		a := f.begin(ctx, key, f.leaseFor(ctx))
		unheld := a.Owns() && a.N == 0
		switch {
		case a.Owns() && (!unheld || f.mayRunUnheld(ctx)):
			return f.run(ctx, a, fn)
		case unheld && leftToQueue(ctx):
			return errNoLedger // the queued task does the job
		}
		stop := errBusy
		if unheld {
			stop = errNoLedger
		}
		d := wait/2 + rand.N(wait/2+1)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d+minWork {
			return stop
		}
		select {
		case <-ctx.Done():
			return stop
		case <-time.After(d):
		}
	}
}

// run runs fn under attempt a and ends a's lease: at once when fn
// succeeded or failed clearly, leaseGrace later when it may leave
// requests in flight (inFlight), so that the next attempt reads what
// Twilio did with them instead of doing it again.
func (f *Flow) run(ctx context.Context, a ledger.Attempt, fn func(context.Context) error) error {
	err := fn(ctx)
	if err == nil || !inFlight(err) {
		f.release(ctx, a)
	} else {
		f.releaseAt(ctx, a, f.now().Add(leaseGrace))
	}
	return err
}

// inFlight reports whether an attempt that failed with err may have left
// requests that Twilio or Firestore still carry out: anything but a clear
// refusal (a timeout, a 5xx, a store that did not answer). Such an
// attempt keeps the conversation for leaseGrace after it ended, so that
// the next one reads what those requests did instead of doing them
// again.
func inFlight(err error) bool {
	return !twilio.IsRefusal(err)
}

// leaseFor is how long an attempt running under ctx may hold its work.
func (f *Flow) leaseFor(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl) + leaseGrace
	}
	return f.cfg.Lease
}

// minWork is the least time worth starting a conversation's work with.
const minWork = 500 * time.Millisecond

// leaseGrace is how long a lease outlasts its attempt: its deadline, or
// its end when it failed with requests in flight. A request the attempt
// gave up on may still be carried out by Twilio or Firestore a moment
// later, and the clocks of two instances differ. docs/reliability.md
// says what this and WORK_DELAY make safe.
const leaseGrace = 2 * time.Second
