package taskqueue

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/experthub/experthub/internal/taskqueue/engine"
)

// LocalOptions configures a LocalQueue. The zero value works: Cloud
// Tasks' defaults with a one-hour de-duplication window.
type LocalOptions struct {
	// Queue is the queue ID deliveries name; "" means "local".
	Queue string
	// Options configure the engine: DedupeWindow 0 means an hour and
	// Deadline 0 ten minutes, as in Cloud Tasks.
	engine.Options
}

// LocalQueue is a Queue for local runs, without the cloud: it keeps tasks
// in memory and delivers them by calling a handler (normally Consumer)
// in-process with the headers Cloud Tasks would send, with the same
// de-duplication, schedule, retries and limits. Tasks die with the
// process. It is safe for concurrent use.
type LocalQueue struct {
	queue string
	r     *engine.Runner[[]byte]
}

var _ Queue = (*LocalQueue)(nil)

// NewLocal starts a LocalQueue delivering to handler.
func NewLocal(handler http.Handler, opts LocalOptions) *LocalQueue {
	q := &LocalQueue{queue: opts.Queue}
	if q.queue == "" {
		q.queue = "local"
	}
	q.r = engine.New(opts.Options, func(ctx context.Context, a engine.Attempt[[]byte]) engine.Outcome {
		return q.deliver(ctx, handler, a)
	})
	return q
}

// Enqueue schedules t; see Queue.
func (q *LocalQueue) Enqueue(ctx context.Context, t Task) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := q.r.Add(engine.Task[[]byte]{Name: t.Name, Payload: bytes.Clone(t.Body), At: t.At})
	switch {
	case errors.Is(err, engine.ErrExists):
		return nil
	case err != nil:
		return fmt.Errorf("taskqueue: local queue: %w", err)
	}
	return nil
}

// Delete drops the task of that name; see Queue.
func (q *LocalQueue) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := q.r.Delete(name); err != nil && !errors.Is(err, engine.ErrNotFound) {
		return fmt.Errorf("taskqueue: local queue: %w", err)
	}
	return nil
}

// Attempts returns how many times the task of that name was attempted,
// while its name is reserved.
func (q *LocalQueue) Attempts(name string) int {
	info, _ := q.r.Get(name)
	return info.Attempts
}

// WaitIdle waits until no task is pending or being delivered.
func (q *LocalQueue) WaitIdle(ctx context.Context) error { return q.r.WaitIdle(ctx) }

// Close stops delivering: attempts in flight see their context cancelled
// and are no longer waited for; pending tasks are lost.
func (q *LocalQueue) Close() error {
	q.r.Close()
	return nil
}

func (q *LocalQueue) deliver(ctx context.Context, h http.Handler, a engine.Attempt[[]byte]) engine.Outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://localhost/work", bytes.NewReader(a.Payload))
	if err != nil {
		return engine.Outcome{Err: err}
	}
	req.Header = Delivery{
		Queue:            q.queue,
		Name:             a.Name,
		RetryCount:       a.RetryCount,
		ExecutionCount:   a.ExecutionCount,
		ETA:              a.ScheduleTime,
		PreviousResponse: a.PreviousResponse,
		RetryReason:      a.RetryReason,
	}.Headers()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Google-Cloud-Tasks")
	// As Cloud Tasks, stop listening at the deadline: the handler may run
	// on, but the attempt has failed and its slot is free.
	done := make(chan engine.Outcome, 1)
	go func() {
		w := &statusWriter{header: http.Header{}}
		h.ServeHTTP(w, req)
		out := engine.Outcome{Status: cmp.Or(w.status, http.StatusOK)}
		if s, err := strconv.Atoi(w.header.Get("Retry-After")); err == nil && s > 0 {
			out.RetryAfter = time.Duration(s) * time.Second
		}
		done <- out
	}()
	select {
	case out := <-done:
		return out
	case <-ctx.Done():
		return engine.Outcome{Err: ctx.Err()}
	}
}

// statusWriter is the ResponseWriter of an in-process delivery: only the
// status and headers matter.
type statusWriter struct {
	header http.Header
	status int
}

func (w *statusWriter) Header() http.Header { return w.header }

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}
