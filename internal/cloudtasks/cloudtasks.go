// Package cloudtasks is the taskqueue.Queue of production: Google Cloud Tasks,
// delivering each task as an HTTP POST, with an OIDC token, to the
// function that consumes work.
package cloudtasks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sync"
	"time"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/experthub/experthub/internal/taskqueue"
)

// DefaultTimeout bounds an Enqueue, retries included, when Config sets
// none. The Go client's own default for CreateTask is 20 s; a webhook
// enqueuing cannot wait that long.
const DefaultTimeout = 10 * time.Second

// Config configures a Queue.
type Config struct {
	// Queue is projects/PROJECT/locations/LOCATION/queues/QUEUE.
	Queue string
	// TargetURL is the URL tasks are POSTed to: the work function's.
	TargetURL string
	// ServiceAccount is the identity of the OIDC token each delivery
	// carries. It must be in the queue's project, and the caller of
	// Enqueue needs iam.serviceAccounts.actAs on it
	// (https://cloud.google.com/tasks/docs/reference/rest/v2/OidcToken).
	ServiceAccount string
	// Audience is the token's audience; "" means TargetURL, as in Cloud
	// Tasks.
	Audience string
	// DispatchDeadline bounds each delivery, in [15s, 30m]; 0 leaves
	// Cloud Tasks' default of ten minutes. Keep it within the work
	// function's timeout.
	DispatchDeadline time.Duration
	// Endpoint, host:port, points the client at an emulator or fake,
	// reached by plain gRPC without credentials; "" means Google's.
	Endpoint string
	// Timeout bounds an Enqueue or a Delete; 0 means DefaultTimeout.
	Timeout time.Duration
}

var queueName = regexp.MustCompile(`^projects/[A-Za-z0-9:.-]+/locations/[A-Za-z0-9-]+/queues/[A-Za-z0-9-]{1,100}$`)

// Validate checks what Enqueue needs.
func (c Config) Validate() error {
	if !queueName.MatchString(c.Queue) {
		return fmt.Errorf("cloudtasks: queue %q is not projects/P/locations/L/queues/Q", c.Queue)
	}
	if u, err := url.Parse(c.TargetURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("cloudtasks: target URL %q is not an http(s) URL", c.TargetURL)
	}
	if c.ServiceAccount == "" {
		return errors.New("cloudtasks: no service account for the OIDC token")
	}
	if d := c.DispatchDeadline; d != 0 && (d < 15*time.Second || d > 30*time.Minute) {
		return fmt.Errorf("cloudtasks: dispatch deadline %v is outside [15s, 30m]", d)
	}
	return nil
}

// Queue puts tasks on a Cloud Tasks queue. Its client is made on the
// first Enqueue, so that a process that enqueues nothing needs no
// credentials. It is safe for concurrent use.
type Queue struct {
	cfg Config

	mu     sync.Mutex
	client *cloudtasks.Client
}

var _ taskqueue.Queue = (*Queue)(nil)

// New returns a Queue; cfg is checked by each Enqueue.
func New(cfg Config) *Queue {
	if cfg.Audience == "" {
		cfg.Audience = cfg.TargetURL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Queue{cfg: cfg}
}

// Enqueue creates the task, named Queue/tasks/t.Name. A task of that name
// that exists, or existed within the de-duplication window, is a success
// (see taskqueue.Queue): Cloud Tasks answers ALREADY_EXISTS
// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks/create).
// CreateTask is retried while the service is unavailable: the name makes
// a retry safe.
func (q *Queue) Enqueue(ctx context.Context, t taskqueue.Task) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return q.call(ctx, func(ctx context.Context, c *cloudtasks.Client) error {
		_, err := c.CreateTask(ctx, q.request(t), gax.WithRetry(func() gax.Retryer {
			return gax.OnCodes([]codes.Code{codes.Unavailable}, gax.Backoff{
				Initial:    100 * time.Millisecond,
				Max:        2 * time.Second,
				Multiplier: 2,
			})
		}))
		switch status.Code(err) {
		case codes.OK, codes.AlreadyExists:
			return nil
		}
		return fmt.Errorf("cloudtasks: create task %s: %w", t.Name, err)
	})
}

// Delete deletes the task Queue/tasks/name; see taskqueue.Queue. Cloud Tasks
// answers NOT_FOUND for a task that already ran or never existed
// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks/delete),
// which is no error here.
func (q *Queue) Delete(ctx context.Context, name string) error {
	return q.call(ctx, func(ctx context.Context, c *cloudtasks.Client) error {
		err := c.DeleteTask(ctx, &cloudtaskspb.DeleteTaskRequest{Name: q.cfg.Queue + "/tasks/" + name})
		switch status.Code(err) {
		case codes.OK, codes.NotFound:
			return nil
		}
		return fmt.Errorf("cloudtasks: delete task %s: %w", name, err)
	})
}

// call checks the configuration, connects, and runs fn with the client
// under the configured timeout.
func (q *Queue) call(ctx context.Context, fn func(context.Context, *cloudtasks.Client) error) error {
	if err := q.cfg.Validate(); err != nil {
		return err
	}
	c, err := q.connect(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, q.cfg.Timeout)
	defer cancel()
	return fn(ctx, c)
}

func (q *Queue) request(t taskqueue.Task) *cloudtaskspb.CreateTaskRequest {
	task := &cloudtaskspb.Task{
		Name: q.cfg.Queue + "/tasks/" + t.Name,
		MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: &cloudtaskspb.HttpRequest{
			Url:        q.cfg.TargetURL,
			HttpMethod: cloudtaskspb.HttpMethod_POST,
			// Cloud Tasks sets no Content-Type of its own.
			Headers: map[string]string{"Content-Type": "application/json"},
			Body:    t.Body,
			AuthorizationHeader: &cloudtaskspb.HttpRequest_OidcToken{OidcToken: &cloudtaskspb.OidcToken{
				ServiceAccountEmail: q.cfg.ServiceAccount,
				Audience:            q.cfg.Audience,
			}},
		}},
	}
	if !t.At.IsZero() {
		task.ScheduleTime = timestamppb.New(t.At)
	}
	if q.cfg.DispatchDeadline > 0 {
		task.DispatchDeadline = durationpb.New(q.cfg.DispatchDeadline)
	}
	return &cloudtaskspb.CreateTaskRequest{Parent: q.cfg.Queue, Task: task}
}

// connect returns the client, making it on first use. A failure is not
// kept: the next Enqueue tries again.
func (q *Queue) connect(ctx context.Context) (*cloudtasks.Client, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.client != nil {
		return q.client, nil
	}
	var opts []option.ClientOption
	if q.cfg.Endpoint != "" {
		opts = append(opts,
			option.WithEndpoint(q.cfg.Endpoint),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	// The client outlives this call: its context must not be the
	// request's.
	c, err := cloudtasks.NewClient(context.WithoutCancel(ctx), opts...)
	if err != nil {
		return nil, fmt.Errorf("cloudtasks: client: %w", err)
	}
	q.client = c
	return c, nil
}

// Close releases the client, if one was made.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.client == nil {
		return nil
	}
	err := q.client.Close()
	q.client = nil
	return err
}
