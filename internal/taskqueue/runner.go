package taskqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/experthub/experthub/internal/ledger"
)

// Job is one piece of durable work: what a webhook asked for. It is the
// body of its task, so the queue can finish what the webhook's own
// attempt did not; its JSON form is kept stable, since tasks outlive a
// deployment.
type Job struct {
	Kind   string            `json:"kind"`
	Params map[string]string `json:"params"`
	// Received is when the webhook arrived: the job's age decides when the
	// queue gives up (Config.MaxAge).
	Received time.Time `json:"received"`
}

// Kind is what a Runner knows of one kind of job.
type Kind struct {
	// Subject is the parameter naming what a job is about (a message, a
	// participant…): its task is named TaskID(kind, subject), one task per
	// piece of work, whoever enqueues it and however often its webhook
	// arrives. Empty: Config.Group.
	Subject string
	// Do does the job. Every step must check before it acts (see Runner).
	Do func(ctx context.Context, j Job) error
	// Undone says, for an operator, what a dead-lettered job leaves
	// undone.
	Undone string
}

// Ledger records work (package ledger; fsstore and inmem implement it).
type Ledger interface {
	Begin(ctx context.Context, key string, now time.Time, lease time.Duration) (ledger.Attempt, error)
	Finish(ctx context.Context, a ledger.Attempt, now time.Time) error
	Release(ctx context.Context, a ledger.Attempt, at time.Time) error
}

// What a runner's log lines say after its Config.Name: operators' alerts
// match on them (terraform/monitoring.tf), so they change only with the
// alerts (LogMessages).
const (
	msgGone    = " for something that no longer exists"
	msgLeft    = " left to the queue"
	msgLost    = " lost: it failed and could not be queued"
	msgDropped = " dropped: the task is not a job"
	msgRetried = " failed; the queue retries it"
	msgDead    = " dead-lettered: "
)

// LogMessages returns the fixed part of every message a runner named
// name logs, for the check that alerts match what the code logs.
func LogMessages(name string) []string {
	var out []string
	for _, m := range []string{msgGone, msgLeft, msgLost, msgDropped, msgRetried, msgDead} {
		out = append(out, name+m)
	}
	return out
}

// Config configures a Runner.
type Config struct {
	// Name is what log lines call the work, e.g. "conversation work":
	// alerts match on "<Name> dead-lettered", "<Name> lost", "<Name>
	// dropped".
	Name string
	// Group is the parameter naming what jobs hold (a conversation): it
	// is logged, as LogGroup, with every line about a job.
	Group, LogGroup string
	Queue           Queue
	Ledger          Ledger
	Logger          *slog.Logger     // nil: discard
	Now             func() time.Time // nil: time.Now
	// Delay is when, after its webhook, a job's safety net runs.
	Delay time.Duration
	// MaxAge is how long the queue keeps trying a job before it is
	// dead-lettered.
	MaxAge time.Duration
	// Lease is how long an attempt without a deadline holds its work, and
	// how long a webhook's own attempt may still be running after it
	// arrived.
	Lease time.Duration
	// InFlight reports whether an attempt that failed with err may have
	// left requests that are still carried out (a timeout, a 5xx, a store
	// that did not answer), as opposed to a clear refusal; nil: always.
	InFlight func(err error) bool
	// Gone is the error (matched with errors.Is) of a job that can never
	// be done: what it is about no longer exists.
	Gone error
}

// Runner does durable work: a webhook's job is queued as a safety net
// and done at once (Accept); the queue's deliveries (Consume) finish what
// that attempt left undone. Work on one thing runs one attempt at a time
// (Hold); a job the queue cannot finish is dead-lettered with one log
// line. Every step of a job must check before it acts, so doing a job
// twice, or after an attempt that died half way, does each effect once.
// docs/reliability.md says what Config.Delay and LeaseGrace make safe.
type Runner struct {
	cfg   Config
	kinds map[string]Kind
	log   *slog.Logger
	now   func() time.Time
}

// NewRunner returns a Runner with no kinds.
func NewRunner(cfg Config) *Runner {
	r := &Runner{cfg: cfg, kinds: map[string]Kind{}, log: cfg.Logger, now: cfg.Now}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// Register makes kind known. Call it before the Runner serves.
func (r *Runner) Register(kind string, k Kind) { r.kinds[kind] = k }

// DeliveryTimeout bounds one queue delivery of a job: far more than a job
// takes, far less than the work function's own timeout.
const DeliveryTimeout = 30 * time.Second

// LeaseGrace is how long a hold outlasts its attempt: its deadline, or its
// end when it failed with requests in flight. A request the attempt gave
// up on may still be carried out a moment later, and the clocks of two
// instances differ.
const LeaseGrace = 2 * time.Second

// minWork is the least time worth starting a job's work with.
const minWork = 500 * time.Millisecond

// bookkeeping bounds the ledger and queue writes that end an attempt,
// which must be tried even when the attempt's deadline has passed.
const bookkeeping = 2 * time.Second

// enqueueTimeout bounds queueing a task, which must be tried even when
// the webhook's own deadline is near.
const enqueueTimeout = 3 * time.Second

// ErrNoLedger is returned when an attempt leaves its job to the queue
// because the ledger could not say whether another attempt holds the
// work (see Hold).
var ErrNoLedger = errors.New("taskqueue: ledger unavailable; the queue does the work")

// ErrBusy is returned when another attempt holds the work for longer than
// this attempt may wait.
var ErrBusy = errors.New("taskqueue: another attempt is working on it")

// ErrNoQueue is returned by Enqueue when the Runner has no queue.
var ErrNoQueue = errors.New("taskqueue: no queue")

// Outcome is what became of a job Accept was given.
type Outcome int

const (
	// Done: the job is done; its safety net is deleted.
	Done Outcome = iota
	// Queued: the job is left to its safety net.
	Queued
	// Gone: the job can never be done (Config.Gone).
	Gone
	// Lost: the job failed and could not be queued: nobody will do it.
	Lost
)

// HTTPStatus is the status answering a webhook whose job had outcome o:
// 200 done, 202 queued, 404 gone, 503 lost.
func (o Outcome) HTTPStatus() int {
	return [...]int{200, 202, 404, 503}[o]
}

func (r *Runner) subject(j Job) string {
	if k := r.kinds[j.Kind]; k.Subject != "" {
		return j.Params[k.Subject]
	}
	return j.Params[r.cfg.Group]
}

// TaskName names j's task.
func (r *Runner) TaskName(j Job) string { return TaskID(j.Kind, r.subject(j)) }

// attrs are the log attributes naming j.
func (r *Runner) attrs(j Job, more ...any) []any {
	return append([]any{"kind", j.Kind, r.cfg.LogGroup, j.Params[r.cfg.Group], "subject", r.subject(j)}, more...)
}

// Accept queues j as a safety net due Config.Delay after it was received,
// and meanwhile does it at once. A safety net whose work got done is
// deleted, so that the queue carries only work left to do: in a burst,
// the tasks of finished work would otherwise take the queue's dispatches
// before the unfinished. Only a job that neither ran nor could be queued
// is lost, logged as an error.
func (r *Runner) Accept(ctx context.Context, j Job) Outcome {
	q := &safetyNet{done: make(chan struct{})}
	go func() {
		defer close(q.done)
		q.err = r.enqueue(ctx, j, j.Received.Add(r.cfg.Delay))
	}()
	err := r.do(context.WithValue(ctx, queuedKey{}, q), j)
	<-q.done
	qerr := q.err
	switch {
	case err == nil:
		if qerr != nil {
			r.log.WarnContext(ctx, "queueing the safety net failed; the work is done anyway", r.attrs(j, "err", qerr)...)
		} else {
			r.dropSafetyNet(ctx, j)
		}
		return Done
	case r.gone(err):
		r.log.WarnContext(ctx, r.cfg.Name+msgGone, r.attrs(j, "err", err)...)
		return Gone
	case qerr == nil:
		r.log.InfoContext(ctx, r.cfg.Name+msgLeft, r.attrs(j, "err", err)...)
		return Queued
	}
	r.log.ErrorContext(ctx, r.cfg.Name+msgLost, r.attrs(j, "err", err, "queue_err", qerr)...)
	return Lost
}

func (r *Runner) gone(err error) bool { return r.cfg.Gone != nil && errors.Is(err, r.cfg.Gone) }

// Enqueue queues j to run as soon as the queue may, with no attempt of
// its own: a job whose task name is taken is queued already.
func (r *Runner) Enqueue(ctx context.Context, j Job) error { return r.enqueue(ctx, j, time.Time{}) }

func (r *Runner) enqueue(ctx context.Context, j Job, at time.Time) error {
	if r.cfg.Queue == nil {
		return ErrNoQueue
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
	defer cancel()
	body, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return r.cfg.Queue.Enqueue(ctx, Task{Name: r.TaskName(j), Body: body, At: at})
}

// dropSafetyNet deletes the queued task of a job the webhook did. Failing
// costs only a delivery that finds the work done.
func (r *Runner) dropSafetyNet(ctx context.Context, j Job) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	if err := r.cfg.Queue.Delete(ctx, r.TaskName(j)); err != nil {
		r.log.WarnContext(ctx, "deleting the safety net of work done failed; its delivery will find the work done", r.attrs(j, "err", err)...)
	}
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

// AfterQueued waits, before an attempt's first effect, until the job's
// safety net is queued: an instance that dies after the effect then still
// leaves the rest of the job to the queue. The reads before it overlap
// with the queueing, which costs nothing when it is the faster.
func AfterQueued(ctx context.Context) {
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

// askedKey marks the context of an attempt at a job with when its
// webhook arrived.
type askedKey struct{}

// Asked returns when the job under ctx was asked for (its webhook
// arrived); zero if unknown.
func Asked(ctx context.Context) time.Time {
	t, _ := ctx.Value(askedKey{}).(time.Time)
	return t
}

// do does a job's work.
func (r *Runner) do(ctx context.Context, j Job) error {
	k, ok := r.kinds[j.Kind]
	if !ok {
		return fmt.Errorf("taskqueue: unknown kind of work %q", j.Kind)
	}
	return k.Do(context.WithValue(ctx, askedKey{}, j.Received), j)
}

// Consume runs one delivery of a job: the consumer of the queue (see
// Consumer, and RequireOIDC in front of it). An error makes the queue
// retry it later; a job that can never be done, or is older than
// Config.MaxAge, is dead-lettered instead.
func (r *Runner) Consume(ctx context.Context, d Delivery) error {
	var j Job
	if err := json.Unmarshal(d.Body, &j); err != nil || j.Kind == "" {
		r.log.WarnContext(ctx, r.cfg.Name+msgDropped, "task", d.Name, "err", err)
		return nil
	}
	if age := r.now().Sub(j.Received); age > r.cfg.MaxAge {
		r.deadLetter(ctx, j, d, fmt.Errorf("gave up after %s", age.Round(time.Second)))
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, DeliveryTimeout)
	defer cancel()
	err := r.do(context.WithValue(ctx, unheldKey{}, j.Received.Add(r.cfg.Lease+LeaseGrace)), j)
	switch {
	case err == nil:
		return nil
	case r.gone(err):
		r.deadLetter(ctx, j, d, err)
		return nil
	}
	r.log.WarnContext(ctx, r.cfg.Name+msgRetried, r.attrs(j, "attempt", d.RetryCount+1, "err", err)...)
	return err
}

// deadLetter gives a job up, with one error log naming what is left
// undone: the ledger makes repeated deliveries of a given-up job quiet.
func (r *Runner) deadLetter(ctx context.Context, j Job, d Delivery, why error) {
	a := r.Begin(ctx, "dead:"+r.TaskName(j), time.Minute)
	if a.Outcome == ledger.Done {
		return
	}
	r.log.ErrorContext(ctx, r.cfg.Name+msgDead+r.kinds[j.Kind].Undone,
		r.attrs(j, "attempts", d.RetryCount+1, "received", j.Received, "err", why)...)
	if a.Owns() {
		r.Finish(ctx, a)
	}
}

// Begin starts an attempt on key. When the ledger cannot be reached the
// work goes ahead as a resumption: every step then checks before acting,
// so a duplicate costs reads, not a second effect.
func (r *Runner) Begin(ctx context.Context, key string, lease time.Duration) ledger.Attempt {
	a, err := r.cfg.Ledger.Begin(ctx, key, r.now(), lease)
	if err != nil {
		r.log.WarnContext(ctx, "ledger unavailable; every step checks before it acts", "key", key, "err", err)
		return ledger.Attempt{Key: key, Outcome: ledger.Resume}
	}
	return a
}

// Finish records a's work done.
func (r *Runner) Finish(ctx context.Context, a ledger.Attempt) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	if err := r.cfg.Ledger.Finish(ctx, a, r.now()); err != nil {
		r.log.WarnContext(ctx, "ledger finish failed; a retry will check and find the work done", "key", a.Key, "err", err)
	}
}

// Release ends a's lease now.
func (r *Runner) Release(ctx context.Context, a ledger.Attempt) { r.releaseAt(ctx, a, r.now()) }

// releaseAt ends a's lease at at (see ledger.Release).
func (r *Runner) releaseAt(ctx context.Context, a ledger.Attempt, at time.Time) {
	if a.N == 0 || !a.Owns() {
		return // no lease of ours: the ledger was down, or another attempt works
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	if err := r.cfg.Ledger.Release(ctx, a, at); err != nil {
		r.log.WarnContext(ctx, "ledger release failed; a retry resumes once the lease ends", "key", a.Key, "err", err)
	}
}

// unheldKey marks the context of a queued attempt at a job: its value is
// when the job's webhook attempt is surely over, lease grace included.
type unheldKey struct{}

// mayRunUnheld reports whether an attempt that cannot hold its work (the
// ledger did not answer) may work without it. Nothing then keeps it apart
// from another attempt at the same job, and two attempts that both read
// before either acts both act. So the webhook's own attempt leaves the
// job to its queued task, when it is queued; a queued attempt waits,
// asking the ledger again meanwhile, until the webhook's attempt is over
// (see Hold).
func (r *Runner) mayRunUnheld(ctx context.Context) bool {
	if _, ok := ctx.Value(queuedKey{}).(*safetyNet); ok {
		return !leftToQueue(ctx)
	}
	if after, ok := ctx.Value(unheldKey{}).(time.Time); ok {
		return !r.now().Before(after)
	}
	return true
}

// Hold runs fn while holding the ledger key: work on one key (a
// conversation) never runs twice at once, on any instance. The hold is a
// ledger lease that ends at ctx's deadline (and LeaseGrace) — an attempt
// cannot act after it, so a retry never waits for longer than a dead
// attempt could still be running — or sooner, once the attempt is over:
// at once when fn succeeded or failed clearly, LeaseGrace later when it
// may leave requests in flight (Config.InFlight), so that the next
// attempt reads what they did instead of doing it again.
//
// While another attempt holds the key, or the ledger does not answer and
// an earlier attempt may still be running, Hold waits and asks again,
// within ctx's deadline: a queued attempt that waits here runs as soon
// as it may, where handing it back to the queue would wait out the
// queue's backoff. Without a ledger an attempt runs unheld, checking
// before each step, only once no other attempt at its job can be running
// (see mayRunUnheld); a webhook's own attempt then leaves the job to its
// queued task (ErrNoLedger).
func (r *Runner) Hold(ctx context.Context, key string, fn func(context.Context) error) error {
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		a := r.Begin(ctx, key, r.LeaseFor(ctx))
		unheld := a.Owns() && a.N == 0
		switch {
		case a.Owns() && (!unheld || r.mayRunUnheld(ctx)):
			return r.run(ctx, a, fn)
		case unheld && leftToQueue(ctx):
			return ErrNoLedger // the queued task does the job
		}
		stop := ErrBusy
		if unheld {
			stop = ErrNoLedger
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

// run runs fn under attempt a and ends a's lease (see Hold).
func (r *Runner) run(ctx context.Context, a ledger.Attempt, fn func(context.Context) error) error {
	err := fn(ctx)
	if err == nil || !r.inFlight(err) {
		r.Release(ctx, a)
	} else {
		r.releaseAt(ctx, a, r.now().Add(LeaseGrace))
	}
	return err
}

func (r *Runner) inFlight(err error) bool { return r.cfg.InFlight == nil || r.cfg.InFlight(err) }

// LeaseFor is how long an attempt running under ctx may hold its work.
func (r *Runner) LeaseFor(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl) + LeaseGrace
	}
	return r.cfg.Lease
}
