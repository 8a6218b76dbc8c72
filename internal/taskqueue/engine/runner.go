package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// ErrExists is returned by Add when a task of that name is pending, or
// finished within the de-duplication window.
var ErrExists = errors.New("engine: task name exists or existed recently")

// ErrNotFound is returned by Delete when no task of that name is pending.
var ErrNotFound = errors.New("engine: task not found")

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("engine: runner closed")

// Options configures a Runner.
type Options struct {
	Retry RetryConfig
	Rate  RateLimits
	// DedupeWindow is how long a finished or deleted task's name stays
	// reserved; 0 means DefaultDedupeWindow.
	DedupeWindow time.Duration
	// Deadline bounds an attempt of a task that sets none; 0 means
	// DefaultDeadline.
	Deadline time.Duration
	// Logger receives a line for every task given up; nil discards.
	Logger *slog.Logger
}

// Task is a unit of work to deliver.
type Task[P any] struct {
	// Name identifies the task and de-duplicates it.
	Name    string
	Payload P
	// At is the earliest dispatch; zero or past means now.
	At time.Time
	// Deadline bounds each attempt; 0 means Options.Deadline.
	Deadline time.Duration
}

// Attempt is what an attempt's deliver function is told: the task and
// what Cloud Tasks tells a handler about earlier attempts.
type Attempt[P any] struct {
	Name    string
	Payload P
	// ScheduleTime is when this attempt was due.
	ScheduleTime time.Time
	// RetryCount is the number of earlier attempts: 0 on the first.
	RetryCount int
	// ExecutionCount is the number of earlier attempts that got a
	// response other than 5xx.
	ExecutionCount int
	// PreviousResponse is the HTTP status of the previous attempt, 0 if
	// none or it got no response.
	PreviousResponse int
	// RetryReason says why this is a retry; "" on the first attempt.
	RetryReason string
}

// Outcome is how an attempt ended.
type Outcome struct {
	// Status is the HTTP status of the response, 0 if none came.
	Status int
	// RetryAfter is the response's Retry-After, honoured after a 429 or
	// 503 as a lower bound of the backoff.
	RetryAfter time.Duration
	// Err says why no response came.
	Err error
}

// Succeeded reports whether the attempt completes the task: any 2xx.
func (o Outcome) Succeeded() bool { return o.Status >= 200 && o.Status < 300 }

// State is where a task stands.
type State int

// The states of a task.
const (
	Pending   State = iota // waiting for its schedule time or a retry
	Running                // an attempt is in flight
	Succeeded              // an attempt got a 2xx
	Dropped                // retries exhausted
	Deleted                // deleted before it succeeded
)

func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Running:
		return "running"
	case Succeeded:
		return "succeeded"
	case Dropped:
		return "dropped"
	case Deleted:
		return "deleted"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

func (s State) finished() bool { return s >= Succeeded }

// Info describes a task.
type Info[P any] struct {
	Name         string
	Payload      P
	State        State
	CreateTime   time.Time
	ScheduleTime time.Time // when the next (or last) attempt is (was) due
	Deadline     time.Duration
	Attempts     int // dispatched attempts, in flight included
	Responses    int // attempts that got a response
	FirstAttempt time.Time
	LastAttempt  time.Time
	LastStatus   int    // HTTP status of the last response, 0 if none
	LastError    string // why the last attempt got no response
	FinishTime   time.Time
}

type entry[P any] struct {
	Info[P]
	executions  int // responses other than 5xx
	retryReason string
}

// Runner delivers tasks. It is safe for concurrent use.
type Runner[P any] struct {
	opts    Options
	deliver func(context.Context, Attempt[P]) Outcome
	log     *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	tasks    map[string]*entry[P]
	running  int
	active   int           // pending or running
	idle     chan struct{} // closed while active == 0
	nextSlot time.Time     // earliest next dispatch under the rate limit
	closed   bool
}

// New starts a Runner that makes each attempt with deliver. deliver must
// honour its context, which ends at the attempt's deadline or on Close.
func New[P any](opts Options, deliver func(ctx context.Context, a Attempt[P]) Outcome) *Runner[P] {
	opts.Retry = opts.Retry.withDefaults()
	opts.Rate = opts.Rate.withDefaults()
	if opts.DedupeWindow <= 0 {
		opts.DedupeWindow = DefaultDedupeWindow
	}
	if opts.Deadline <= 0 {
		opts.Deadline = DefaultDeadline
	}
	r := &Runner[P]{
		opts:    opts,
		deliver: deliver,
		log:     opts.Logger,
		wake:    make(chan struct{}, 1),
		tasks:   make(map[string]*entry[P]),
		idle:    make(chan struct{}),
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	close(r.idle)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Add(1)
	go r.loop()
	return r
}

// Add schedules t. A name in use (pending, running, or finished within
// the de-duplication window) fails with ErrExists.
func (r *Runner[P]) Add(t Task[P]) (Info[P], error) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return Info[P]{}, ErrClosed
	}
	if e, ok := r.tasks[t.Name]; ok && !r.expired(e, now) {
		return e.Info, ErrExists
	}
	at := t.At
	if at.Before(now) {
		at = now
	}
	deadline := t.Deadline
	if deadline <= 0 {
		deadline = r.opts.Deadline
	}
	e := &entry[P]{Info: Info[P]{
		Name:         t.Name,
		Payload:      t.Payload,
		State:        Pending,
		CreateTime:   now,
		ScheduleTime: at,
		Deadline:     deadline,
	}}
	r.tasks[t.Name] = e
	r.setActive(+1)
	r.signal()
	return e.Info, nil
}

// Delete deletes a pending or running task; its name stays reserved for
// the de-duplication window. An attempt in flight runs on, but its
// outcome is ignored.
func (r *Runner[P]) Delete(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.tasks[name]
	if !ok || e.State.finished() {
		return ErrNotFound
	}
	r.finish(e, Deleted, time.Now())
	r.signal()
	return nil
}

// Get returns the task of that name, finished ones included until their
// name is released.
func (r *Runner[P]) Get(name string) (Info[P], bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.tasks[name]
	if !ok || r.expired(e, time.Now()) {
		return Info[P]{}, false
	}
	return e.Info, true
}

// Tasks returns every task known, finished ones included until their
// name is released, sorted by name.
func (r *Runner[P]) Tasks() []Info[P] {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	out := make([]Info[P], 0, len(r.tasks))
	for _, e := range r.tasks {
		if !r.expired(e, now) {
			out = append(out, e.Info)
		}
	}
	slices.SortFunc(out, func(a, b Info[P]) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// WaitIdle waits until no task is pending or running.
func (r *Runner[P]) WaitIdle(ctx context.Context) error {
	r.mu.Lock()
	idle := r.idle
	r.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops dispatching, cancels the attempts in flight and waits for
// them. Pending tasks are not delivered.
func (r *Runner[P]) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// expired reports whether a finished task's name is free again.
func (r *Runner[P]) expired(e *entry[P], now time.Time) bool {
	return e.State.finished() && !now.Before(e.FinishTime.Add(r.opts.DedupeWindow))
}

func (r *Runner[P]) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// setActive moves the count of unfinished tasks and the idle signal.
func (r *Runner[P]) setActive(delta int) {
	was := r.active
	r.active += delta
	switch {
	case was == 0 && r.active > 0:
		r.idle = make(chan struct{})
	case was > 0 && r.active == 0:
		close(r.idle)
	}
}

func (r *Runner[P]) finish(e *entry[P], s State, now time.Time) {
	e.State = s
	e.FinishTime = now
	r.setActive(-1)
}

func (r *Runner[P]) loop() {
	defer r.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		r.mu.Lock()
		e, a, wait := r.next(time.Now())
		r.mu.Unlock()
		if e != nil {
			r.wg.Add(1)
			go r.attempt(e, a)
			continue
		}
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-r.wake:
		case <-timer.C:
		case <-r.ctx.Done():
			timer.Stop()
			return
		}
		timer.Stop()
	}
}

// next starts the due task with the earliest schedule time if the limits
// allow, or says how long to wait (0: until woken). It also releases the
// names whose window has passed. The scan is linear: the queues this
// serves hold few tasks.
func (r *Runner[P]) next(now time.Time) (*entry[P], Attempt[P], time.Duration) {
	var first *entry[P]
	for name, e := range r.tasks {
		if r.expired(e, now) {
			delete(r.tasks, name)
			continue
		}
		if e.State == Pending && (first == nil || e.ScheduleTime.Before(first.ScheduleTime)) {
			first = e
		}
	}
	if first == nil || r.running >= r.opts.Rate.MaxConcurrentDispatches {
		return nil, Attempt[P]{}, 0
	}
	if d := first.ScheduleTime.Sub(now); d > 0 {
		return nil, Attempt[P]{}, d
	}
	if d := r.nextSlot.Sub(now); d > 0 {
		return nil, Attempt[P]{}, d
	}
	r.nextSlot = now.Add(r.opts.Rate.interval())
	r.running++
	e := first
	a := Attempt[P]{
		Name:             e.Name,
		Payload:          e.Payload,
		ScheduleTime:     e.ScheduleTime,
		RetryCount:       e.Attempts,
		ExecutionCount:   e.executions,
		PreviousResponse: e.LastStatus,
		RetryReason:      e.retryReason,
	}
	e.State = Running
	e.Attempts++
	if e.Attempts == 1 {
		e.FirstAttempt = now
	}
	e.LastAttempt = now
	return e, a, 0
}

func (r *Runner[P]) attempt(e *entry[P], a Attempt[P]) {
	defer r.wg.Done()
	ctx, cancel := context.WithTimeout(r.ctx, e.Deadline)
	out := r.safeDeliver(ctx, a)
	if out.Status == 0 && out.Err == nil {
		out.Err = errors.New("no response")
	}
	if out.Status == 0 && ctx.Err() == context.DeadlineExceeded {
		out.Err = context.DeadlineExceeded
	}
	cancel()

	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.signal()
	r.running--
	e.LastStatus, e.LastError = out.Status, ""
	if out.Status != 0 {
		e.Responses++
		if out.Status < 500 {
			e.executions++
		}
	} else {
		e.LastError = out.Err.Error()
	}
	switch {
	case e.State != Running: // deleted meanwhile
	case out.Succeeded():
		r.finish(e, Succeeded, now)
	case r.ctx.Err() != nil: // closing: the attempt was cut short
		e.State = Pending
	case r.opts.Retry.Exhausted(e.Attempts, now.Sub(e.FirstAttempt)):
		r.finish(e, Dropped, now)
		r.log.Warn("task queue: task dropped, retries exhausted",
			"task", e.Name, "attempts", e.Attempts, "status", out.Status, "error", e.LastError)
	default:
		wait := r.opts.Retry.Backoff(e.Attempts)
		if out.Status == http.StatusTooManyRequests || out.Status == http.StatusServiceUnavailable {
			wait = max(wait, out.RetryAfter)
		}
		e.State = Pending
		e.ScheduleTime = now.Add(wait)
		e.retryReason = retryReason(out)
	}
}

// safeDeliver turns a panic of deliver into a failed attempt.
func (r *Runner[P]) safeDeliver(ctx context.Context, a Attempt[P]) (out Outcome) {
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("task queue: delivery panicked", "task", a.Name, "panic", fmt.Sprint(v))
			out = Outcome{Err: fmt.Errorf("panic: %v", v)}
		}
	}()
	return r.deliver(ctx, a)
}

// retryReason names why an attempt failed. Cloud Tasks does not document
// the values of X-CloudTasks-TaskRetryReason; these are this package's.
func retryReason(o Outcome) string {
	switch {
	case o.Status != 0:
		return fmt.Sprintf("HTTP %d", o.Status)
	case errors.Is(o.Err, context.DeadlineExceeded):
		return "DEADLINE_EXCEEDED"
	default:
		return "UNAVAILABLE"
	}
}
