package work

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

type Task struct {
	Name string
	Body []byte
	At   time.Time
}
type Queue interface {
	Enqueue(ctx context.Context, t Task) error
}
type Delivery struct {
	Name                       string
	Body                       []byte
	RetryCount, ExecutionCount int
}

func TaskID(parts ...string) string { return "" }
func Consumer(handle func(ctx context.Context, d Delivery) error, log *slog.Logger) http.Handler {
	return nil
}
