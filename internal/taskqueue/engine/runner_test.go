package engine_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/taskqueue/engine"
)

// fast retries within milliseconds.
var fast = engine.RetryConfig{MaxAttempts: 5, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, MaxDoublings: 2}

// recorder answers attempts from a script of statuses per task (then 200)
// and records what each attempt was told.
type recorder struct {
	mu       sync.Mutex
	script   map[string][]int
	attempts map[string][]engine.Attempt[string]
}

func newRecorder(script map[string][]int) *recorder {
	return &recorder{script: script, attempts: map[string][]engine.Attempt[string]{}}
}

func (r *recorder) deliver(_ context.Context, a engine.Attempt[string]) engine.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[a.Name] = append(r.attempts[a.Name], a)
	if s := r.script[a.Name]; len(s) > 0 {
		r.script[a.Name] = s[1:]
		if s[0] == 0 {
			return engine.Outcome{Err: errors.New("connection refused")}
		}
		return engine.Outcome{Status: s[0]}
	}
	return engine.Outcome{Status: 200}
}

func (r *recorder) of(name string) []engine.Attempt[string] {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.attempts[name])
}

func newRunner(t *testing.T, opts engine.Options, deliver func(context.Context, engine.Attempt[string]) engine.Outcome) *engine.Runner[string] {
	t.Helper()
	r := engine.New(opts, deliver)
	t.Cleanup(r.Close)
	return r
}

func waitIdle(t *testing.T, r interface{ WaitIdle(context.Context) error }) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
}

func TestRetriesUntilSuccess(t *testing.T) {
	rec := newRecorder(map[string][]int{"t": {500, 0, 404}})
	r := newRunner(t, engine.Options{Retry: fast}, rec.deliver)
	if _, err := r.Add(engine.Task[string]{Name: "t", Payload: "p"}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, r)

	got := rec.of("t")
	if len(got) != 4 {
		t.Fatalf("%d attempts, want 4 (3 failures, then success)", len(got))
	}
	want := []struct {
		retry, exec, prev int
		reason            string
	}{
		{0, 0, 0, ""},
		{1, 0, 500, "HTTP 500"},
		{2, 0, 0, "UNAVAILABLE"},
		{3, 1, 404, "HTTP 404"}, // a 4xx response counts as an execution, a 5xx does not
	}
	for i, w := range want {
		a := got[i]
		if a.RetryCount != w.retry || a.ExecutionCount != w.exec || a.PreviousResponse != w.prev || a.RetryReason != w.reason || a.Payload != "p" {
			t.Errorf("attempt %d told %+v, want retry %d, executions %d, previous %d, reason %q",
				i, a, w.retry, w.exec, w.prev, w.reason)
		}
	}
	info, ok := r.Get("t")
	if !ok || info.State != engine.Succeeded || info.Attempts != 4 || info.Responses != 3 {
		t.Errorf("Get = %+v, %v; want succeeded after 4 attempts, 3 responses", info, ok)
	}
}

func TestDropsWhenRetriesExhausted(t *testing.T) {
	var log logBuffer
	rec := newRecorder(map[string][]int{"t": {503, 503, 503, 503}})
	r := newRunner(t, engine.Options{
		Retry:  engine.RetryConfig{MaxAttempts: 3, MinBackoff: time.Millisecond},
		Logger: log.logger(),
	}, rec.deliver)
	if _, err := r.Add(engine.Task[string]{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, r)
	if n := len(rec.of("t")); n != 3 {
		t.Errorf("%d attempts, want MaxAttempts = 3", n)
	}
	if info, _ := r.Get("t"); info.State != engine.Dropped || info.LastStatus != 503 {
		t.Errorf("task %+v, want dropped after a 503", info)
	}
	if !log.contains("retries exhausted") {
		t.Errorf("no log line for the dropped task: %s", log.String())
	}
}

func TestRetryDurationWithUnlimitedAttempts(t *testing.T) {
	var n atomic.Int32
	r := newRunner(t, engine.Options{
		Retry: engine.RetryConfig{MaxAttempts: -1, MaxRetryDuration: 200 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond},
	}, func(context.Context, engine.Attempt[string]) engine.Outcome {
		n.Add(1)
		return engine.Outcome{Status: 500}
	})
	if _, err := r.Add(engine.Task[string]{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, r)
	info, _ := r.Get("t")
	if info.State != engine.Dropped || n.Load() < 2 {
		t.Errorf("task %+v after %d attempts, want dropped once its retry duration passed, after retries", info, n.Load())
	}
	if age := info.FinishTime.Sub(info.FirstAttempt); age < 200*time.Millisecond {
		t.Errorf("dropped after retrying for %v, before MaxRetryDuration", age)
	}
}

func TestDeduplication(t *testing.T) {
	block := make(chan struct{})
	var n atomic.Int32
	r := newRunner(t, engine.Options{Retry: fast}, func(ctx context.Context, a engine.Attempt[string]) engine.Outcome {
		n.Add(1)
		<-block
		return engine.Outcome{Status: 200}
	})
	if _, err := r.Add(engine.Task[string]{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(engine.Task[string]{Name: "t"}); !errors.Is(err, engine.ErrExists) {
		t.Errorf("second Add while pending or running: %v, want ErrExists", err)
	}
	close(block)
	waitIdle(t, r)
	if _, err := r.Add(engine.Task[string]{Name: "t"}); !errors.Is(err, engine.ErrExists) {
		t.Errorf("Add after success within the window: %v, want ErrExists", err)
	}
	waitIdle(t, r)
	if n.Load() != 1 {
		t.Errorf("delivered %d times, want once", n.Load())
	}

	// Once the window has passed, the name is free again.
	r2 := newRunner(t, engine.Options{DedupeWindow: time.Nanosecond}, func(context.Context, engine.Attempt[string]) engine.Outcome {
		return engine.Outcome{Status: 204}
	})
	for i := range 2 {
		if _, err := r2.Add(engine.Task[string]{Name: "t"}); err != nil {
			t.Fatalf("Add %d with a window of 1ns: %v", i, err)
		}
		waitIdle(t, r2)
	}
}

func TestScheduleTime(t *testing.T) {
	rec := newRecorder(nil)
	r := newRunner(t, engine.Options{}, rec.deliver)
	at := time.Now().Add(30 * time.Millisecond)
	if _, err := r.Add(engine.Task[string]{Name: "later", At: at}); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	if _, err := r.Add(engine.Task[string]{Name: "past", At: past}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, r)
	later, _ := r.Get("later")
	if later.FirstAttempt.Before(at) {
		t.Errorf("dispatched at %v, before its schedule time %v", later.FirstAttempt, at)
	}
	if a := rec.of("later"); len(a) != 1 || !a[0].ScheduleTime.Equal(at) {
		t.Errorf("attempts %+v, want one told its schedule time %v", a, at)
	}
	// A past schedule time means now.
	if p, _ := r.Get("past"); p.ScheduleTime.Before(p.CreateTime) {
		t.Errorf("past schedule time kept: %v, created %v", p.ScheduleTime, p.CreateTime)
	}
}

func TestDelete(t *testing.T) {
	var n atomic.Int32
	r := newRunner(t, engine.Options{}, func(context.Context, engine.Attempt[string]) engine.Outcome {
		n.Add(1)
		return engine.Outcome{Status: 200}
	})
	if _, err := r.Add(engine.Task[string]{Name: "t", At: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete("t"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := r.Delete("t"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if err := r.Delete("unknown"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Delete of an unknown task: %v, want ErrNotFound", err)
	}
	if _, err := r.Add(engine.Task[string]{Name: "t"}); !errors.Is(err, engine.ErrExists) {
		t.Errorf("Add after Delete: %v, want ErrExists (the name stays reserved)", err)
	}
	waitIdle(t, r)
	if n.Load() != 0 {
		t.Errorf("deleted task delivered %d times", n.Load())
	}
	if info, _ := r.Get("t"); info.State != engine.Deleted {
		t.Errorf("state %v, want deleted", info.State)
	}
}

func TestConcurrencyCap(t *testing.T) {
	var inflight, peak atomic.Int32
	r := newRunner(t, engine.Options{Rate: engine.RateLimits{MaxConcurrentDispatches: 2}},
		func(context.Context, engine.Attempt[string]) engine.Outcome {
			now := inflight.Add(1)
			for {
				p := peak.Load()
				if now <= p || peak.CompareAndSwap(p, now) {
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
			inflight.Add(-1)
			return engine.Outcome{Status: 200}
		})
	for i := range 10 {
		if _, err := r.Add(engine.Task[string]{Name: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	waitIdle(t, r)
	if p := peak.Load(); p < 1 || p > 2 {
		t.Errorf("peak of %d attempts in flight, cap 2", p)
	}
	for _, info := range r.Tasks() {
		if info.State != engine.Succeeded {
			t.Errorf("task %s %v, want succeeded", info.Name, info.State)
		}
	}
}

// TestRateLimit checks dispatches never come closer than the rate allows.
// It bounds the gaps from below only: a slow machine widens them.
func TestRateLimit(t *testing.T) {
	r := newRunner(t, engine.Options{Rate: engine.RateLimits{MaxDispatchesPerSecond: 200}},
		func(context.Context, engine.Attempt[string]) engine.Outcome { return engine.Outcome{Status: 200} })
	for i := range 6 {
		if _, err := r.Add(engine.Task[string]{Name: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	waitIdle(t, r)
	var starts []time.Time
	for _, info := range r.Tasks() {
		starts = append(starts, info.FirstAttempt)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < 5*time.Millisecond {
			t.Errorf("dispatches %d and %d %v apart, the rate allows one per 5ms", i-1, i, gap)
		}
	}
}

func TestDeadlineAndRetryAfter(t *testing.T) {
	rec := newRecorder(nil)
	var calls atomic.Int32
	r := newRunner(t, engine.Options{Retry: fast}, func(ctx context.Context, a engine.Attempt[string]) engine.Outcome {
		rec.deliver(ctx, a)
		if calls.Add(1) == 1 {
			<-ctx.Done() // a handler that overruns its deadline
			return engine.Outcome{Err: ctx.Err()}
		}
		return engine.Outcome{Status: 200}
	})
	if _, err := r.Add(engine.Task[string]{Name: "slow", Deadline: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, r)
	if a := rec.of("slow"); len(a) != 2 || a[1].RetryReason != "DEADLINE_EXCEEDED" || a[1].PreviousResponse != 0 {
		t.Errorf("attempts %+v, want a retry after the deadline passed", a)
	}

	// A 503 with Retry-After waits at least that long.
	r2 := newRunner(t, engine.Options{Retry: fast}, func(context.Context, engine.Attempt[string]) engine.Outcome {
		return engine.Outcome{Status: 503, RetryAfter: time.Hour}
	})
	if _, err := r2.Add(engine.Task[string]{Name: "busy"}); err != nil {
		t.Fatal(err)
	}
	for {
		info, _ := r2.Get("busy")
		if info.Attempts == 1 && info.State == engine.Pending {
			if wait := info.ScheduleTime.Sub(info.LastAttempt); wait < time.Hour {
				t.Errorf("retry scheduled %v after a 503 with Retry-After: 3600", wait)
			}
			break
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPanicIsAFailedAttempt(t *testing.T) {
	var n atomic.Int32
	var log logBuffer
	r := newRunner(t, engine.Options{Retry: fast, Logger: log.logger()}, func(context.Context, engine.Attempt[string]) engine.Outcome {
		if n.Add(1) == 1 {
			panic("boom")
		}
		return engine.Outcome{Status: 200}
	})
	if _, err := r.Add(engine.Task[string]{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, r)
	if info, _ := r.Get("t"); info.State != engine.Succeeded || info.Attempts != 2 {
		t.Errorf("task %+v, want succeeded on the retry after a panic", info)
	}
	if !log.contains("panicked") {
		t.Errorf("no log line for the panic: %s", log.String())
	}
}

func TestClose(t *testing.T) {
	started := make(chan struct{})
	r := engine.New(engine.Options{}, func(ctx context.Context, a engine.Attempt[string]) engine.Outcome {
		close(started)
		<-ctx.Done()
		return engine.Outcome{Err: ctx.Err()}
	})
	if _, err := r.Add(engine.Task[string]{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	<-started
	r.Close() // returns only once the attempt in flight has seen its context end
	if _, err := r.Add(engine.Task[string]{Name: "u"}); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Add after Close: %v, want ErrClosed", err)
	}
	if info, _ := r.Get("t"); info.State != engine.Pending {
		t.Errorf("task cut short by Close: %v, want pending", info.State)
	}
	r.Close() // idempotent
}
