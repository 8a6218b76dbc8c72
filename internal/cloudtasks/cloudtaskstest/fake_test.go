package cloudtaskstest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ctapi "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/experthub/experthub/internal/cloudtasks/cloudtaskstest"
	"github.com/experthub/experthub/internal/gcpauth"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/taskqueue/engine"
)

const (
	queue   = cloudtaskstest.DefaultQueue
	account = "tasks-invoker@local.iam.gserviceaccount.com"
)

var fastRetry = engine.RetryConfig{MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxDoublings: 2}

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

// consumer records the deliveries that pass the OIDC gate, failing the
// first fail[name] of each task.
type consumer struct {
	mu         sync.Mutex
	fail       map[string]int
	block      map[string]bool // wait for the context to end on the first attempt
	deliveries map[string][]taskqueue.Delivery
	inflight   atomic.Int32
	peak       atomic.Int32
}

func (c *consumer) handle(ctx context.Context, d taskqueue.Delivery) error {
	n := c.inflight.Add(1)
	defer c.inflight.Add(-1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	c.mu.Lock()
	c.deliveries[d.Name] = append(c.deliveries[d.Name], d)
	block := c.block[d.Name] && len(c.deliveries[d.Name]) == 1
	fail := c.fail[d.Name] > 0
	if fail {
		c.fail[d.Name]--
	}
	c.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	time.Sleep(time.Millisecond)
	if fail {
		return errors.New("not yet")
	}
	return nil
}

func (c *consumer) of(name string) []taskqueue.Delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]taskqueue.Delivery(nil), c.deliveries[name]...)
}

type env struct {
	fake    *cloudtaskstest.Fake
	url     string // the consumer's
	cons    *consumer
	client  *ctapi.Client
	authLog *logBuffer
}

// start runs a fake and a consumer behind the OIDC gate, as in
// production: only the fake's tokens for the consumer's URL and account
// get through.
func start(t *testing.T, opts cloudtaskstest.Options) *env {
	t.Helper()
	ctx := context.Background()
	if opts.Queues == nil {
		opts.Queues = []cloudtaskstest.Queue{{Name: queue, Retry: fastRetry}}
	}
	f, err := cloudtaskstest.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	e := &env{fake: f, authLog: &logBuffer{}, cons: &consumer{
		fail: map[string]int{}, block: map[string]bool{}, deliveries: map[string][]taskqueue.Delivery{},
	}}
	srv := httptest.NewUnstartedServer(nil)
	e.url = "http://" + srv.Listener.Addr().String() + "/work"
	log := slog.New(slog.NewTextHandler(e.authLog, nil))
	srv.Config.Handler = gcpauth.Require(gcpauth.Caller{Validator: f.Validator(), Audience: e.url, Account: account}, taskqueue.Consumer(e.cons.handle, log), log)
	srv.Start()
	t.Cleanup(srv.Close)
	e.client, err = ctapi.NewClient(ctx, option.WithEndpoint(f.Addr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.client.Close() })
	return e
}

// task is a valid task for the consumer, named id.
func (e *env) task(id string) *cloudtaskspb.Task {
	return &cloudtaskspb.Task{
		Name: queue + "/tasks/" + id,
		MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: &cloudtaskspb.HttpRequest{
			Url:        e.url,
			HttpMethod: cloudtaskspb.HttpMethod_POST,
			Headers:    map[string]string{"Content-Type": "application/json"},
			Body:       []byte(`{"id":"` + id + `"}`),
			AuthorizationHeader: &cloudtaskspb.HttpRequest_OidcToken{OidcToken: &cloudtaskspb.OidcToken{
				ServiceAccountEmail: account,
			}},
		}},
	}
}

func (e *env) create(t *testing.T, task *cloudtaskspb.Task) (*cloudtaskspb.Task, error) {
	t.Helper()
	return e.client.CreateTask(context.Background(), &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: task})
}

func (e *env) waitIdle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.fake.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
}

func TestDeliveredOnceAfterFailures(t *testing.T) {
	e := start(t, cloudtaskstest.Options{RequireOIDC: true})
	e.cons.fail["turn-IM1"] = 2
	if _, err := e.create(t, e.task("turn-IM1")); err != nil {
		t.Fatal(err)
	}
	e.waitIdle(t)

	got := e.cons.of("turn-IM1")
	if len(got) != 3 {
		t.Fatalf("%d deliveries, want 3: delivered once after 2 failures", len(got))
	}
	for i, d := range got {
		if d.Queue != "expert-hub-work" || d.Name != "turn-IM1" || d.RetryCount != i || string(d.Body) != `{"id":"turn-IM1"}` || d.ETA.IsZero() {
			t.Errorf("delivery %d: %+v", i, d)
		}
	}
	if d := got[2]; d.PreviousResponse != 503 || d.ExecutionCount != 0 || d.RetryReason == "" {
		t.Errorf("third delivery told previous %d, executions %d, reason %q; want 503, 0 (5xx are not executions), a reason",
			d.PreviousResponse, d.ExecutionCount, d.RetryReason)
	}
	info, ok := e.fake.Task(queue + "/tasks/turn-IM1")
	if !ok || info.State != engine.Succeeded || info.Attempts != 3 || info.Responses != 3 || info.LastStatus != 200 {
		t.Errorf("Task = %+v, %v; want succeeded after 3 attempts", info, ok)
	}
	if len(e.fake.Dropped()) != 0 {
		t.Errorf("Dropped = %+v, want none", e.fake.Dropped())
	}
}

func TestDuplicateNameRejected(t *testing.T) {
	e := start(t, cloudtaskstest.Options{})
	future := e.task("welcome-CH1")
	future.ScheduleTime = timestamppb.New(time.Now().Add(20 * time.Millisecond))
	if _, err := e.create(t, future); err != nil {
		t.Fatal(err)
	}
	// Pending.
	if _, err := e.create(t, e.task("welcome-CH1")); status.Code(err) != codes.AlreadyExists {
		t.Errorf("duplicate of a pending task: %v, want AlreadyExists", err)
	}
	e.waitIdle(t)
	// Executed, within the window.
	_, err := e.create(t, e.task("welcome-CH1"))
	if status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), "existed too recently") {
		t.Errorf("duplicate of an executed task: %v, want AlreadyExists", err)
	}
	e.waitIdle(t)
	if n := len(e.cons.of("welcome-CH1")); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}

	// The window is configurable: past it, the name is free.
	e2 := start(t, cloudtaskstest.Options{DedupeWindow: time.Nanosecond})
	for i := range 2 {
		if _, err := e2.create(t, e2.task("t")); err != nil {
			t.Fatalf("create %d with a window of 1ns: %v", i, err)
		}
		e2.waitIdle(t)
	}
}

func TestUnauthenticatedCallsRefused(t *testing.T) {
	e := start(t, cloudtaskstest.Options{})
	// A task whose token is for another audience, or another account, or
	// has no token at all, never reaches the consumer: every attempt is
	// refused until the task is dropped.
	wrongAudience := e.task("aud")
	wrongAudience.GetHttpRequest().GetOidcToken().Audience = "https://elsewhere.example/work"
	wrongAccount := e.task("acct")
	wrongAccount.GetHttpRequest().GetOidcToken().ServiceAccountEmail = "intruder@local.iam.gserviceaccount.com"
	noToken := e.task("none")
	noToken.GetHttpRequest().AuthorizationHeader = nil
	for _, task := range []*cloudtaskspb.Task{wrongAudience, wrongAccount, noToken} {
		if _, err := e.create(t, task); err != nil {
			t.Fatal(err)
		}
	}
	e.waitIdle(t)
	want := map[string]int{"aud": 401, "acct": 403, "none": 401}
	for _, info := range e.fake.Dropped() {
		id := info.Name[strings.LastIndex(info.Name, "/")+1:]
		if info.LastStatus != want[id] || info.Attempts != fastRetry.MaxAttempts {
			t.Errorf("task %s: %d attempts, last status %d; want %d refused with %d", id, info.Attempts, info.LastStatus, fastRetry.MaxAttempts, want[id])
		}
		delete(want, id)
		if n := len(e.cons.of(id)); n != 0 {
			t.Errorf("task %s reached the consumer %d times", id, n)
		}
	}
	if len(want) != 0 {
		t.Errorf("not dropped: %v", want)
	}

	// A direct call, forged headers and all, is refused too.
	req, _ := http.NewRequest("POST", e.url, strings.NewReader(`{}`))
	req.Header = taskqueue.Delivery{Queue: "expert-hub-work", Name: "forged"}.Headers()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+captureToken(t, "guess", e.url))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || len(e.cons.of("forged")) != 0 {
		t.Errorf("forged call: %d, want 401 and no delivery", resp.StatusCode)
	}
	if !strings.Contains(e.authLog.String(), "invalid ID token refused") {
		t.Errorf("refusals not logged: %s", e.authLog.String())
	}
}

// captureToken has a fake signing with secret deliver a task whose
// token is for audience, and returns that token.
func captureToken(t *testing.T, secret, audience string) string {
	t.Helper()
	f, err := cloudtaskstest.Start(context.Background(), cloudtaskstest.Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tokens := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case tokens <- strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "):
		default:
		}
	}))
	defer srv.Close()
	c, err := ctapi.NewClient(context.Background(), option.WithEndpoint(f.Addr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.CreateTask(context.Background(), &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: &cloudtaskspb.Task{
		MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: &cloudtaskspb.HttpRequest{
			Url: srv.URL,
			AuthorizationHeader: &cloudtaskspb.HttpRequest_OidcToken{OidcToken: &cloudtaskspb.OidcToken{
				ServiceAccountEmail: account,
				Audience:            audience,
			}},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case tok := <-tokens:
		return tok
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery")
		return ""
	}
}

func TestDispatchDeadline(t *testing.T) {
	retry := fastRetry
	retry.MaxAttempts = 20 // a busy machine may cut more attempts than the one that hangs
	e := start(t, cloudtaskstest.Options{
		DispatchDeadline: 200 * time.Millisecond,
		Queues:           []cloudtaskstest.Queue{{Name: queue, Retry: retry}},
	})
	e.cons.block["slow"] = true
	if _, err := e.create(t, e.task("slow")); err != nil {
		t.Fatal(err)
	}
	e.waitIdle(t)
	got := e.cons.of("slow")
	if len(got) < 2 {
		t.Fatalf("%d deliveries, want a retry after the deadline cut the first attempt", len(got))
	}
	if last := got[len(got)-1]; last.RetryReason != "DEADLINE_EXCEEDED" || last.RetryCount < 1 || last.PreviousResponse != 0 {
		t.Errorf("retry told reason %q, retry count %d, previous %d; want DEADLINE_EXCEEDED, no response",
			last.RetryReason, last.RetryCount, last.PreviousResponse)
	}
	if info, _ := e.fake.Task(queue + "/tasks/slow"); info.State != engine.Succeeded {
		t.Errorf("task %v, want succeeded on a retry", info.State)
	}
}

func TestConcurrencyCap(t *testing.T) {
	e := start(t, cloudtaskstest.Options{Queues: []cloudtaskstest.Queue{{
		Name:  queue,
		Retry: fastRetry,
		Rate:  engine.RateLimits{MaxConcurrentDispatches: 1, MaxDispatchesPerSecond: 500},
	}}})
	for i := range 5 {
		if _, err := e.create(t, e.task(fmt.Sprint("t", i))); err != nil {
			t.Fatal(err)
		}
	}
	e.waitIdle(t)
	if p := e.cons.peak.Load(); p != 1 {
		t.Errorf("peak of %d deliveries in flight, the queue allows 1", p)
	}
	for i := range 5 {
		if n := len(e.cons.of(fmt.Sprint("t", i))); n != 1 {
			t.Errorf("t%d delivered %d times", i, n)
		}
	}
}

func TestGetListDelete(t *testing.T) {
	e := start(t, cloudtaskstest.Options{})
	ctx := context.Background()
	later := timestamppb.New(time.Now().Add(time.Hour))
	for _, id := range []string{"b", "a", "c"} {
		task := e.task(id)
		task.ScheduleTime = later
		task.DispatchDeadline = durationpb.New(30 * time.Second)
		if _, err := e.create(t, task); err != nil {
			t.Fatal(err)
		}
	}
	name := queue + "/tasks/a"
	basic, err := e.client.GetTask(ctx, &cloudtaskspb.GetTaskRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	hr := basic.GetHttpRequest()
	if basic.GetName() != name || hr.GetUrl() != e.url || hr.GetBody() != nil || basic.GetView() != cloudtaskspb.Task_BASIC ||
		hr.GetOidcToken().GetAudience() != e.url || hr.GetOidcToken().GetServiceAccountEmail() != account ||
		!basic.GetScheduleTime().AsTime().Equal(later.AsTime().Truncate(time.Microsecond)) || basic.GetDispatchDeadline().AsDuration() != 30*time.Second ||
		hr.GetHeaders()["Content-Type"] != "application/json" {
		t.Errorf("GetTask BASIC = %v", basic)
	}
	full, err := e.client.GetTask(ctx, &cloudtaskspb.GetTaskRequest{Name: name, ResponseView: cloudtaskspb.Task_FULL})
	if err != nil || string(full.GetHttpRequest().GetBody()) != `{"id":"a"}` {
		t.Errorf("GetTask FULL = %v, %v; want the body", full, err)
	}

	page, next, err := e.client.ListTasks(ctx, &cloudtaskspb.ListTasksRequest{Parent: queue}).InternalFetch(2, "")
	if err != nil || len(page) != 2 || next == "" {
		t.Errorf("first page of 2: %d tasks, next %q, %v; want 2 and a next page", len(page), next, err)
	}
	var listed []string
	it := e.client.ListTasks(ctx, &cloudtaskspb.ListTasksRequest{Parent: queue, PageSize: 2})
	for {
		task, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, task.GetName()[len(queue)+len("/tasks/"):])
	}
	if strings.Join(listed, ",") != "a,b,c" {
		t.Errorf("listed %v, want a,b,c", listed)
	}

	if err := e.client.DeleteTask(ctx, &cloudtaskspb.DeleteTaskRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.GetTask(ctx, &cloudtaskspb.GetTaskRequest{Name: name}); status.Code(err) != codes.NotFound {
		t.Errorf("GetTask after delete: %v, want NotFound", err)
	}
	if err := e.client.DeleteTask(ctx, &cloudtaskspb.DeleteTaskRequest{Name: name}); status.Code(err) != codes.NotFound {
		t.Errorf("second DeleteTask: %v, want NotFound", err)
	}
	if _, err := e.create(t, e.task("a")); status.Code(err) != codes.AlreadyExists {
		t.Errorf("create after delete: %v, want AlreadyExists within the window", err)
	}
	if info, _ := e.fake.Task(name); info.State != engine.Deleted || info.Attempts != 0 {
		t.Errorf("deleted task %+v, want deleted, never attempted", info)
	}
}
