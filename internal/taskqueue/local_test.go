package taskqueue_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/taskqueue/engine"
)

// handler answers deliveries from a script of errors per task (then nil)
// and records them.
type handler struct {
	mu         sync.Mutex
	fail       map[string]int
	deliveries map[string][]taskqueue.Delivery
}

func (h *handler) handle(_ context.Context, d taskqueue.Delivery) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliveries[d.Name] = append(h.deliveries[d.Name], d)
	if h.fail[d.Name] > 0 {
		h.fail[d.Name]--
		return errors.New("not yet")
	}
	return nil
}

func (h *handler) of(name string) []taskqueue.Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]taskqueue.Delivery(nil), h.deliveries[name]...)
}

var fastRetry = engine.RetryConfig{MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxDoublings: 2}

func newLocal(t *testing.T, fail map[string]int) (*taskqueue.LocalQueue, *handler) {
	t.Helper()
	h := &handler{fail: fail, deliveries: map[string][]taskqueue.Delivery{}}
	q := taskqueue.NewLocal(taskqueue.Consumer(h.handle, nil), taskqueue.LocalOptions{Options: engine.Options{Retry: fastRetry}})
	t.Cleanup(func() { _ = q.Close() })
	return q, h
}

func waitIdle(t *testing.T, q *taskqueue.LocalQueue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := q.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
}

func TestLocalQueueRetriesUntilDelivered(t *testing.T) {
	q, h := newLocal(t, map[string]int{"turn-IM1": 2})
	body, _ := json.Marshal(map[string]string{"message": "IM1"})
	ctx := context.Background()
	if err := q.Enqueue(ctx, taskqueue.Task{Name: "turn-IM1", Body: body}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, q)
	got := h.of("turn-IM1")
	if len(got) != 3 {
		t.Fatalf("%d deliveries, want 3: delivered once after 2 failures", len(got))
	}
	for i, d := range got {
		if d.RetryCount != i || d.Queue != "local" || string(d.Body) != string(body) || d.ETA.IsZero() {
			t.Errorf("delivery %d: %+v", i, d)
		}
	}
	if got[2].PreviousResponse != 503 || got[2].RetryReason != "HTTP 503" {
		t.Errorf("retry told previous %d, reason %q; want the consumer's 503", got[2].PreviousResponse, got[2].RetryReason)
	}
	if n := q.Attempts("turn-IM1"); n != 3 {
		t.Errorf("Attempts = %d, want 3", n)
	}
}

func TestLocalQueueDeduplicates(t *testing.T) {
	q, h := newLocal(t, nil)
	ctx := context.Background()
	later := time.Now().Add(20 * time.Millisecond)
	for range 3 {
		if err := q.Enqueue(ctx, taskqueue.Task{Name: "welcome-CH1", Body: []byte(`{}`), At: later}); err != nil {
			t.Fatalf("Enqueue of a duplicate: %v, want nil", err)
		}
	}
	waitIdle(t, q)
	if err := q.Enqueue(ctx, taskqueue.Task{Name: "welcome-CH1", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("Enqueue after execution: %v, want nil", err)
	}
	waitIdle(t, q)
	got := h.of("welcome-CH1")
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want exactly 1", len(got))
	}
	if got[0].ETA.Before(later.Truncate(time.Microsecond)) {
		t.Errorf("delivered with ETA %v, before its schedule %v", got[0].ETA, later)
	}
}

func TestLocalQueueGivesUp(t *testing.T) {
	q, h := newLocal(t, map[string]int{"doomed": 100})
	if err := q.Enqueue(context.Background(), taskqueue.Task{Name: "doomed", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, q)
	if n := len(h.of("doomed")); n != fastRetry.MaxAttempts {
		t.Errorf("%d deliveries, want MaxAttempts = %d", n, fastRetry.MaxAttempts)
	}
}

func TestLocalQueueRefuses(t *testing.T) {
	q, _ := newLocal(t, nil)
	if err := q.Enqueue(context.Background(), taskqueue.Task{Name: "a/b"}); !errors.Is(err, taskqueue.ErrInvalidTask) {
		t.Errorf("invalid name: %v, want ErrInvalidTask", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Enqueue(ctx, taskqueue.Task{Name: "x", Body: []byte(`{}`)}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	_ = q.Close()
	if err := q.Enqueue(context.Background(), taskqueue.Task{Name: "y", Body: []byte(`{}`)}); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

func TestLocalQueueDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var mu sync.Mutex
	calls := 0
	hang := taskqueue.Consumer(func(ctx context.Context, d taskqueue.Delivery) error {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			<-release // a handler that ignores its context
		}
		return nil
	}, nil)
	retry := fastRetry
	retry.MaxAttempts = 20
	q := taskqueue.NewLocal(hang, taskqueue.LocalOptions{Options: engine.Options{Retry: retry, Deadline: 50 * time.Millisecond,
		Rate: engine.RateLimits{MaxConcurrentDispatches: 1}}})
	defer q.Close()
	if err := q.Enqueue(context.Background(), taskqueue.Task{Name: "hang", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// The hung attempt fails at its deadline and frees the only slot, so
	// the retry runs while the first handler is still stuck.
	waitIdle(t, q)
	if n := q.Attempts("hang"); n < 2 {
		t.Errorf("%d attempts, want a retry after the deadline", n)
	}
}

// TestLocalQueueDelete: a deleted task is not delivered and its name
// stays taken; deleting a task that ran, or never was, is no error.
func TestLocalQueueDelete(t *testing.T) {
	q, h := newLocal(t, nil)
	ctx := context.Background()
	later := time.Now().Add(50 * time.Millisecond)
	if err := q.Enqueue(ctx, taskqueue.Task{Name: "turn-IM1", Body: []byte(`{}`), At: later}); err != nil {
		t.Fatal(err)
	}
	if err := q.Delete(ctx, "turn-IM1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := q.Enqueue(ctx, taskqueue.Task{Name: "turn-IM1", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("Enqueue after Delete: %v, want nil (the name is still taken)", err)
	}
	if err := q.Enqueue(ctx, taskqueue.Task{Name: "turn-IM2", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, q)
	if got := h.of("turn-IM1"); len(got) != 0 {
		t.Errorf("%d deliveries of the deleted task, want 0", len(got))
	}
	for _, name := range []string{"turn-IM2", "never-enqueued"} {
		if err := q.Delete(ctx, name); err != nil {
			t.Errorf("Delete(%s): %v, want nil", name, err)
		}
	}
}
