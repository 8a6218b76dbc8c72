package twiliotest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Account configuration: the Conversations global webhooks
// (https://www.twilio.com/docs/conversations/api/configuration-webhook-resource),
// the same state SetWebhooks sets and deliveries read, and the TaskRouter
// workspace with its one event callback
// (https://www.twilio.com/docs/taskrouter/api/workspace).

// conversationEvents are the webhook filters Conversations accepts
// (twilio_conversations_v1.yaml, UpdateConfigurationWebhookRequest).
var conversationEvents = []string{
	"onMessageAdded", "onMessageUpdated", "onMessageRemoved", "onMessageAdd", "onMessageUpdate",
	"onMessageRemove", "onConversationUpdated", "onConversationRemoved", "onConversationAdd",
	"onConversationAdded", "onConversationRemove", "onConversationUpdate", "onConversationStateUpdated",
	"onParticipantAdded", "onParticipantUpdated", "onParticipantRemoved", "onParticipantAdd",
	"onParticipantRemove", "onParticipantUpdate", "onDeliveryUpdated", "onUserAdded", "onUserUpdate",
	"onUserUpdated",
}

// workspaceState is the workspace's own settings. Callers hold f.mu.
type workspaceState struct {
	friendlyName     string
	eventCallbackURL string
	eventsFilter     string
	dateCreated      time.Time
	dateUpdated      time.Time
}

// Webhooks returns the webhook configuration, as set by SetWebhooks or
// the REST API.
func (f *Fake) Webhooks() Webhooks {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.hooks
	w.Filters = slices.Clone(w.Filters)
	return w
}

// WorkspaceEventCallback returns the workspace's EventCallbackUrl and
// EventsFilter.
func (f *Fake) WorkspaceEventCallback() (callbackURL, eventsFilter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.workspace.eventCallbackURL, f.workspace.eventsFilter
}

// SetWorkspaceEventCallback sets the workspace's EventCallbackUrl and
// EventsFilter behind the client's back, as another system (or the
// Console) would.
func (f *Fake) SetWorkspaceEventCallback(callbackURL, eventsFilter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.workspace.eventCallbackURL, f.workspace.eventsFilter = callbackURL, eventsFilter
	f.workspace.dateUpdated = time.Now()
}

type configurationWebhookJSON struct {
	AccountSID     string   `json:"account_sid"`
	Method         string   `json:"method"`
	Filters        []string `json:"filters"`
	PreWebhookURL  *string  `json:"pre_webhook_url"`
	PostWebhookURL *string  `json:"post_webhook_url"`
	Target         string   `json:"target"`
	URL            string   `json:"url"`
}

// configurationWebhookJSON renders the configuration. Callers hold f.mu.
func (f *Fake) configurationWebhookJSON() configurationWebhookJSON {
	filters := slices.Clone(f.hooks.Filters)
	if filters == nil {
		filters = []string{}
	}
	return configurationWebhookJSON{
		AccountSID:     f.cfg.AccountSID,
		Method:         f.hooks.Method,
		Filters:        filters,
		PreWebhookURL:  nullable(f.hooks.PreWebhookURL),
		PostWebhookURL: nullable(f.hooks.PostWebhookURL),
		Target:         f.hooks.Target,
		URL:            "https://" + conversationsHost + "/v1/Configuration/Webhooks",
	}
}

func (f *Fake) fetchConfigurationWebhook(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.configurationWebhookJSON())
}

// updateConfigurationWebhook changes the parameters sent and keeps the
// others, as an update does.
func (f *Fake) updateConfigurationWebhook(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	next, e := f.Webhooks(), (*apiError)(nil)
	if form.Has("Method") {
		m := strings.ToUpper(form.Get("Method"))
		if m != http.MethodGet && m != http.MethodPost {
			e = errInvalid("Method must be GET or POST")
		}
		next.Method = m
	}
	if form.Has("Target") {
		t := form.Get("Target")
		if t != "webhook" && t != "flex" {
			e = errInvalid("Target must be webhook or flex")
		}
		next.Target = t
	}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"PreWebhookUrl", &next.PreWebhookURL}, {"PostWebhookUrl", &next.PostWebhookURL}} {
		if !form.Has(p.name) {
			continue
		}
		if v := form.Get(p.name); v != "" && !absoluteURL(v) {
			e = errInvalid(p.name + " must be an absolute http(s) URL")
		}
		*p.dst = form.Get(p.name)
	}
	if form.Has("Filters") {
		next.Filters = nil
		for _, ev := range form["Filters"] {
			if !slices.Contains(conversationEvents, ev) {
				e = errInvalid("Filters: unknown event " + ev)
			}
			if !slices.Contains(next.Filters, ev) {
				next.Filters = append(next.Filters, ev)
			}
		}
	}
	if e != nil {
		writeAPIError(w, e)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hooks = next
	writeJSON(w, http.StatusOK, f.configurationWebhookJSON())
}

func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

type workspaceJSON struct {
	AccountSID           string            `json:"account_sid"`
	DateCreated          *string           `json:"date_created"`
	DateUpdated          *string           `json:"date_updated"`
	DefaultActivityName  string            `json:"default_activity_name"`
	DefaultActivitySID   string            `json:"default_activity_sid"`
	EventCallbackURL     *string           `json:"event_callback_url"`
	EventsFilter         *string           `json:"events_filter"`
	FriendlyName         string            `json:"friendly_name"`
	MultiTaskEnabled     bool              `json:"multi_task_enabled"`
	SID                  string            `json:"sid"`
	TimeoutActivityName  string            `json:"timeout_activity_name"`
	TimeoutActivitySID   string            `json:"timeout_activity_sid"`
	PrioritizeQueueOrder string            `json:"prioritize_queue_order"`
	URL                  string            `json:"url"`
	Links                map[string]string `json:"links"`
}

// workspaceJSON renders the workspace. Callers hold f.mu.
func (f *Fake) workspaceJSON() workspaceJSON {
	u := "https://" + taskrouterHost + "/v1/Workspaces/" + f.cfg.WorkspaceSID
	offline := f.activityNamed("Offline")
	return workspaceJSON{
		AccountSID:           f.cfg.AccountSID,
		DateCreated:          timeJSON(f.workspace.dateCreated),
		DateUpdated:          timeJSON(f.workspace.dateUpdated),
		DefaultActivityName:  offline.name,
		DefaultActivitySID:   offline.sid,
		EventCallbackURL:     nullable(f.workspace.eventCallbackURL),
		EventsFilter:         nullable(f.workspace.eventsFilter),
		FriendlyName:         f.workspace.friendlyName,
		MultiTaskEnabled:     true,
		SID:                  f.cfg.WorkspaceSID,
		TimeoutActivityName:  offline.name,
		TimeoutActivitySID:   offline.sid,
		PrioritizeQueueOrder: "FIFO",
		URL:                  u,
		Links: map[string]string{
			"task_queues": u + "/TaskQueues",
			"workers":     u + "/Workers",
			"activities":  u + "/Activities",
		},
	}
}

func (f *Fake) fetchWorkspace(w http.ResponseWriter, r *http.Request) {
	if !f.workspaceOK(w, r) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.workspaceJSON())
}

// updateWorkspace sets the event callback; an empty EventCallbackUrl
// removes it.
func (f *Fake) updateWorkspace(w http.ResponseWriter, r *http.Request) {
	if !f.workspaceOK(w, r) {
		return
	}
	form := r.PostForm
	if v := form.Get("EventCallbackUrl"); v != "" && !absoluteURL(v) {
		writeAPIError(w, errInvalid("EventCallbackUrl must be an absolute http(s) URL"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if form.Has("EventCallbackUrl") {
		f.workspace.eventCallbackURL = form.Get("EventCallbackUrl")
	}
	if form.Has("EventsFilter") {
		f.workspace.eventsFilter = form.Get("EventsFilter")
	}
	f.workspace.dateUpdated = time.Now()
	writeJSON(w, http.StatusOK, f.workspaceJSON())
}

type taskQueueJSON struct {
	AccountSID   string            `json:"account_sid"`
	FriendlyName string            `json:"friendly_name"`
	SID          string            `json:"sid"`
	TargetWorker string            `json:"target_workers"`
	TaskOrder    string            `json:"task_order"`
	WorkspaceSID string            `json:"workspace_sid"`
	URL          string            `json:"url"`
	Links        map[string]string `json:"links"`
}

// fetchTaskQueue serves the one TaskQueue the fake has, Config.QueueSID.
func (f *Fake) fetchTaskQueue(w http.ResponseWriter, r *http.Request) {
	if !f.workspaceOK(w, r) {
		return
	}
	if r.PathValue("sid") != f.cfg.QueueSID {
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	u := "https://" + taskrouterHost + "/v1/Workspaces/" + f.cfg.WorkspaceSID + "/TaskQueues/" + f.cfg.QueueSID
	writeJSON(w, http.StatusOK, taskQueueJSON{
		AccountSID:   f.cfg.AccountSID,
		FriendlyName: "Default Queue",
		SID:          f.cfg.QueueSID,
		TargetWorker: "1==1",
		TaskOrder:    "FIFO",
		WorkspaceSID: f.cfg.WorkspaceSID,
		URL:          u,
		Links:        map[string]string{"statistics": u + "/Statistics"},
	})
}

type workflowJSON struct {
	AccountSID             string            `json:"account_sid"`
	Configuration          string            `json:"configuration"`
	FriendlyName           string            `json:"friendly_name"`
	SID                    string            `json:"sid"`
	TaskReservationTimeout int               `json:"task_reservation_timeout"`
	WorkspaceSID           string            `json:"workspace_sid"`
	URL                    string            `json:"url"`
	Links                  map[string]string `json:"links"`
}

// fetchWorkflow serves the one Workflow the fake has, Config.WorkflowSID:
// GET /v1/Workspaces/{WorkspaceSid}/Workflows/{Sid}
// (https://www.twilio.com/docs/taskrouter/api/workflow#fetch-a-workflow-resource).
func (f *Fake) fetchWorkflow(w http.ResponseWriter, r *http.Request) {
	if !f.workspaceOK(w, r) {
		return
	}
	if r.PathValue("sid") != f.cfg.WorkflowSID {
		writeAPIError(w, errNotFound(r.URL.Path))
		return
	}
	u := "https://" + taskrouterHost + "/v1/Workspaces/" + f.cfg.WorkspaceSID + "/Workflows/" + f.cfg.WorkflowSID
	writeJSON(w, http.StatusOK, workflowJSON{
		AccountSID:             f.cfg.AccountSID,
		Configuration:          `{"task_routing":{"filters":[],"default_filter":{"queue":"` + f.cfg.QueueSID + `"}}}`,
		FriendlyName:           "Default Workflow",
		SID:                    f.cfg.WorkflowSID,
		TaskReservationTimeout: 120,
		WorkspaceSID:           f.cfg.WorkspaceSID,
		URL:                    u,
		Links:                  map[string]string{"statistics": u + "/Statistics"},
	})
}
