package taskqueue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/inmem"
	"github.com/experthub/experthub/internal/ledger"
	"github.com/experthub/experthub/internal/taskqueue"
)

// memQueue is a Queue that keeps its tasks; fail makes Enqueue fail.
type memQueue struct {
	mu      sync.Mutex
	tasks   map[string]taskqueue.Task
	deleted []string
	fail    error
}

func (q *memQueue) Enqueue(_ context.Context, t taskqueue.Task) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
	if q.tasks == nil {
		q.tasks = map[string]taskqueue.Task{}
	}
	q.tasks[t.Name] = t
	return nil
}

func (q *memQueue) Delete(_ context.Context, name string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.tasks, name)
	q.deleted = append(q.deleted, name)
	return nil
}

func (q *memQueue) has(name string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.tasks[name]
	return ok
}

// downLedger is a ledger that does not answer.
type downLedger struct{}

func (downLedger) Begin(context.Context, string, time.Time, time.Duration) (ledger.Attempt, error) {
	return ledger.Attempt{}, errors.New("ledger down")
}
func (downLedger) Finish(context.Context, ledger.Attempt, time.Time) error { return nil }
func (downLedger) Release(context.Context, ledger.Attempt, time.Time) error {
	return nil
}

var (
	errGone  = errors.New("gone")
	errClear = errors.New("refused")
	errHang  = errors.New("timeout")
)

type env struct {
	r    *taskqueue.Runner
	q    *memQueue
	logs *bytes.Buffer
	do   func(ctx context.Context, j taskqueue.Job) error
}

func newEnv(t *testing.T, l taskqueue.Ledger) *env {
	t.Helper()
	e := &env{q: &memQueue{}, logs: &bytes.Buffer{}}
	if l == nil {
		l = inmem.NewLedger()
	}
	e.r = taskqueue.NewRunner(taskqueue.Config{
		Name:     "test work",
		Group:    "Thing",
		LogGroup: "thing",
		Queue:    e.q,
		Ledger:   l,
		Logger:   slog.New(slog.NewJSONHandler(e.logs, nil)),
		Delay:    5 * time.Second,
		MaxAge:   time.Minute,
		Lease:    time.Second,
		InFlight: func(err error) bool { return !errors.Is(err, errClear) },
		Gone:     errGone,
	})
	e.r.Register("k", taskqueue.Kind{
		Subject: "Sub",
		Do:      func(ctx context.Context, j taskqueue.Job) error { return e.do(ctx, j) },
		Undone:  "nothing was done",
	})
	return e
}

func job(received time.Time) taskqueue.Job {
	return taskqueue.Job{Kind: "k", Params: map[string]string{"Thing": "T1", "Sub": "S1"}, Received: received}
}

// TestAccept: the safety net is queued before the first effect (whatever
// the work does after AfterQueued finds it queued), deleted once the work
// is done, and left to the queue when it is not; a job that can never be
// done answers Gone, one neither done nor queued Lost.
func TestAccept(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		queueErr error
		want     taskqueue.Outcome
		wantTask bool // the safety net stays queued
		wantLog  string
	}{
		{name: "done", want: taskqueue.Done},
		{name: "failed", err: errHang, want: taskqueue.Queued, wantTask: true, wantLog: "test work left to the queue"},
		{name: "gone", err: errGone, want: taskqueue.Gone, wantTask: true, wantLog: "test work for something that no longer exists"},
		{name: "lost", err: errHang, queueErr: errors.New("queue down"), want: taskqueue.Lost, wantLog: "test work lost"},
		{name: "done, not queued", queueErr: errors.New("queue down"), want: taskqueue.Done, wantLog: "queueing the safety net failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.q.fail = tt.queueErr
			received := time.Now()
			name := e.r.TaskName(job(received))
			e.do = func(ctx context.Context, _ taskqueue.Job) error {
				taskqueue.AfterQueued(ctx)
				if tt.queueErr == nil && !e.q.has(name) {
					t.Error("the work's first effect came before its safety net was queued")
				}
				return tt.err
			}
			if got := e.r.Accept(context.Background(), job(received)); got != tt.want {
				t.Errorf("Accept = %v, want %v", got, tt.want)
			}
			if got := e.q.has(name); got != tt.wantTask {
				t.Errorf("safety net queued after the attempt: %v, want %v", got, tt.wantTask)
			}
			if tt.queueErr == nil && !tt.wantTask && len(e.q.deleted) != 1 {
				t.Errorf("deleted %v, want the done job's safety net", e.q.deleted)
			}
			if tt.wantLog != "" && !strings.Contains(e.logs.String(), tt.wantLog) {
				t.Errorf("logs lack %q:\n%s", tt.wantLog, e.logs)
			}
		})
	}
}

func TestSafetyNetDue(t *testing.T) {
	e := newEnv(t, nil)
	e.do = func(context.Context, taskqueue.Job) error { return errHang }
	received := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e.r.Accept(context.Background(), job(received))
	task := e.q.tasks[taskqueue.TaskID("k", "S1")]
	if want := received.Add(5 * time.Second); !task.At.Equal(want) {
		t.Errorf("safety net due %v, want %v (received + Delay)", task.At, want)
	}
	var j taskqueue.Job
	if err := json.Unmarshal(task.Body, &j); err != nil || j.Params["Sub"] != "S1" || !j.Received.Equal(received) {
		t.Errorf("task body %s: %v", task.Body, err)
	}
}

// TestConsumeDeadLetters: a job past MaxAge, or one that can never be
// done, is dead-lettered with one error line, whatever the number of
// deliveries; a failure is retried.
func TestConsumeDeadLetters(t *testing.T) {
	e := newEnv(t, nil)
	e.do = func(context.Context, taskqueue.Job) error { return errHang }
	body, _ := json.Marshal(job(time.Now().Add(-time.Hour)))
	for range 3 {
		if err := e.r.Consume(context.Background(), taskqueue.Delivery{Name: "k-S1", Body: body}); err != nil {
			t.Errorf("an old job's delivery failed: %v", err)
		}
	}
	if n := strings.Count(e.logs.String(), "test work dead-lettered: nothing was done"); n != 1 {
		t.Errorf("%d dead-letter lines, want 1:\n%s", n, e.logs)
	}

	body, _ = json.Marshal(job(time.Now()))
	if err := e.r.Consume(context.Background(), taskqueue.Delivery{Name: "k-S1", Body: body}); !errors.Is(err, errHang) {
		t.Errorf("a failed delivery returned %v, want the failure: the queue retries it", err)
	}
	e.do = func(context.Context, taskqueue.Job) error { return errGone }
	if err := e.r.Consume(context.Background(), taskqueue.Delivery{Name: "k-S2", Body: body}); err != nil {
		t.Errorf("a gone job's delivery failed: %v", err)
	}
	if err := e.r.Consume(context.Background(), taskqueue.Delivery{Name: "x", Body: []byte(`"not a job"`)}); err != nil {
		t.Errorf("a task that is not a job: %v", err)
	}
}

// TestHold: one attempt at a time; a clear failure frees the key at once,
// one that may leave requests in flight LeaseGrace later.
func TestHold(t *testing.T) {
	l := inmem.NewLedger()
	e := newEnv(t, l)
	ctx := context.Background()
	busy := func() bool {
		a, err := l.Begin(ctx, "key", time.Now(), time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if a.Owns() {
			_ = l.Release(ctx, a, time.Now())
		}
		return a.Outcome == ledger.Busy
	}
	_ = e.r.Hold(ctx, "key", func(context.Context) error {
		if !busy() {
			t.Error("the key is not held while fn runs")
		}
		return errClear
	})
	if busy() {
		t.Error("the key is held after a clear failure")
	}
	_ = e.r.Hold(ctx, "key", func(context.Context) error { return errHang })
	if !busy() {
		t.Error("the key is free right after a failure that may leave requests in flight")
	}

	// A second attempt waits for the first one's hold to end.
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	a, _ := l.Begin(ctx, "other", time.Now(), time.Hour)
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = l.Release(ctx, a, time.Now())
	}()
	ran := false
	if err := e.r.Hold(short, "other", func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("Hold = %v, ran %v: a waiting attempt runs once the hold ends", err, ran)
	}
}

// TestHoldWithoutLedger: with the ledger down, a webhook's own attempt
// whose safety net is queued leaves the job to it; a queued attempt waits
// until the webhook's attempt is surely over.
func TestHoldWithoutLedger(t *testing.T) {
	e := newEnv(t, downLedger{})
	ran := 0
	e.do = func(ctx context.Context, _ taskqueue.Job) error {
		return e.r.Hold(ctx, "key", func(context.Context) error { ran++; return nil })
	}
	if got := e.r.Accept(context.Background(), job(time.Now())); got != taskqueue.Queued || ran != 0 {
		t.Errorf("Accept = %v, ran %d times; want the job left to the queue", got, ran)
	}
	body, _ := json.Marshal(job(time.Now()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := e.r.Consume(ctx, taskqueue.Delivery{Name: "k-S1", Body: body}); !errors.Is(err, taskqueue.ErrNoLedger) || ran != 0 {
		t.Errorf("a delivery while the webhook's attempt may run: %v, ran %d times", err, ran)
	}
	body, _ = json.Marshal(job(time.Now().Add(-10 * time.Second)))
	if err := e.r.Consume(context.Background(), taskqueue.Delivery{Name: "k-S1", Body: body}); err != nil || ran != 1 {
		t.Errorf("a delivery after the webhook's attempt: %v, ran %d times", err, ran)
	}
}
