package twiliotest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Task is a TaskRouter task's state (https://www.twilio.com/docs/taskrouter/api/task).
type Task struct {
	SID              string
	WorkflowSID      string
	TaskChannel      string
	Attributes       string
	AssignmentStatus string // pending, reserved, assigned, canceled, completed or wrapping
	Reason           string
	Timeout          int
	DateCreated      time.Time
	DateUpdated      time.Time
}

// Tasks returns every task of the workspace, oldest first.
func (f *Fake) Tasks() []Task {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Task, len(f.tasks))
	for i, t := range f.tasks {
		out[i] = *t
	}
	return out
}

// SetTaskStatus moves a task to status ("reserved", "assigned",
// "wrapping", "completed" or "canceled"), as TaskRouter or a Flex agent
// would, with reason (the completed or canceled reason; may be empty).
// Moving it to wrapping, completed or canceled posts task.wrapup,
// task.completed or task.canceled to the workspace's event callback
// (SetEventCallback), signed, and returns once it is answered. It
// reports whether the task exists; a task completed or canceled already
// stays so, and nothing is posted.
func (f *Fake) SetTaskStatus(sid, status, reason string) bool {
	f.mu.Lock()
	t := f.task(sid)
	if t == nil {
		f.mu.Unlock()
		return false
	}
	if t.AssignmentStatus == "completed" || t.AssignmentStatus == "canceled" || t.AssignmentStatus == status {
		f.mu.Unlock()
		return true
	}
	t.AssignmentStatus, t.Reason, t.DateUpdated = status, reason, time.Now()
	event := f.taskEvent(taskEvents[status], t)
	f.mu.Unlock()
	if event != nil {
		f.postEvent(event)
	}
	return true
}

// DeleteTask deletes a task, as a Flex admin or a script may (TaskRouter
// keeps no trace of it: a fetch gets 404), and posts task.deleted to the
// workspace's event callback, with the status it had. It reports whether
// the task existed.
func (f *Fake) DeleteTask(sid string) bool {
	f.mu.Lock()
	t := f.task(sid)
	if t == nil {
		f.mu.Unlock()
		return false
	}
	f.tasks = slices.DeleteFunc(f.tasks, func(x *Task) bool { return x == t })
	event := f.taskEvent("task.deleted", t)
	f.mu.Unlock()
	f.postEvent(event)
	return true
}

// taskEvents are the task events a move to a status posts.
var taskEvents = map[string]string{"wrapping": "task.wrapup", "completed": "task.completed", "canceled": "task.canceled"}

// task returns the task sid, or nil. Callers hold f.mu.
func (f *Fake) task(sid string) *Task {
	for _, t := range f.tasks {
		if t.SID == sid {
			return t
		}
	}
	return nil
}

// taskEvent returns the form of a task event typ ("" : none): eventBase's
// fields and a task's, field for field as TaskRouter's event reference
// lists them. Callers hold f.mu.
func (f *Fake) taskEvent(typ string, t *Task) url.Values {
	if typ == "" {
		return nil
	}
	now := time.Now()
	v := f.eventBase(typ, "Task "+t.SID+" "+strings.TrimPrefix(typ, "task."), "Task", t.SID, now)
	v.Set("TaskSid", t.SID)
	v.Set("TaskAttributes", t.Attributes)
	v.Set("TaskAge", strconv.Itoa(int(now.Sub(t.DateCreated)/time.Second)))
	v.Set("TaskPriority", "0")
	v.Set("TaskAssignmentStatus", t.AssignmentStatus)
	v.Set("TaskChannelUniqueName", t.TaskChannel)
	v.Set("WorkflowSid", t.WorkflowSID)
	switch typ {
	case "task.canceled":
		v.Set("TaskCanceledReason", t.Reason)
	case "task.completed":
		v.Set("TaskCompletedReason", t.Reason)
	}
	return v
}

// defaultTaskTimeout is TaskRouter's default task timeout, in seconds.
const defaultTaskTimeout = 86400

type taskJSON struct {
	AccountSID            string            `json:"account_sid"`
	WorkspaceSID          string            `json:"workspace_sid"`
	SID                   string            `json:"sid"`
	WorkflowSID           string            `json:"workflow_sid"`
	WorkflowFriendlyName  string            `json:"workflow_friendly_name"`
	TaskQueueSID          *string           `json:"task_queue_sid"`
	TaskChannelUniqueName string            `json:"task_channel_unique_name"`
	Attributes            string            `json:"attributes"`
	AssignmentStatus      string            `json:"assignment_status"`
	Reason                *string           `json:"reason"`
	Age                   int               `json:"age"`
	Priority              int               `json:"priority"`
	Timeout               int               `json:"timeout"`
	DateCreated           *string           `json:"date_created"`
	DateUpdated           *string           `json:"date_updated"`
	URL                   string            `json:"url"`
	Links                 map[string]string `json:"links"`
}

func (f *Fake) taskJSON(t *Task) taskJSON {
	u := "https://" + taskrouterHost + "/v1/Workspaces/" + f.cfg.WorkspaceSID + "/Tasks/" + t.SID
	return taskJSON{
		AccountSID:            f.cfg.AccountSID,
		WorkspaceSID:          f.cfg.WorkspaceSID,
		SID:                   t.SID,
		WorkflowSID:           t.WorkflowSID,
		WorkflowFriendlyName:  "Assign to Anyone",
		TaskChannelUniqueName: t.TaskChannel,
		Attributes:            t.Attributes,
		AssignmentStatus:      t.AssignmentStatus,
		Reason:                nullable(t.Reason),
		Age:                   int(time.Since(t.DateCreated) / time.Second),
		Timeout:               t.Timeout,
		DateCreated:           timeJSON(t.DateCreated),
		DateUpdated:           timeJSON(t.DateUpdated),
		URL:                   u,
		Links:                 map[string]string{"reservations": u + "/Reservations"},
	}
}

// createTask creates a pending task in the workspace's workflow.
func (f *Fake) createTask(w http.ResponseWriter, r *http.Request) {
	if !f.workspaceOK(w, r) {
		return
	}
	form := r.PostForm
	workflow := form.Get("WorkflowSid")
	if workflow == "" {
		workflow = f.cfg.WorkflowSID
	}
	if workflow != f.cfg.WorkflowSID {
		writeAPIError(w, errNotFound("workflow "+workflow))
		return
	}
	attrs := form.Get("Attributes")
	if attrs == "" {
		attrs = "{}"
	}
	var obj map[string]any
	if json.Unmarshal([]byte(attrs), &obj) != nil {
		writeAPIError(w, errInvalid("Attributes must be a JSON object"))
		return
	}
	timeout := defaultTaskTimeout
	if v := form.Get("Timeout"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1209600 {
			writeAPIError(w, errInvalid("Timeout must be 1 to 1209600 seconds"))
			return
		}
		timeout = n
	}
	channel := form.Get("TaskChannel")
	if channel == "" {
		channel = "default"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	t := &Task{
		SID:              f.newSID("WT"),
		WorkflowSID:      workflow,
		TaskChannel:      channel,
		Attributes:       attrs,
		AssignmentStatus: "pending",
		Timeout:          timeout,
		DateCreated:      now,
		DateUpdated:      now,
	}
	f.tasks = append(f.tasks, t)
	writeJSON(w, http.StatusCreated, f.taskJSON(t))
}

// evaluatePattern is the one form of EvaluateTaskAttributes the fake
// models: a (dotted) attribute compared with == to a quoted string.
var evaluatePattern = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*==\s*"((?:[^"\\]|\\.)*)"\s*$`)

// listTasks lists the tasks, filtered by EvaluateTaskAttributes.
func (f *Fake) listTasks(w http.ResponseWriter, r *http.Request) {
	if !f.workspaceOK(w, r) {
		return
	}
	match := func(*Task) bool { return true }
	if expr := r.URL.Query().Get("EvaluateTaskAttributes"); expr != "" {
		m := evaluatePattern.FindStringSubmatch(expr)
		if m == nil {
			writeAPIError(w, errInvalid("twiliotest models EvaluateTaskAttributes of the form key == \"value\" only, not "+expr))
			return
		}
		path := strings.Split(m[1], ".")
		want := strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(m[2])
		match = func(t *Task) bool {
			var v any
			if json.Unmarshal([]byte(t.Attributes), &v) != nil {
				return false
			}
			for _, k := range path {
				obj, ok := v.(map[string]any)
				if !ok {
					return false
				}
				v = obj[k]
			}
			s, ok := v.(string)
			return ok && s == want
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	matched := slices.DeleteFunc(slices.Clone(f.tasks), func(t *Task) bool { return !match(t) })
	out, e := page(r, list{taskrouterHost, "tasks", maxTaskRouterPageSize}, matched,
		func(t *Task) string { return t.SID }, f.taskJSON)
	answer(w, http.StatusOK, out, e)
}

func (f *Fake) taskFor(w http.ResponseWriter, r *http.Request) *Task {
	if !f.workspaceOK(w, r) {
		return nil
	}
	if t := f.task(r.PathValue("sid")); t != nil {
		return t
	}
	writeAPIError(w, errNotFound(r.URL.Path))
	return nil
}

func (f *Fake) fetchTask(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t := f.taskFor(w, r); t != nil {
		writeJSON(w, http.StatusOK, f.taskJSON(t))
	}
}

// updateTask changes a task's AssignmentStatus (canceled, completed,
// wrapping), as a Flex agent's app does, and posts its event as
// SetTaskStatus does, before the handler returns: the answer is written
// but not flushed (net/http sends a short answer once the handler
// returns), so the client usually gets it only after the event callback
// has answered.
func (f *Fake) updateTask(w http.ResponseWriter, r *http.Request) {
	if event := f.changeTask(w, r); event != nil {
		f.postEvent(event)
	}
}

// changeTask applies updateTask's change and answers it; it returns the
// event to post, if any.
func (f *Fake) changeTask(w http.ResponseWriter, r *http.Request) url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.taskFor(w, r)
	if t == nil {
		return nil
	}
	moved := ""
	switch s := r.PostForm.Get("AssignmentStatus"); s {
	case "":
	case "canceled", "completed", "wrapping":
		if s == "canceled" && (t.AssignmentStatus == "assigned" || t.AssignmentStatus == "wrapping") {
			// https://www.twilio.com/docs/taskrouter/lifecycle-task-state
			writeAPIError(w, errInvalid("a task can be canceled only until it is assigned"))
			return nil
		}
		if t.AssignmentStatus != s {
			moved = s
		}
		t.AssignmentStatus = s
	default:
		writeAPIError(w, errInvalid("AssignmentStatus must be canceled, completed or wrapping"))
		return nil
	}
	if r.PostForm.Has("Reason") {
		t.Reason = r.PostForm.Get("Reason")
	}
	t.DateUpdated = time.Now()
	writeJSON(w, http.StatusOK, f.taskJSON(t))
	return f.taskEvent(taskEvents[moved], t)
}

// deleteTask deletes a task by REST, as DeleteTask does, and posts
// task.deleted once answered.
func (f *Fake) deleteTask(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	ok := f.workspaceOK(w, r)
	exists := ok && f.task(r.PathValue("sid")) != nil
	f.mu.Unlock()
	switch {
	case !ok:
	case !exists:
		writeAPIError(w, errNotFound(r.URL.Path))
	default:
		w.WriteHeader(http.StatusNoContent)
		f.DeleteTask(r.PathValue("sid"))
	}
}
