package taskqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers Cloud Tasks adds to the request of an HTTP target task
// (https://cloud.google.com/tasks/docs/creating-http-target-tasks, and
// https://firebase.google.com/docs/reference/functions/firebase-functions.tasks.taskcontext
// which says where each of its fields comes from).
const (
	HeaderQueueName        = "X-CloudTasks-QueueName"
	HeaderTaskName         = "X-CloudTasks-TaskName"
	HeaderRetryCount       = "X-CloudTasks-TaskRetryCount"
	HeaderExecutionCount   = "X-CloudTasks-TaskExecutionCount"
	HeaderETA              = "X-CloudTasks-TaskETA"
	HeaderPreviousResponse = "X-CloudTasks-TaskPreviousResponse"
	HeaderRetryReason      = "X-CloudTasks-TaskRetryReason"
)

// Delivery is one attempt at a task, as Cloud Tasks tells its handler.
type Delivery struct {
	// Queue is the short queue ID.
	Queue string
	// Name is the task's ID: Task.Name.
	Name string
	// Body is Task.Body.
	Body []byte
	// RetryCount counts the earlier attempts, those that failed before
	// reaching the handler included: 0 on the first attempt.
	RetryCount int
	// ExecutionCount counts the earlier attempts that got a response
	// other than 5xx from the handler.
	ExecutionCount int
	// ETA is the time the attempt was scheduled for.
	ETA time.Time
	// PreviousResponse is the HTTP status of the previous attempt; 0 on
	// the first attempt or when it got no response.
	PreviousResponse int
	// RetryReason says why this is a retry; "" on the first attempt.
	RetryReason string
}

// FirstAttempt reports whether no attempt at the task came before.
func (d Delivery) FirstAttempt() bool { return d.RetryCount == 0 }

// Headers returns the Cloud Tasks headers that carry d, as a queue sets
// them on its request.
func (d Delivery) Headers() http.Header {
	h := http.Header{}
	h.Set(HeaderQueueName, d.Queue)
	h.Set(HeaderTaskName, d.Name)
	h.Set(HeaderRetryCount, strconv.Itoa(d.RetryCount))
	h.Set(HeaderExecutionCount, strconv.Itoa(d.ExecutionCount))
	if !d.ETA.IsZero() {
		// Seconds since the epoch, with the microseconds Cloud Tasks
		// keeps of a schedule time.
		us := d.ETA.UnixMicro()
		h.Set(HeaderETA, fmt.Sprintf("%d.%06d", us/1e6, us%1e6))
	}
	if d.PreviousResponse != 0 {
		h.Set(HeaderPreviousResponse, strconv.Itoa(d.PreviousResponse))
	}
	if d.RetryReason != "" {
		h.Set(HeaderRetryReason, d.RetryReason)
	}
	return h
}

// ErrBadDelivery is returned by ParseDelivery for a request that is not
// a well-formed delivery of a task.
var ErrBadDelivery = errors.New("taskqueue: bad delivery")

// maxRequestBody bounds a delivery's body: a task's body, with room to
// spare for a queue that pads it.
const maxRequestBody = 2 * MaxBodyLen

// ParseDelivery reads the delivery a request carries: a POST of a JSON
// body with the Cloud Tasks headers.
func ParseDelivery(r *http.Request) (Delivery, error) {
	d := Delivery{
		Queue:       r.Header.Get(HeaderQueueName),
		Name:        r.Header.Get(HeaderTaskName),
		RetryReason: r.Header.Get(HeaderRetryReason),
	}
	if d.Queue == "" || d.Name == "" {
		return d, fmt.Errorf("%w: no %s or %s header", ErrBadDelivery, HeaderQueueName, HeaderTaskName)
	}
	ints := []struct {
		header string
		v      *int
	}{
		{HeaderRetryCount, &d.RetryCount},
		{HeaderExecutionCount, &d.ExecutionCount},
		{HeaderPreviousResponse, &d.PreviousResponse},
	}
	for _, f := range ints {
		s := r.Header.Get(f.header)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return d, fmt.Errorf("%w: %s %q", ErrBadDelivery, f.header, s)
		}
		*f.v = n
	}
	if s := r.Header.Get(HeaderETA); s != "" {
		eta, err := parseETA(s)
		if err != nil {
			return d, fmt.Errorf("%w: %s %q", ErrBadDelivery, HeaderETA, s)
		}
		d.ETA = eta
	}
	return d, nil
}

// parseETA reads seconds since the epoch, with or without a fraction.
// It splits the fraction off rather than parse a float, which would lose
// the microseconds.
func parseETA(s string) (time.Time, error) {
	bad := errors.New("not seconds since the epoch")
	whole, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec < 0 || sec > 1e11 || len(frac) > 9 {
		return time.Time{}, bad
	}
	var ns int64
	if frac != "" {
		n, err := strconv.ParseUint(frac, 10, 64)
		if err != nil {
			return time.Time{}, bad
		}
		ns = int64(n)
		for range 9 - len(frac) {
			ns *= 10
		}
	}
	return time.Unix(sec, ns).UTC(), nil
}

// permanent marks an error that retrying will not cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that no retry will cure, such as a body the
// handler cannot read: Consumer then acknowledges the delivery, so Cloud
// Tasks drops the task, and logs it as an error.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// Consumer returns the HTTP handler a queue delivers tasks to. It reads
// the delivery and calls handle:
//   - nil → 200: the task is done;
//   - an error → 503 and a short body: Cloud Tasks retries any status
//     other than 2xx, with the queue's backoff (and more slowly on 503,
//     https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks#HttpRequest);
//   - an error marked Permanent → 200 and an ERROR log line: retrying
//     would not help, and only a 2xx stops the retries;
//   - a panic → 500 and an ERROR log line.
//
// A request that is not a delivery gets a 4xx and a WARN line, and never
// reaches handle: 405 for a method other than POST, 415 for a body that
// is not JSON, 413 for a body too large, 400 without the task headers or
// with malformed ones. Bodies are never logged: they may carry personal
// data.
//
// Put gcpauth.Require in front of it: anyone who can reach it can forge the
// headers.
func Consumer(handle func(ctx context.Context, d Delivery) error, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &consumer{handle: handle, log: log}
}

type consumer struct {
	handle func(context.Context, Delivery) error
	log    *slog.Logger
}

func (c *consumer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d, status, err := c.read(w, r)
	if err != nil {
		c.log.Warn("work: request refused", "status", status, "error", err,
			"task", d.Name, "queue", d.Queue, "method", r.Method)
		http.Error(w, http.StatusText(status), status)
		return
	}
	log := c.log.With("task", d.Name, "queue", d.Queue, "retry_count", d.RetryCount)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.Error("work: task handler panicked", "panic", fmt.Sprint(v))
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	switch err := c.handle(r.Context(), d); {
	case err == nil:
		w.WriteHeader(http.StatusOK)
	case IsPermanent(err):
		log.Error("work: task dropped, its error is permanent", "error", err)
		w.WriteHeader(http.StatusOK)
	default:
		log.Warn("work: task failed, to be retried", "error", err)
		http.Error(w, "retry later", http.StatusServiceUnavailable)
	}
}

// read checks the request and returns the delivery, or the status to
// refuse it with.
func (c *consumer) read(w http.ResponseWriter, r *http.Request) (Delivery, int, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return Delivery{}, http.StatusMethodNotAllowed, errors.New("method not allowed")
	}
	d, err := ParseDelivery(r)
	if err != nil {
		return d, http.StatusBadRequest, err
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return d, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q, want application/json", r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return d, http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes", maxRequestBody)
		}
		return d, http.StatusBadRequest, fmt.Errorf("reading body: %w", err)
	}
	if !json.Valid(body) {
		return d, http.StatusBadRequest, errors.New("body is not JSON")
	}
	d.Body = body
	return d, 0, nil
}
