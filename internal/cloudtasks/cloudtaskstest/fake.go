// Package cloudtaskstest is an in-process fake of Google Cloud Tasks, for
// tests and local runs: Google ships no emulator. It serves the Cloud
// Tasks v2 gRPC API (what the Go client calls) for HTTP target tasks and
// dispatches them over HTTP at their schedule time, with the headers and
// the OIDC token Cloud Tasks sends, retrying failures with the queue's
// retry config under its rate limits.
//
// It models what the product uses: CreateTask with a named POST
// HttpRequest and an OidcToken, and GetTask, DeleteTask and ListTasks for
// tests. Every other method answers codes.Unimplemented; an App Engine
// task, another HTTP method, an OAuth token or a task-level retry config
// is refused with codes.Unimplemented naming it.
//
// Differences from Cloud Tasks: queues are configured on the fake, not
// created through the API; durations are not truncated to seconds; the
// ID token is signed with HS256 and a shared secret (TokenValidator), not
// by Google; 3xx responses are failures rather than followed; no system
// throttling beyond Retry-After.
package cloudtaskstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc"

	"github.com/experthub/experthub/internal/gcpauth"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/taskqueue/engine"
)

// The environment variables that point a process at a running fake.
const (
	// EnvHost holds the fake's gRPC address, host:port.
	EnvHost = "CLOUD_TASKS_EMULATOR_HOST"
	// EnvSecret holds the secret the fake signs its ID tokens with.
	EnvSecret = "CLOUD_TASKS_EMULATOR_SECRET"
)

// DefaultQueue is the queue a fake has when none is configured.
const DefaultQueue = "projects/local/locations/local/queues/expert-hub-work"

// Queue is a queue the fake has, with its settings.
type Queue struct {
	// Name is projects/PROJECT/locations/LOCATION/queues/QUEUE.
	Name  string
	Retry engine.RetryConfig
	Rate  engine.RateLimits
}

// Options configures a fake.
type Options struct {
	// Addr is where to listen; "" means 127.0.0.1:0.
	Addr string
	// Queues are the queues that exist; none means DefaultQueue with
	// default settings.
	Queues []Queue
	// Secret signs the ID tokens; "" means a random one (see Secret).
	Secret string
	// RequireOIDC refuses tasks without an oidc_token.
	RequireOIDC bool
	// DedupeWindow is how long a name stays reserved after its task
	// finished or was deleted; 0 means an hour, as Cloud Tasks.
	DedupeWindow time.Duration
	// DispatchDeadline, if set, bounds every attempt, shortening a
	// task's own dispatch_deadline, so tests can time out fast. Unset, a
	// task's deadline is its dispatch_deadline, or ten minutes.
	DispatchDeadline time.Duration
	// HTTPClient dispatches; nil means a client of its own.
	HTTPClient *http.Client
	// Logger receives a line per attempt; nil discards.
	Logger *slog.Logger
}

// Fake is a running fake. Its methods are safe for concurrent use.
type Fake struct {
	opts   Options
	log    *slog.Logger
	client *http.Client
	lis    net.Listener
	srv    *grpc.Server
	queues map[string]*queue
	stop   func() bool
	closed sync.Once
}

type queue struct {
	name string
	id   string // the short queue ID
	r    *engine.Runner[request]
}

// request is what a task asks to be sent.
type request struct {
	url      string
	headers  map[string]string
	body     []byte
	email    string // OIDC service account; "" for no token
	audience string
}

var queueName = regexp.MustCompile(`^projects/[A-Za-z0-9:.-]+/locations/[A-Za-z0-9-]+/queues/([A-Za-z0-9-]{1,100})$`)

// Start starts a fake listening on opts.Addr; it stops on Close or when
// ctx is done.
func Start(ctx context.Context, opts Options) (*Fake, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if len(opts.Queues) == 0 {
		opts.Queues = []Queue{{Name: DefaultQueue}}
	}
	if opts.Secret == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // never fails
		opts.Secret = hex.EncodeToString(b)
	}
	f := &Fake{opts: opts, log: opts.Logger, client: opts.HTTPClient, queues: map[string]*queue{}}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.client == nil {
		f.client = &http.Client{
			// Cloud Tasks follows redirects; the fake counts them as
			// failures rather than turn a POST into a GET.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	for _, q := range opts.Queues {
		m := queueName.FindStringSubmatch(q.Name)
		if m == nil {
			f.closeQueues()
			return nil, fmt.Errorf("cloudtaskstest: queue name %q is not projects/P/locations/L/queues/Q", q.Name)
		}
		if _, dup := f.queues[q.Name]; dup {
			f.closeQueues()
			return nil, fmt.Errorf("cloudtaskstest: queue %q configured twice", q.Name)
		}
		fq := &queue{name: q.Name, id: m[1]}
		fq.r = engine.New(engine.Options{
			Retry:        q.Retry,
			Rate:         q.Rate,
			DedupeWindow: opts.DedupeWindow,
			Deadline:     engine.DefaultDeadline,
			Logger:       f.log,
		}, func(ctx context.Context, a engine.Attempt[request]) engine.Outcome {
			return f.send(ctx, fq, a)
		})
		f.queues[q.Name] = fq
	}
	lis, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		f.closeQueues()
		return nil, fmt.Errorf("cloudtaskstest: %w", err)
	}
	f.lis = lis
	f.srv = grpc.NewServer()
	cloudtaskspb.RegisterCloudTasksServer(f.srv, &server{f: f})
	go func() { _ = f.srv.Serve(lis) }()
	f.stop = context.AfterFunc(ctx, func() { _ = f.Close() })
	return f, nil
}

// Addr returns the host:port the fake serves gRPC on.
func (f *Fake) Addr() string { return f.lis.Addr().String() }

// Secret returns the secret the fake signs its ID tokens with.
func (f *Fake) Secret() string { return f.opts.Secret }

// Validator returns a validator of the fake's ID tokens.
func (f *Fake) Validator() gcpauth.Validator { return TokenValidator{Secret: f.opts.Secret} }

// Close stops serving and dispatching; attempts in flight are cancelled.
func (f *Fake) Close() error {
	f.closed.Do(func() {
		f.stop()
		f.srv.Stop()
		f.closeQueues()
	})
	return nil
}

func (f *Fake) closeQueues() {
	for _, q := range f.queues {
		q.r.Close()
	}
}

// WaitIdle waits until every task of every queue has succeeded, been
// dropped or been deleted.
func (f *Fake) WaitIdle(ctx context.Context) error {
	for _, q := range f.queues {
		if err := q.r.WaitIdle(ctx); err != nil {
			return err
		}
	}
	// A queue idle when waited for may have been given a task since by a
	// handler of another: check again.
	for _, q := range f.queues {
		if q.r.WaitIdle(doneContext) != nil {
			return f.WaitIdle(ctx)
		}
	}
	return nil
}

// doneContext is a context that is already done.
var doneContext = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// TaskInfo describes a task, as tests look at it.
type TaskInfo struct {
	Name         string // projects/…/queues/Q/tasks/ID
	Queue        string
	URL          string
	Body         []byte
	State        engine.State
	CreateTime   time.Time
	ScheduleTime time.Time
	Attempts     int // dispatched attempts
	Responses    int // attempts that got a response
	LastStatus   int // HTTP status of the last response, 0 if none
	LastError    string
}

// Tasks returns every task the fake knows, finished ones included while
// their name is reserved, sorted by name.
func (f *Fake) Tasks() []TaskInfo {
	var out []TaskInfo
	for _, name := range slices.Sorted(maps.Keys(f.queues)) {
		q := f.queues[name]
		for _, i := range q.r.Tasks() {
			out = append(out, taskInfo(q, i))
		}
	}
	return out
}

// Task returns the task of that full name, finished or not, while its
// name is reserved.
func (f *Fake) Task(name string) (TaskInfo, bool) {
	q, _, ok := strings.Cut(name, "/tasks/")
	if !ok || f.queues[q] == nil {
		return TaskInfo{}, false
	}
	i, ok := f.queues[q].r.Get(name)
	if !ok {
		return TaskInfo{}, false
	}
	return taskInfo(f.queues[q], i), true
}

// Dropped returns the tasks given up after their retries were exhausted.
func (f *Fake) Dropped() []TaskInfo {
	var out []TaskInfo
	for _, t := range f.Tasks() {
		if t.State == engine.Dropped {
			out = append(out, t)
		}
	}
	return out
}

func taskInfo(q *queue, i engine.Info[request]) TaskInfo {
	return TaskInfo{
		Name:         i.Name,
		Queue:        q.name,
		URL:          i.Payload.url,
		Body:         bytes.Clone(i.Payload.body),
		State:        i.State,
		CreateTime:   i.CreateTime,
		ScheduleTime: i.ScheduleTime,
		Attempts:     i.Attempts,
		Responses:    i.Responses,
		LastStatus:   i.LastStatus,
		LastError:    i.LastError,
	}
}

// send makes one attempt: the task's request, with the headers Cloud
// Tasks adds and the ID token of its OidcToken.
func (f *Fake) send(ctx context.Context, q *queue, a engine.Attempt[request]) engine.Outcome {
	p := a.Payload
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.body))
	if err != nil {
		return engine.Outcome{Err: err}
	}
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	_, id, _ := strings.Cut(a.Name, "/tasks/")
	for k, v := range (taskqueue.Delivery{
		Queue:            q.id,
		Name:             id,
		RetryCount:       a.RetryCount,
		ExecutionCount:   a.ExecutionCount,
		ETA:              a.ScheduleTime,
		PreviousResponse: a.PreviousResponse,
		RetryReason:      a.RetryReason,
	}).Headers() {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "Google-Cloud-Tasks")
	if p.email != "" {
		req.Header.Set("Authorization", "Bearer "+mint(f.opts.Secret, p.email, p.audience, time.Now()))
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.log.Info("cloudtaskstest: attempt got no response", "task", id, "retry_count", a.RetryCount, "error", err)
		return engine.Outcome{Err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	f.log.Info("cloudtaskstest: attempt", "task", id, "retry_count", a.RetryCount, "status", resp.StatusCode)
	out := engine.Outcome{Status: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		out.RetryAfter = time.Duration(s) * time.Second
	}
	return out
}
