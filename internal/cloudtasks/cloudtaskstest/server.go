package cloudtaskstest

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/experthub/experthub/internal/taskqueue/engine"
)

// Limits Cloud Tasks enforces on a task
// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks,
// https://cloud.google.com/tasks/docs/quotas).
const (
	maxURLLen       = 2083
	maxHeadersSize  = 80 << 10
	maxTaskSize     = 100 << 10 // CreateTask's reference; the quotas page says 1 MB
	maxScheduleAway = 30 * 24 * time.Hour
	minDeadline     = 15 * time.Second
	maxDeadline     = 30 * time.Minute
	maxPageSize     = 1000
)

var taskID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,500}$`)

// server implements the Cloud Tasks gRPC API over a Fake. The embedded
// Unimplemented server answers codes.Unimplemented for every method the
// product does not use.
type server struct {
	cloudtaskspb.UnimplementedCloudTasksServer
	f *Fake
}

func unsupported(what string) error {
	return status.Errorf(codes.Unimplemented, "cloudtaskstest: %s is not supported by the fake", what)
}

func (s *server) queue(name string) (*queue, error) {
	if queueName.FindStringSubmatch(name) == nil {
		return nil, status.Errorf(codes.InvalidArgument, "queue name %q is not projects/P/locations/L/queues/Q", name)
	}
	q := s.f.queues[name]
	if q == nil {
		return nil, status.Errorf(codes.NotFound, "queue %q does not exist", name)
	}
	return q, nil
}

// task finds the queue of a task name and checks the name's format.
func (s *server) task(name string) (*queue, error) {
	parent, id, ok := strings.Cut(name, "/tasks/")
	if !ok || !taskID.MatchString(id) {
		return nil, status.Errorf(codes.InvalidArgument, "task name %q is not projects/P/locations/L/queues/Q/tasks/T", name)
	}
	return s.queue(parent)
}

// CreateTask checks the task as Cloud Tasks does, and what the fake
// models, then schedules it. A name in use, or used within the
// de-duplication window, is AlreadyExists
// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks/create).
func (s *server) CreateTask(_ context.Context, req *cloudtaskspb.CreateTaskRequest) (*cloudtaskspb.Task, error) {
	q, err := s.queue(req.GetParent())
	if err != nil {
		return nil, err
	}
	t := req.GetTask()
	if t == nil {
		return nil, status.Error(codes.InvalidArgument, "task is required")
	}
	name, err := s.taskName(req.GetParent(), t.GetName())
	if err != nil {
		return nil, err
	}
	p, err := s.request(t)
	if err != nil {
		return nil, err
	}
	if t.GetRetryConfig() != nil {
		return nil, unsupported("a task-level retry_config")
	}
	if n := proto.Size(t); n > maxTaskSize {
		return nil, status.Errorf(codes.InvalidArgument, "task size %d bytes exceeds the maximum of %d", n, maxTaskSize)
	}
	now := time.Now()
	var at time.Time
	if st := t.GetScheduleTime(); st != nil {
		if err := st.CheckValid(); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "schedule_time: %v", err)
		}
		at = st.AsTime().Truncate(time.Microsecond)
		if at.After(now.Add(maxScheduleAway)) {
			return nil, status.Error(codes.InvalidArgument, "schedule_time is more than 30 days in the future")
		}
	}
	deadline, err := s.deadline(t.GetDispatchDeadline())
	if err != nil {
		return nil, err
	}
	info, err := q.r.Add(engine.Task[request]{Name: name, Payload: p, At: at, Deadline: deadline})
	if errors.Is(err, engine.ErrExists) {
		if info.State == engine.Pending || info.State == engine.Running {
			return nil, status.Errorf(codes.AlreadyExists, "Requested entity already exists: %s", name)
		}
		return nil, status.Errorf(codes.AlreadyExists,
			"The task cannot be created because a task with this name existed too recently: %s", name)
	}
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "cloudtaskstest: %v", err)
	}
	return toProto(info, req.GetResponseView()), nil
}

// taskName returns the task's full name: the one given, checked, or a
// generated one.
func (s *server) taskName(parent, name string) (string, error) {
	if name == "" {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
		return parent + "/tasks/" + n.String(), nil
	}
	p, id, ok := strings.Cut(name, "/tasks/")
	if !ok || !taskID.MatchString(id) {
		return "", status.Errorf(codes.InvalidArgument,
			"task name %q is not %s/tasks/TASK_ID with TASK_ID of [A-Za-z0-9_-], at most 500 characters", name, parent)
	}
	if p != parent {
		return "", status.Errorf(codes.InvalidArgument, "task name %q is not in the queue %q", name, parent)
	}
	return name, nil
}

// request checks the task's HttpRequest and returns what to send.
func (s *server) request(t *cloudtaskspb.Task) (request, error) {
	if t.GetAppEngineHttpRequest() != nil {
		return request{}, unsupported("an app_engine_http_request")
	}
	hr := t.GetHttpRequest()
	if hr == nil {
		return request{}, status.Error(codes.InvalidArgument, "task has no http_request")
	}
	u, err := url.Parse(hr.GetUrl())
	switch {
	case hr.GetUrl() == "":
		return request{}, status.Error(codes.InvalidArgument, "http_request.url is required")
	case len(hr.GetUrl()) > maxURLLen:
		return request{}, status.Errorf(codes.InvalidArgument, "http_request.url is longer than %d characters", maxURLLen)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return request{}, status.Errorf(codes.InvalidArgument, "http_request.url %q must start with http:// or https://", hr.GetUrl())
	}
	switch hr.GetHttpMethod() {
	case cloudtaskspb.HttpMethod_POST, cloudtaskspb.HttpMethod_HTTP_METHOD_UNSPECIFIED:
	default:
		return request{}, unsupported("http_method " + hr.GetHttpMethod().String())
	}
	if hr.GetOauthToken() != nil {
		return request{}, unsupported("an oauth_token")
	}
	p := request{url: hr.GetUrl(), body: hr.GetBody(), headers: map[string]string{}}
	size := 0
	for k, v := range hr.GetHeaders() {
		size += len(k) + len(v)
		if !reserved(k) {
			p.headers[k] = v
		}
	}
	if size >= maxHeadersSize {
		return request{}, status.Errorf(codes.InvalidArgument, "http_request.headers take %d bytes, the limit is 80 KB", size)
	}
	if o := hr.GetOidcToken(); o != nil {
		if o.GetServiceAccountEmail() == "" {
			return request{}, status.Error(codes.InvalidArgument, "oidc_token.service_account_email is required")
		}
		p.email, p.audience = o.GetServiceAccountEmail(), o.GetAudience()
		if p.audience == "" {
			p.audience = p.url // "If not specified, the URI specified in target will be used."
		}
	} else if s.f.opts.RequireOIDC {
		return request{}, status.Error(codes.InvalidArgument, "cloudtaskstest: this fake requires an oidc_token on every task")
	}
	return p, nil
}

// reserved reports whether Cloud Tasks computes, replaces or ignores a
// header the task sets
// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks#HttpRequest.FIELDS.headers).
func reserved(k string) bool {
	k = strings.ToLower(k)
	switch k {
	case "host", "content-length", "user-agent":
		return true
	}
	return strings.HasPrefix(k, "x-google-") || strings.HasPrefix(k, "x-appengine-") || strings.HasPrefix(k, "x-cloudtasks-")
}

// deadline returns an attempt's deadline: the task's dispatch_deadline,
// in Cloud Tasks' range for HTTP tasks, or its default; shortened to the
// fake's DispatchDeadline.
func (s *server) deadline(d *durationpb.Duration) (time.Duration, error) {
	deadline := engine.DefaultDeadline
	if d != nil {
		if err := d.CheckValid(); err != nil {
			return 0, status.Errorf(codes.InvalidArgument, "dispatch_deadline: %v", err)
		}
		deadline = d.AsDuration()
		if deadline < minDeadline || deadline > maxDeadline {
			return 0, status.Errorf(codes.InvalidArgument, "dispatch_deadline %v is outside [15s, 30m]", deadline)
		}
	}
	if c := s.f.opts.DispatchDeadline; c > 0 && c < deadline {
		deadline = c
	}
	return deadline, nil
}

// GetTask returns a pending or running task. A task that succeeded or was
// dropped is gone, as in Cloud Tasks, which deletes it.
func (s *server) GetTask(_ context.Context, req *cloudtaskspb.GetTaskRequest) (*cloudtaskspb.Task, error) {
	q, err := s.task(req.GetName())
	if err != nil {
		return nil, err
	}
	info, ok := q.r.Get(req.GetName())
	if !ok || (info.State != engine.Pending && info.State != engine.Running) {
		return nil, status.Errorf(codes.NotFound, "task %q does not exist", req.GetName())
	}
	return toProto(info, req.GetResponseView()), nil
}

// DeleteTask deletes a pending or running task; its name stays reserved.
func (s *server) DeleteTask(_ context.Context, req *cloudtaskspb.DeleteTaskRequest) (*emptypb.Empty, error) {
	q, err := s.task(req.GetName())
	if err != nil {
		return nil, err
	}
	if err := q.r.Delete(req.GetName()); err != nil {
		return nil, status.Errorf(codes.NotFound, "task %q does not exist", req.GetName())
	}
	return &emptypb.Empty{}, nil
}

// ListTasks lists a queue's pending and running tasks by name, a page at
// a time.
func (s *server) ListTasks(_ context.Context, req *cloudtaskspb.ListTasksRequest) (*cloudtaskspb.ListTasksResponse, error) {
	q, err := s.queue(req.GetParent())
	if err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	if size < 0 || size > maxPageSize {
		return nil, status.Errorf(codes.InvalidArgument, "page_size must be in [0, %d]", maxPageSize)
	}
	if size == 0 {
		size = maxPageSize
	}
	from := 0
	if tok := req.GetPageToken(); tok != "" {
		if from, err = strconv.Atoi(tok); err != nil || from < 0 {
			return nil, status.Error(codes.InvalidArgument, "invalid page_token")
		}
	}
	var live []*cloudtaskspb.Task
	for _, info := range q.r.Tasks() {
		if info.State == engine.Pending || info.State == engine.Running {
			live = append(live, toProto(info, req.GetResponseView()))
		}
	}
	resp := &cloudtaskspb.ListTasksResponse{}
	if from < len(live) {
		end := min(from+size, len(live))
		resp.Tasks = live[from:end]
		if end < len(live) {
			resp.NextPageToken = strconv.Itoa(end)
		}
	}
	return resp, nil
}

// toProto renders a task. The BASIC view, the default, leaves out the
// body, as Cloud Tasks does for payloads that may be large or sensitive.
func toProto(i engine.Info[request], view cloudtaskspb.Task_View) *cloudtaskspb.Task {
	if view == cloudtaskspb.Task_VIEW_UNSPECIFIED {
		view = cloudtaskspb.Task_BASIC
	}
	hr := &cloudtaskspb.HttpRequest{
		Url:        i.Payload.url,
		HttpMethod: cloudtaskspb.HttpMethod_POST,
		Headers:    make(map[string]string, len(i.Payload.headers)),
	}
	for k, v := range i.Payload.headers {
		hr.Headers[k] = v
	}
	if view == cloudtaskspb.Task_FULL {
		hr.Body = i.Payload.body
	}
	if i.Payload.email != "" {
		hr.AuthorizationHeader = &cloudtaskspb.HttpRequest_OidcToken{OidcToken: &cloudtaskspb.OidcToken{
			ServiceAccountEmail: i.Payload.email,
			Audience:            i.Payload.audience,
		}}
	}
	t := &cloudtaskspb.Task{
		Name:             i.Name,
		MessageType:      &cloudtaskspb.Task_HttpRequest{HttpRequest: hr},
		ScheduleTime:     timestamppb.New(i.ScheduleTime),
		CreateTime:       timestamppb.New(i.CreateTime.Truncate(time.Second)),
		DispatchDeadline: durationpb.New(i.Deadline),
		DispatchCount:    int32(i.Attempts),
		ResponseCount:    int32(i.Responses),
		View:             view,
	}
	if i.Attempts > 0 {
		t.FirstAttempt = &cloudtaskspb.Attempt{DispatchTime: timestamppb.New(i.FirstAttempt)}
		t.LastAttempt = &cloudtaskspb.Attempt{DispatchTime: timestamppb.New(i.LastAttempt)}
	}
	return t
}
