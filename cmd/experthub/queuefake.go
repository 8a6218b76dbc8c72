package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	experthub "github.com/experthub/experthub"
	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/cloudtasks/cloudtaskstest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/taskqueue/engine"
)

// queueFake runs the Cloud Tasks fake as its own process, for a
// production-like local run: an experthub pointed at it with
// CLOUD_TASKS_EMULATOR_HOST enqueues there, and checks the deliveries'
// tokens with CLOUD_TASKS_EMULATOR_SECRET.
func queueFake(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("queue-fake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr(cloudtaskstest.EnvHost, "127.0.0.1:8123"), "gRPC address to listen on (env "+cloudtaskstest.EnvHost+")")
	queues := fs.String("queue", cloudtaskstest.DefaultQueue, "queue names, comma-separated: projects/P/locations/L/queues/Q")
	secret := fs.String("secret", "", "secret signing the OIDC tokens (env "+cloudtaskstest.EnvSecret+"; default random)")
	// The deployed work queue's settings by default: a local cluster
	// then queues as production does.
	d, err := deployment.Load()
	if err != nil {
		return err
	}
	retry, rate, err := d.Queues["work"].Dispatch()
	if err != nil {
		return err
	}
	var q cloudtaskstest.Queue
	fs.IntVar(&q.Retry.MaxAttempts, "max-attempts", retry.MaxAttempts, "attempts per task, the first included; -1 unlimited")
	fs.DurationVar(&q.Retry.MaxRetryDuration, "max-retry-duration", retry.MaxRetryDuration, "time limit for retrying a task; 0 unlimited")
	fs.DurationVar(&q.Retry.MinBackoff, "min-backoff", retry.MinBackoff, "wait before the first retry")
	fs.DurationVar(&q.Retry.MaxBackoff, "max-backoff", retry.MaxBackoff, "longest wait between retries")
	fs.IntVar(&q.Retry.MaxDoublings, "max-doublings", retry.MaxDoublings, "times the wait doubles before it grows linearly")
	fs.Float64Var(&q.Rate.MaxDispatchesPerSecond, "max-dispatches-per-second", rate.MaxDispatchesPerSecond, "dispatch rate cap per queue")
	fs.IntVar(&q.Rate.MaxConcurrentDispatches, "max-concurrent-dispatches", rate.MaxConcurrentDispatches, "attempts in flight per queue")
	window := fs.Duration("dedupe-window", engine.DefaultDedupeWindow, "how long a finished task's name stays reserved")
	deadline := fs.Duration("dispatch-deadline", 0, "bound on every attempt, shortening the tasks' own (0: theirs, or 10m)")
	requireOIDC := fs.Bool("require-oidc", true, "refuse tasks without an oidc_token")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *secret == "" {
		*secret = os.Getenv(cloudtaskstest.EnvSecret)
	}
	opts := cloudtaskstest.Options{
		Addr:             *addr,
		Secret:           *secret,
		RequireOIDC:      *requireOIDC,
		DedupeWindow:     *window,
		DispatchDeadline: *deadline,
		Logger:           slog.New(slog.NewTextHandler(stderr, nil)),
	}
	for name := range strings.SplitSeq(*queues, ",") {
		q.Name = strings.TrimSpace(name)
		opts.Queues = append(opts.Queues, q)
	}
	f, err := cloudtaskstest.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(stdout, "export %s=%s\nexport %s=%s\n", cloudtaskstest.EnvHost, f.Addr(), cloudtaskstest.EnvSecret, f.Secret())
	fmt.Fprintf(stderr, "experthub: Cloud Tasks fake serving %s on %s; stop with Ctrl-C\n", *queues, f.Addr())
	<-ctx.Done()
	fmt.Fprintln(stderr, "experthub: stopping the Cloud Tasks fake")
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// trustQueueFake makes the work function accept the OIDC tokens of the
// Cloud Tasks fake when CLOUD_TASKS_EMULATOR_HOST is set. Only this
// local runner links the fake: the deployed functions check Google's
// tokens.
func trustQueueFake(cfg *config.Config) {
	if cfg.TasksEmulator != "" {
		experthub.UseLocal(app.WithQueueTokens(cloudtaskstest.TokenValidator{Secret: cfg.TasksSecret}))
	}
}
