package main

import (
	"bufio"
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/cloudtasks"
	"github.com/experthub/experthub/internal/cloudtasks/cloudtaskstest"
	"github.com/experthub/experthub/internal/gcpauth"
	"github.com/experthub/experthub/internal/taskqueue"
)

// TestQueueFake runs the queue-fake subcommand, points a queue at the
// address it prints, and checks a task is delivered with a token the
// printed secret validates; then stops it as a signal would.
func TestQueueFake(t *testing.T) {
	const (
		account = "tasks@local.iam.gserviceaccount.com"
		queue   = "projects/local/locations/local/queues/other"
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, stdout := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"queue-fake", "-addr", "127.0.0.1:0", "-min-backoff", "1ms",
			"-queue", cloudtaskstest.DefaultQueue + "," + queue}, nil, stdout, io.Discard)
		_ = stdout.Close()
	}()
	env := map[string]string{}
	lines := bufio.NewScanner(out)
	for len(env) < 2 && lines.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(lines.Text(), "export "), "=")
		if !ok {
			t.Fatalf("unexpected output %q", lines.Text())
		}
		env[k] = v
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	host, secret := env[cloudtaskstest.EnvHost], env[cloudtaskstest.EnvSecret]
	if host == "" || len(secret) < 32 {
		t.Fatalf("printed %v, want the host and a secret", env)
	}

	var mu sync.Mutex
	var got []taskqueue.Delivery
	delivered := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(nil)
	target := "http://" + srv.Listener.Addr().String() + "/work"
	srv.Config.Handler = gcpauth.Require(gcpauth.Caller{Validator: cloudtaskstest.TokenValidator{Secret: secret}, Audience: target, Account: account},
		taskqueue.Consumer(func(_ context.Context, d taskqueue.Delivery) error {
			mu.Lock()
			got = append(got, d)
			mu.Unlock()
			delivered <- struct{}{}
			return nil
		}, nil), nil)
	srv.Start()
	defer srv.Close()

	q := cloudtasks.New(cloudtasks.Config{Queue: queue, TargetURL: target, ServiceAccount: account, Endpoint: host})
	defer q.Close()
	if err := q.Enqueue(ctx, taskqueue.Task{Name: "t1", Body: []byte(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-delivered:
	case <-time.After(30 * time.Second):
		t.Fatal("task not delivered")
	}
	mu.Lock()
	if len(got) != 1 || got[0].Name != "t1" || got[0].Queue != "other" || string(got[0].Body) != `{"n":1}` {
		t.Errorf("deliveries %+v", got)
	}
	mu.Unlock()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("queue-fake: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("queue-fake did not stop")
	}
}

func TestQueueFakeBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"queue-fake", "-queue", "not-a-queue", "-addr", "127.0.0.1:0"},
		{"queue-fake", "-max-attempts", "x"},
		{"queue-fake", "extra"},
	} {
		if err := run(context.Background(), args, nil, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
