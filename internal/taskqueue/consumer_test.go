package taskqueue_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/taskqueue"
)

// logBuffer collects log lines safely from many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

func taskHeaders() map[string]string {
	return map[string]string{
		"Content-Type":                   "application/json",
		taskqueue.HeaderQueueName:        "expert-hub-work",
		taskqueue.HeaderTaskName:         "turn-IM1",
		taskqueue.HeaderRetryCount:       "2",
		taskqueue.HeaderExecutionCount:   "1",
		taskqueue.HeaderETA:              "1767225600.250000",
		taskqueue.HeaderPreviousResponse: "503",
		taskqueue.HeaderRetryReason:      "HTTP 503",
	}
}

func TestConsumer(t *testing.T) {
	errBoom := errors.New("strapi down")
	tests := []struct {
		name     string
		method   string
		headers  map[string]string // changes to taskHeaders; "" deletes
		body     string
		handle   error
		panics   bool
		status   int
		reached  bool
		logLevel string
	}{
		{name: "done", status: 200, reached: true},
		{name: "failed is retried", handle: errBoom, status: 503, reached: true, logLevel: "WARN"},
		{name: "permanent is dropped", handle: taskqueue.Permanent(errBoom), status: 200, reached: true, logLevel: "ERROR"},
		{name: "wrapped permanent", handle: errors.Join(errors.New("x"), taskqueue.Permanent(errBoom)), status: 200, reached: true, logLevel: "ERROR"},
		{name: "panic", panics: true, status: 500, reached: true, logLevel: "ERROR"},
		{name: "GET", method: "GET", status: 405, logLevel: "WARN"},
		{name: "no task name", headers: map[string]string{taskqueue.HeaderTaskName: ""}, status: 400, logLevel: "WARN"},
		{name: "no queue name", headers: map[string]string{taskqueue.HeaderQueueName: ""}, status: 400, logLevel: "WARN"},
		{name: "bad retry count", headers: map[string]string{taskqueue.HeaderRetryCount: "two"}, status: 400, logLevel: "WARN"},
		{name: "negative execution count", headers: map[string]string{taskqueue.HeaderExecutionCount: "-1"}, status: 400, logLevel: "WARN"},
		{name: "bad ETA", headers: map[string]string{taskqueue.HeaderETA: "tomorrow"}, status: 400, logLevel: "WARN"},
		{name: "text body", headers: map[string]string{"Content-Type": "text/plain"}, status: 415, logLevel: "WARN"},
		{name: "no content type", headers: map[string]string{"Content-Type": ""}, status: 415, logLevel: "WARN"},
		{name: "json with charset", headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, status: 200, reached: true},
		{name: "not JSON", body: `{"a":`, status: 400, logLevel: "WARN"},
		{name: "oversized", body: `"` + strings.Repeat("a", 2*taskqueue.MaxBodyLen) + `"`, status: 413, logLevel: "WARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log logBuffer
			var got *taskqueue.Delivery
			h := taskqueue.Consumer(func(ctx context.Context, d taskqueue.Delivery) error {
				got = &d
				if tt.panics {
					panic("nil map")
				}
				return tt.handle
			}, log.logger())
			method, body := cmpOr(tt.method, "POST"), cmpOr(tt.body, `{"conversation":"CH1"}`)
			req := httptest.NewRequest(method, "/", strings.NewReader(body))
			hdr := taskHeaders()
			for k, v := range tt.headers {
				hdr[k] = v
			}
			for k, v := range hdr {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tt.status {
				t.Errorf("status %d, want %d (%s)", rec.Code, tt.status, rec.Body)
			}
			if (got != nil) != tt.reached {
				t.Errorf("handle called: %v, want %v", got != nil, tt.reached)
			}
			if tt.logLevel != "" && !strings.Contains(log.String(), "level="+tt.logLevel) {
				t.Errorf("no %s log line: %q", tt.logLevel, log.String())
			}
			if tt.logLevel == "" && log.String() != "" {
				t.Errorf("unexpected log: %q", log.String())
			}
			if strings.Contains(log.String(), "CH1") {
				t.Errorf("body logged: %q", log.String())
			}
			if tt.status == 200 && got != nil {
				want := taskqueue.Delivery{
					Queue: "expert-hub-work", Name: "turn-IM1", Body: []byte(body),
					RetryCount: 2, ExecutionCount: 1, PreviousResponse: 503, RetryReason: "HTTP 503",
					ETA: time.Date(2026, 1, 1, 0, 0, 0, 250e6, time.UTC),
				}
				if !deliveryEqual(*got, want) {
					t.Errorf("delivery %+v, want %+v", *got, want)
				}
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func deliveryEqual(a, b taskqueue.Delivery) bool {
	return a.Queue == b.Queue && a.Name == b.Name && bytes.Equal(a.Body, b.Body) &&
		a.RetryCount == b.RetryCount && a.ExecutionCount == b.ExecutionCount &&
		a.ETA.Equal(b.ETA) && a.PreviousResponse == b.PreviousResponse && a.RetryReason == b.RetryReason
}

func TestDeliveryHeadersRoundTrip(t *testing.T) {
	for _, d := range []taskqueue.Delivery{
		{Queue: "q", Name: "first", ETA: time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)},
		{Queue: "q", Name: "retry", RetryCount: 4, ExecutionCount: 2, PreviousResponse: 404, RetryReason: "HTTP 404",
			ETA: time.Unix(1800000000, 0).UTC()},
		{Queue: "q", Name: "no-eta"},
	} {
		req := httptest.NewRequest("POST", "/", nil)
		req.Header = d.Headers()
		got, err := taskqueue.ParseDelivery(req)
		if err != nil {
			t.Fatalf("ParseDelivery(%+v.Headers()): %v", d, err)
		}
		if !deliveryEqual(got, d) {
			t.Errorf("round trip: %+v, want %+v", got, d)
		}
		if got.FirstAttempt() != (d.RetryCount == 0) {
			t.Errorf("FirstAttempt of %+v: %v", d, got.FirstAttempt())
		}
	}
	// Cloud Tasks may give the ETA in whole seconds.
	req := httptest.NewRequest("POST", "/", nil)
	req.Header = taskqueue.Delivery{Queue: "q", Name: "n"}.Headers()
	req.Header.Set(taskqueue.HeaderETA, "1800000000")
	if d, err := taskqueue.ParseDelivery(req); err != nil || !d.ETA.Equal(time.Unix(1800000000, 0)) {
		t.Errorf("ETA in whole seconds: %v, %v", d.ETA, err)
	}
}

func TestPermanent(t *testing.T) {
	if taskqueue.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	err := errors.New("bad body")
	p := taskqueue.Permanent(err)
	if !taskqueue.IsPermanent(p) || !errors.Is(p, err) || p.Error() != "bad body" {
		t.Errorf("Permanent(%v) = %v: IsPermanent %v, Is %v", err, p, taskqueue.IsPermanent(p), errors.Is(p, err))
	}
	if taskqueue.IsPermanent(err) || taskqueue.IsPermanent(nil) {
		t.Error("IsPermanent of an unmarked error")
	}
}

// A handler that aborts with http.ErrAbortHandler is let through, as
// net/http expects.
func TestConsumerLetsAbortThrough(t *testing.T) {
	h := taskqueue.Consumer(func(context.Context, taskqueue.Delivery) error { panic(http.ErrAbortHandler) }, nil)
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	for k, v := range taskHeaders() {
		req.Header.Set(k, v)
	}
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), req)
}
