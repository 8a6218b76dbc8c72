package twilio

import (
	"context"
	"errors"
	"slices"

	twiliogo "github.com/twilio/twilio-go"
	conv "github.com/twilio/twilio-go/rest/conversations/v1"
	tr "github.com/twilio/twilio-go/rest/taskrouter/v1"
)

// The account-wide configuration `experthub setup twilio` writes and
// `experthub doctor` checks: the Conversations global webhooks
// (https://www.twilio.com/docs/conversations/api/configuration-webhook-resource)
// and the TaskRouter workspace's event callback
// (https://www.twilio.com/docs/taskrouter/api/workspace).

// ErrUnauthorized is returned when Twilio refuses the credentials (HTTP
// 401, code 20003).
var ErrUnauthorized = errors.New("twilio: credentials refused")

// ConversationsWebhooks is the account's Conversations global webhook
// configuration. Filters is one list for both URLs: Twilio sends each
// event listed to the pre-event URL if it is a pre-action event
// (onMessageAdd), to the post-event URL otherwise (onMessageAdded).
type ConversationsWebhooks struct {
	PreWebhookURL  string
	PostWebhookURL string
	Method         string // "GET" or "POST"
	Filters        []string
	Target         string // "webhook" or "flex"
}

// Equal reports whether w and o configure the same webhooks; the order of
// the filters does not matter.
func (w ConversationsWebhooks) Equal(o ConversationsWebhooks) bool {
	a, b := slices.Clone(w.Filters), slices.Clone(o.Filters)
	slices.Sort(a)
	slices.Sort(b)
	return w.PreWebhookURL == o.PreWebhookURL && w.PostWebhookURL == o.PostWebhookURL &&
		w.Method == o.Method && w.Target == o.Target && slices.Equal(a, b)
}

// ConversationsWebhooks reads the Conversations global webhooks.
func (c *Client) ConversationsWebhooks(ctx context.Context) (ConversationsWebhooks, error) {
	return one(ctx, c, idempotent, "fetch conversations webhooks", conversationsWebhooks, func(rc *twiliogo.RestClient) (*conv.ConversationsV1ConfigurationWebhook, error) {
		return rc.ConversationsV1.FetchConfigurationWebhook()
	})
}

// SetConversationsWebhooks replaces the Conversations global webhooks
// with w and returns what Twilio then holds. It sets absolute values, so
// it is retried like a read.
func (c *Client) SetConversationsWebhooks(ctx context.Context, w ConversationsWebhooks) (ConversationsWebhooks, error) {
	return one(ctx, c, idempotent, "update conversations webhooks", conversationsWebhooks, func(rc *twiliogo.RestClient) (*conv.ConversationsV1ConfigurationWebhook, error) {
		p := (&conv.UpdateConfigurationWebhookParams{}).
			SetPreWebhookUrl(w.PreWebhookURL).
			SetPostWebhookUrl(w.PostWebhookURL).
			SetMethod(w.Method).
			SetFilters(w.Filters).
			SetTarget(w.Target)
		return rc.ConversationsV1.UpdateConfigurationWebhook(p)
	})
}

func conversationsWebhooks(v *conv.ConversationsV1ConfigurationWebhook) ConversationsWebhooks {
	return ConversationsWebhooks{
		PreWebhookURL:  value(v.PreWebhookUrl),
		PostWebhookURL: value(v.PostWebhookUrl),
		Method:         value(v.Method),
		Filters:        slices.Clone(value(v.Filters)),
		Target:         value(v.Target),
	}
}

// Workspace is a TaskRouter workspace's event callback settings: a
// workspace has one EventCallbackURL, called for the events EventsFilter
// lists (all when empty).
type Workspace struct {
	SID              string
	FriendlyName     string
	EventCallbackURL string
	EventsFilter     string
}

// FetchWorkspace reads a TaskRouter workspace.
func (c *Client) FetchWorkspace(ctx context.Context, sid string) (Workspace, error) {
	return one(ctx, c, idempotent, "fetch workspace "+sid, workspace, func(rc *twiliogo.RestClient) (*tr.TaskrouterV1Workspace, error) {
		return rc.TaskrouterV1.FetchWorkspace(sid)
	})
}

// SetWorkspaceEventCallback sets a workspace's EventCallbackUrl and
// EventsFilter and returns the workspace as Twilio then holds it.
func (c *Client) SetWorkspaceEventCallback(ctx context.Context, sid, callbackURL, eventsFilter string) (Workspace, error) {
	return one(ctx, c, idempotent, "update workspace "+sid, workspace, func(rc *twiliogo.RestClient) (*tr.TaskrouterV1Workspace, error) {
		p := (&tr.UpdateWorkspaceParams{}).SetEventCallbackUrl(callbackURL).SetEventsFilter(eventsFilter)
		return rc.TaskrouterV1.UpdateWorkspace(sid, p)
	})
}

func workspace(v *tr.TaskrouterV1Workspace) Workspace {
	return Workspace{
		SID:              value(v.Sid),
		FriendlyName:     value(v.FriendlyName),
		EventCallbackURL: value(v.EventCallbackUrl),
		EventsFilter:     value(v.EventsFilter),
	}
}

// TaskQueue is a TaskRouter queue.
type TaskQueue struct {
	SID          string
	FriendlyName string
}

// FetchTaskQueue reads a TaskQueue of a workspace.
func (c *Client) FetchTaskQueue(ctx context.Context, workspace, sid string) (TaskQueue, error) {
	return one(ctx, c, idempotent, "fetch task queue "+sid, taskQueue, func(rc *twiliogo.RestClient) (*tr.TaskrouterV1TaskQueue, error) {
		return rc.TaskrouterV1.FetchTaskQueue(workspace, sid)
	})
}

func taskQueue(v *tr.TaskrouterV1TaskQueue) TaskQueue {
	return TaskQueue{SID: value(v.Sid), FriendlyName: value(v.FriendlyName)}
}

// Workflow is a TaskRouter workflow.
type Workflow struct {
	SID          string
	FriendlyName string
}

// FetchWorkflow reads a Workflow of a workspace
// (https://www.twilio.com/docs/taskrouter/api/workflow).
func (c *Client) FetchWorkflow(ctx context.Context, workspace, sid string) (Workflow, error) {
	return one(ctx, c, idempotent, "fetch workflow "+sid, workflow, func(rc *twiliogo.RestClient) (*tr.TaskrouterV1Workflow, error) {
		return rc.TaskrouterV1.FetchWorkflow(workspace, sid)
	})
}

func workflow(v *tr.TaskrouterV1Workflow) Workflow {
	return Workflow{SID: value(v.Sid), FriendlyName: value(v.FriendlyName)}
}

// CountWorkers returns how many workers the workspace has (at most one
// page's worth) and how many of them are available.
func (c *Client) CountWorkers(ctx context.Context, workspace string) (total, available int, err error) {
	ws, err := list(ctx, c, "list workers", worker, func(rc *twiliogo.RestClient) ([]tr.TaskrouterV1Worker, error) {
		return rc.TaskrouterV1.ListWorker(workspace, (&tr.ListWorkerParams{}).SetPageSize(workerPageSize).SetLimit(workerPageSize))
	})
	if err != nil {
		return 0, 0, err
	}
	for _, w := range ws {
		if w.Available {
			available++
		}
	}
	return len(ws), available, nil
}
