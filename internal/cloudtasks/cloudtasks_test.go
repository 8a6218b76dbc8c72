package cloudtasks_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ctapi "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/experthub/experthub/internal/cloudtasks"
	"github.com/experthub/experthub/internal/cloudtasks/cloudtaskstest"
	"github.com/experthub/experthub/internal/gcpauth"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/taskqueue/engine"
)

const (
	queue   = cloudtaskstest.DefaultQueue
	account = "tasks-invoker@local.iam.gserviceaccount.com"
)

type env struct {
	fake   *cloudtaskstest.Fake
	url    string
	q      *cloudtasks.Queue
	client *ctapi.Client

	mu         sync.Mutex
	deliveries []taskqueue.Delivery
	fail       int
}

// start runs a fake, a consumer behind the OIDC gate as in production,
// and a Queue pointed at both.
func start(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	f, err := cloudtaskstest.Start(ctx, cloudtaskstest.Options{
		RequireOIDC: true,
		Queues: []cloudtaskstest.Queue{{Name: queue, Retry: engine.RetryConfig{
			MaxAttempts: 5, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxDoublings: 2,
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	e := &env{fake: f}
	srv := httptest.NewUnstartedServer(nil)
	e.url = "http://" + srv.Listener.Addr().String() + "/work"
	srv.Config.Handler = gcpauth.Require(gcpauth.Caller{Validator: f.Validator(), Audience: e.url, Account: account}, taskqueue.Consumer(e.handle, nil), nil)
	srv.Start()
	t.Cleanup(srv.Close)
	e.q = cloudtasks.New(cloudtasks.Config{Queue: queue, TargetURL: e.url, ServiceAccount: account, Endpoint: f.Addr()})
	t.Cleanup(func() { _ = e.q.Close() })
	e.client, err = ctapi.NewClient(ctx, option.WithEndpoint(f.Addr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.client.Close() })
	return e
}

func (e *env) handle(_ context.Context, d taskqueue.Delivery) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.deliveries = append(e.deliveries, d)
	if e.fail > 0 {
		e.fail--
		return errors.New("not yet")
	}
	return nil
}

func (e *env) delivered() []taskqueue.Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]taskqueue.Delivery(nil), e.deliveries...)
}

func (e *env) waitIdle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.fake.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestEnqueueCreatesTheTask(t *testing.T) {
	e := start(t)
	at := time.Now().Add(time.Hour)
	body := []byte(`{"message":"IM1"}`)
	if err := e.q.Enqueue(context.Background(), taskqueue.Task{Name: "turn-IM1", Body: body, At: at}); err != nil {
		t.Fatal(err)
	}
	task, err := e.client.GetTask(context.Background(), &cloudtaskspb.GetTaskRequest{
		Name: queue + "/tasks/turn-IM1", ResponseView: cloudtaskspb.Task_FULL,
	})
	if err != nil {
		t.Fatal(err)
	}
	hr := task.GetHttpRequest()
	checks := []struct {
		what      string
		got, want any
	}{
		{"url", hr.GetUrl(), e.url},
		{"method", hr.GetHttpMethod(), cloudtaskspb.HttpMethod_POST},
		{"content type", hr.GetHeaders()["Content-Type"], "application/json"},
		{"body", string(hr.GetBody()), string(body)},
		{"token account", hr.GetOidcToken().GetServiceAccountEmail(), account},
		{"token audience", hr.GetOidcToken().GetAudience(), e.url},
		{"schedule time", task.GetScheduleTime().AsTime(), at.Truncate(time.Microsecond).UTC()},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestEnqueueDeliversOnce(t *testing.T) {
	e := start(t)
	e.fail = 2
	ctx := context.Background()
	task := taskqueue.Task{Name: taskqueue.TaskID("welcome", "CH1"), Body: []byte(`{"conversation":"CH1"}`)}
	for range 3 {
		if err := e.q.Enqueue(ctx, task); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
	}
	e.waitIdle(t)
	// A duplicate after execution, within the window, is no error either.
	if err := e.q.Enqueue(ctx, task); err != nil {
		t.Fatalf("Enqueue after execution: %v", err)
	}
	e.waitIdle(t)
	got := e.delivered()
	if len(got) != 3 {
		t.Fatalf("%d deliveries, want 3 (one task, delivered after 2 failures)", len(got))
	}
	if last := got[2]; last.Name != "welcome-CH1" || last.RetryCount != 2 || string(last.Body) != `{"conversation":"CH1"}` {
		t.Errorf("last delivery %+v", last)
	}
}

func TestEnqueueErrors(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	if err := e.q.Enqueue(ctx, taskqueue.Task{Name: "a/b"}); !errors.Is(err, taskqueue.ErrInvalidTask) {
		t.Errorf("invalid task: %v, want ErrInvalidTask", err)
	}

	other := cloudtasks.New(cloudtasks.Config{
		Queue: "projects/local/locations/local/queues/missing", TargetURL: e.url, ServiceAccount: account, Endpoint: e.fake.Addr(),
	})
	defer other.Close()
	err := other.Enqueue(ctx, taskqueue.Task{Name: "t", Body: []byte(`{}`)})
	if status.Code(err) != codes.NotFound || !strings.HasPrefix(err.Error(), "cloudtasks: create task t: ") {
		t.Errorf("unknown queue: %v, want a wrapped NotFound", err)
	}

	for _, cfg := range []cloudtasks.Config{
		{Queue: "expert-hub-work", TargetURL: e.url, ServiceAccount: account},
		{Queue: queue, TargetURL: "/work", ServiceAccount: account},
		{Queue: queue, TargetURL: e.url},
		{Queue: queue, TargetURL: e.url, ServiceAccount: account, DispatchDeadline: time.Second},
	} {
		cfg.Endpoint = e.fake.Addr()
		if err := cloudtasks.New(cfg).Enqueue(ctx, taskqueue.Task{Name: "t", Body: []byte(`{}`)}); err == nil {
			t.Errorf("Enqueue with config %+v succeeded", cfg)
		}
	}
}

func TestConcurrentEnqueue(t *testing.T) {
	e := start(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			errs <- e.q.Enqueue(context.Background(), taskqueue.Task{Name: fmt.Sprint("t", i%10), Body: []byte(`{}`)})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	e.waitIdle(t)
	if n := len(e.delivered()); n != 10 {
		t.Errorf("%d deliveries of 10 distinct tasks enqueued twice each", n)
	}
}

// flaky answers CreateTask with the codes it is given, then OK.
type flaky struct {
	cloudtaskspb.UnimplementedCloudTasksServer
	codes []codes.Code
	calls atomic.Int32
}

func (f *flaky) CreateTask(_ context.Context, req *cloudtaskspb.CreateTaskRequest) (*cloudtaskspb.Task, error) {
	n := int(f.calls.Add(1))
	if n <= len(f.codes) {
		return nil, status.Error(f.codes[n-1], "injected")
	}
	return req.GetTask(), nil
}

func TestEnqueueRetriesUnavailable(t *testing.T) {
	tests := []struct {
		name  string
		codes []codes.Code
		calls int32
		ok    bool
	}{
		{"unavailable twice", []codes.Code{codes.Unavailable, codes.Unavailable}, 3, true},
		{"already exists", []codes.Code{codes.AlreadyExists}, 1, true},
		{"invalid argument is not retried", []codes.Code{codes.InvalidArgument}, 1, false},
		{"permission denied is not retried", []codes.Code{codes.PermissionDenied}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := grpc.NewServer()
			f := &flaky{codes: tt.codes}
			cloudtaskspb.RegisterCloudTasksServer(srv, f)
			go func() { _ = srv.Serve(lis) }()
			defer srv.Stop()
			q := cloudtasks.New(cloudtasks.Config{Queue: queue, TargetURL: "https://x/work", ServiceAccount: account, Endpoint: lis.Addr().String()})
			defer q.Close()
			err = q.Enqueue(context.Background(), taskqueue.Task{Name: "t", Body: []byte(`{}`)})
			if (err == nil) != tt.ok {
				t.Errorf("Enqueue: %v, want ok %v", err, tt.ok)
			}
			if n := f.calls.Load(); n != tt.calls {
				t.Errorf("%d CreateTask calls, want %d", n, tt.calls)
			}
		})
	}
}

// TestDelete: a deleted task is not delivered and its name stays taken;
// deleting a task that ran, or never was, is no error.
func TestDelete(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	task := taskqueue.Task{Name: "turn-IM1", Body: []byte(`{}`), At: time.Now().Add(100 * time.Millisecond)}
	if err := e.q.Enqueue(ctx, task); err != nil {
		t.Fatal(err)
	}
	if err := e.q.Delete(ctx, task.Name); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := e.q.Enqueue(ctx, task); err != nil {
		t.Fatalf("Enqueue after Delete: %v, want nil (the name is still taken)", err)
	}
	ran := taskqueue.Task{Name: "turn-IM2", Body: []byte(`{}`)}
	if err := e.q.Enqueue(ctx, ran); err != nil {
		t.Fatal(err)
	}
	e.waitIdle(t)
	for _, d := range e.delivered() {
		if d.Name == task.Name {
			t.Errorf("the deleted task was delivered: %+v", d)
		}
	}
	for _, name := range []string{ran.Name, "never-enqueued"} {
		if err := e.q.Delete(ctx, name); err != nil {
			t.Errorf("Delete(%s): %v, want nil", name, err)
		}
	}
}
