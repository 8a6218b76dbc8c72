package cloudtaskstest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/experthub/experthub/internal/cloudtasks/cloudtaskstest"
)

func TestCreateTaskValidation(t *testing.T) {
	e := start(t, cloudtaskstest.Options{RequireOIDC: true})
	tests := []struct {
		name   string
		parent string // "" means queue
		change func(*cloudtaskspb.Task)
		code   codes.Code
		msg    string // part of the error
	}{
		{name: "valid", code: codes.OK},
		{name: "unknown queue", parent: "projects/local/locations/local/queues/other", code: codes.NotFound},
		{name: "malformed queue", parent: "queues/expert-hub-work", code: codes.InvalidArgument},
		{name: "name in another queue", change: func(t *cloudtaskspb.Task) {
			t.Name = "projects/local/locations/local/queues/other/tasks/x"
		}, code: codes.InvalidArgument, msg: "not in the queue"},
		{name: "bad task id", change: func(t *cloudtaskspb.Task) { t.Name = queue + "/tasks/a.b" }, code: codes.InvalidArgument},
		{name: "task id too long", change: func(t *cloudtaskspb.Task) { t.Name = queue + "/tasks/" + strings.Repeat("a", 501) }, code: codes.InvalidArgument},
		{name: "no name is generated", change: func(t *cloudtaskspb.Task) { t.Name = "" }, code: codes.OK},
		{name: "no request", change: func(t *cloudtaskspb.Task) { t.MessageType = nil }, code: codes.InvalidArgument},
		{name: "app engine", change: func(t *cloudtaskspb.Task) {
			t.MessageType = &cloudtaskspb.Task_AppEngineHttpRequest{AppEngineHttpRequest: &cloudtaskspb.AppEngineHttpRequest{}}
		}, code: codes.Unimplemented, msg: "app_engine_http_request"},
		{name: "no url", change: func(t *cloudtaskspb.Task) { t.GetHttpRequest().Url = "" }, code: codes.InvalidArgument},
		{name: "relative url", change: func(t *cloudtaskspb.Task) { t.GetHttpRequest().Url = "/work" }, code: codes.InvalidArgument},
		{name: "ftp url", change: func(t *cloudtaskspb.Task) { t.GetHttpRequest().Url = "ftp://x/work" }, code: codes.InvalidArgument},
		{name: "url too long", change: func(t *cloudtaskspb.Task) { t.GetHttpRequest().Url = "https://x/" + strings.Repeat("a", 2100) }, code: codes.InvalidArgument},
		{name: "GET", change: func(t *cloudtaskspb.Task) { t.GetHttpRequest().HttpMethod = cloudtaskspb.HttpMethod_GET }, code: codes.Unimplemented, msg: "GET"},
		{name: "unspecified method is POST", change: func(t *cloudtaskspb.Task) {
			t.GetHttpRequest().HttpMethod = cloudtaskspb.HttpMethod_HTTP_METHOD_UNSPECIFIED
		}, code: codes.OK},
		{name: "oauth token", change: func(t *cloudtaskspb.Task) {
			t.GetHttpRequest().AuthorizationHeader = &cloudtaskspb.HttpRequest_OauthToken{OauthToken: &cloudtaskspb.OAuthToken{ServiceAccountEmail: account}}
		}, code: codes.Unimplemented, msg: "oauth_token"},
		{name: "no token on a fake that requires one", change: func(t *cloudtaskspb.Task) { t.GetHttpRequest().AuthorizationHeader = nil },
			code: codes.InvalidArgument, msg: "requires an oidc_token"},
		{name: "token without account", change: func(t *cloudtaskspb.Task) { t.GetHttpRequest().GetOidcToken().ServiceAccountEmail = "" },
			code: codes.InvalidArgument},
		{name: "headers too large", change: func(t *cloudtaskspb.Task) { t.GetHttpRequest().Headers["X-Big"] = strings.Repeat("a", 80<<10) },
			code: codes.InvalidArgument},
		{name: "task too large", change: func(t *cloudtaskspb.Task) { t.GetHttpRequest().Body = make([]byte, 101<<10) },
			code: codes.InvalidArgument, msg: "task size"},
		{name: "scheduled 31 days ahead", change: func(t *cloudtaskspb.Task) { t.ScheduleTime = timestamppb.New(time.Now().Add(31 * 24 * time.Hour)) },
			code: codes.InvalidArgument},
		{name: "scheduled in the past", change: func(t *cloudtaskspb.Task) { t.ScheduleTime = timestamppb.New(time.Now().Add(-time.Hour)) },
			code: codes.OK},
		{name: "deadline too short", change: func(t *cloudtaskspb.Task) { t.DispatchDeadline = durationpb.New(time.Second) },
			code: codes.InvalidArgument},
		{name: "deadline too long", change: func(t *cloudtaskspb.Task) { t.DispatchDeadline = durationpb.New(time.Hour) },
			code: codes.InvalidArgument},
		{name: "task retry config", change: func(t *cloudtaskspb.Task) { t.RetryConfig = &cloudtaskspb.RetryConfig{MaxAttempts: 1} },
			code: codes.Unimplemented, msg: "retry_config"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := e.task(strings.Repeat("v", i+1))
			if tt.change != nil {
				tt.change(task)
			}
			parent := tt.parent
			if parent == "" {
				parent = queue
			}
			got, err := e.client.CreateTask(context.Background(), &cloudtaskspb.CreateTaskRequest{Parent: parent, Task: task})
			if status.Code(err) != tt.code || !strings.Contains(status.Convert(err).Message(), tt.msg) {
				t.Fatalf("CreateTask: %v, want %v with %q", err, tt.code, tt.msg)
			}
			if err == nil && !strings.HasPrefix(got.GetName(), queue+"/tasks/") {
				t.Errorf("created task named %q", got.GetName())
			}
		})
	}
	e.waitIdle(t)
}

func TestUnusedMethodsUnimplemented(t *testing.T) {
	e := start(t, cloudtaskstest.Options{})
	ctx := context.Background()
	_, err := e.client.GetQueue(ctx, &cloudtaskspb.GetQueueRequest{Name: queue})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("GetQueue: %v, want Unimplemented", err)
	}
	_, err = e.client.RunTask(ctx, &cloudtaskspb.RunTaskRequest{Name: queue + "/tasks/x"})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("RunTask: %v, want Unimplemented", err)
	}
}

func TestStartRefusesBadQueues(t *testing.T) {
	for _, qs := range [][]cloudtaskstest.Queue{
		{{Name: "expert-hub-work"}},
		{{Name: queue}, {Name: queue}},
		{{Name: "projects/p/locations/l/queues/bad_underscore"}},
	} {
		if f, err := cloudtaskstest.Start(context.Background(), cloudtaskstest.Options{Queues: qs}); err == nil {
			_ = f.Close()
			t.Errorf("Start with queues %+v succeeded", qs)
		}
	}
}

func TestStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f, err := cloudtaskstest.Start(ctx, cloudtaskstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	// Close after the context stopped it is harmless.
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestTokenValidator(t *testing.T) {
	const audience = "https://europe-west1-demo.cloudfunctions.net/work"
	token := captureToken(t, "s3cret", audience)
	v := cloudtaskstest.TokenValidator{Secret: "s3cret"}
	id, err := v.Validate(context.Background(), token, audience)
	if err != nil || id.Email != account || !id.EmailVerified {
		t.Fatalf("Validate = %+v, %v; want the account, verified", id, err)
	}
	parts := strings.Split(token, ".")
	tests := []struct {
		name     string
		v        cloudtaskstest.TokenValidator
		token    string
		audience string
	}{
		{"other secret", cloudtaskstest.TokenValidator{Secret: "other"}, token, audience},
		{"no secret", cloudtaskstest.TokenValidator{}, token, audience},
		{"other audience", v, token, "https://elsewhere.example/work"},
		{"empty audience", v, token, ""},
		{"tampered claims", v, parts[0] + "." + parts[1] + "x." + parts[2], audience},
		{"no signature", v, parts[0] + "." + parts[1] + ".", audience},
		{"not a JWT", v, "abc", audience},
		{"empty", v, "", audience},
	}
	for _, tt := range tests {
		if _, err := tt.v.Validate(context.Background(), tt.token, tt.audience); !errors.Is(err, cloudtaskstest.ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", tt.name, err)
		}
	}
}
