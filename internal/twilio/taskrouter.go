package twilio

import (
	"context"
	"strings"

	twiliogo "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client/metadata"
	tr "github.com/twilio/twilio-go/rest/taskrouter/v1"
)

// workerPageSize keeps a pool queue to one page in practice.
const workerPageSize = 200

// Worker is a TaskRouter worker. Its friendly name is the worker's
// Frontline identity: Frontline names each worker after the identity its
// app signs in with.
type Worker struct {
	SID      string
	Identity string // friendly_name
	// Attributes is the JSON string, or empty when Twilio left it out,
	// which it may on list results: FetchWorker before reading or merging.
	Attributes   string
	Available    bool
	ActivitySID  string
	ActivityName string
}

// ListAvailableWorkers returns the available workers of a TaskQueue (of
// the whole workspace when queue is empty).
func (c *Client) ListAvailableWorkers(ctx context.Context, workspace, queue string) ([]Worker, error) {
	return c.listWorkers(ctx, workspace, queue, true)
}

// ListWorkers returns every worker of a TaskQueue (of the whole
// workspace when queue is empty), available or not.
func (c *Client) ListWorkers(ctx context.Context, workspace, queue string) ([]Worker, error) {
	return c.listWorkers(ctx, workspace, queue, false)
}

func (c *Client) listWorkers(ctx context.Context, workspace, queue string, onlyAvailable bool) ([]Worker, error) {
	op := "list workers of " + queue
	if onlyAvailable {
		op = "list available workers of " + queue
	}
	return list(ctx, c, op, worker, func(rc *twiliogo.RestClient) ([]tr.TaskrouterV1Worker, error) {
		params := (&tr.ListWorkerParams{}).SetPageSize(workerPageSize)
		if onlyAvailable {
			params.SetAvailable("true")
		}
		if queue != "" {
			params.SetTaskQueueSid(queue)
		}
		return rc.TaskrouterV1.ListWorker(workspace, params)
	})
}

// FindWorker returns the worker whose friendly name is identity, compared
// without case as TaskRouter does, or ErrWorkerNotFound. An identity
// longer than a friendly name can be is not looked up: whatever a
// customer typed, the answer is ErrWorkerNotFound, not a refused request.
func (c *Client) FindWorker(ctx context.Context, workspace, identity string) (Worker, error) {
	if Chars(identity) > MaxWorkerFriendlyName {
		return Worker{}, ErrWorkerNotFound
	}
	ws, err := call(ctx, c, idempotent, func(rc *twiliogo.RestClient) ([]tr.TaskrouterV1Worker, error) {
		return rc.TaskrouterV1.ListWorker(workspace,
			(&tr.ListWorkerParams{}).SetFriendlyName(identity).SetPageSize(workerPageSize))
	})
	if err != nil {
		return Worker{}, wrap("find worker "+identity, err)
	}
	for i := range ws {
		if strings.EqualFold(value(ws[i].FriendlyName), identity) {
			return worker(&ws[i]), nil
		}
	}
	return Worker{}, ErrWorkerNotFound
}

// FetchWorker returns a worker with its attributes and its ETag, the
// If-Match value for UpdateWorkerAttributes.
func (c *Client) FetchWorker(ctx context.Context, workspace, sid string) (Worker, string, error) {
	md, err := call(ctx, c, idempotent, func(rc *twiliogo.RestClient) (*metadata.ResourceMetadata[tr.TaskrouterV1Worker], error) {
		return rc.TaskrouterV1.FetchWorkerWithMetadata(workspace, sid)
	})
	if err != nil {
		return Worker{}, "", wrap("fetch worker "+sid, err)
	}
	w := md.GetResource()
	return worker(&w), md.GetHeader("ETag"), nil
}

// UpdateWorkerAttributes replaces a worker's attributes. With a non-empty
// ifMatch (an ETag from FetchWorker) the update applies only if nobody
// changed the worker since; otherwise it fails with ErrPreconditionFailed.
//
// It is retried like a read: it sets an absolute value, and with ifMatch a
// retry after a write that did go through fails with ErrPreconditionFailed
// instead of writing twice.
func (c *Client) UpdateWorkerAttributes(ctx context.Context, workspace, sid, attributesJSON, ifMatch string) error {
	return update(ctx, c, idempotent, "update worker "+sid, func(rc *twiliogo.RestClient) (*tr.TaskrouterV1Worker, error) {
		params := (&tr.UpdateWorkerParams{}).SetAttributes(attributesJSON)
		if ifMatch != "" {
			params.SetIfMatch(ifMatch)
		}
		return rc.TaskrouterV1.UpdateWorker(workspace, sid, params)
	})
}

func worker(w *tr.TaskrouterV1Worker) Worker {
	return Worker{
		SID:          value(w.Sid),
		Identity:     value(w.FriendlyName),
		Attributes:   value(w.Attributes),
		Available:    value(w.Available),
		ActivitySID:  value(w.ActivitySid),
		ActivityName: value(w.ActivityName),
	}
}
