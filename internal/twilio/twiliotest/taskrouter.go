package twiliotest

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const taskrouterHost = "taskrouter.twilio.com"

// Worker is a TaskRouter worker's state.
type Worker struct {
	SID               string
	FriendlyName      string
	Attributes        string
	ActivitySID       string
	ActivityName      string
	Available         bool
	Queues            []string // TaskQueue SIDs the worker is eligible for
	DateCreated       time.Time
	DateUpdated       time.Time
	DateStatusChanged time.Time
	// ETag is the value fetches return and If-Match must carry; every
	// change to the worker changes it.
	ETag string
	// The worker's Frontline user (GET /v1/Users/{Sid}): its US… SID, its
	// display name (SetDisplayName; empty: none) and its state ("active"
	// unless SetUserState says otherwise).
	UserSID     string
	DisplayName string
	UserState   string
}

type workerState struct {
	Worker
	version int
}

type activity struct {
	sid, name string
	available bool
}

// bump records a change: new ETag, new date_updated. Callers hold f.mu.
func (w *workerState) bump(now time.Time) {
	w.version++
	w.DateUpdated = now
	sum := sha1.Sum([]byte(w.SID + "/" + strconv.Itoa(w.version)))
	w.ETag = `"` + hex.EncodeToString(sum[:10]) + `"`
}

func (w *workerState) snapshot() Worker {
	out := w.Worker
	out.Queues = slices.Clone(w.Queues)
	return out
}

// AddWorker adds a worker to the workspace and returns its SID. identity
// is its friendly name (the Frontline identity); available selects the
// "Available" or the "Offline" activity; attrs (nil: {}) become its
// attributes; queues are the TaskQueue SIDs it is eligible for. A second
// worker with the same identity, ignoring case, is a test bug: AddWorker
// panics.
func (f *Fake) AddWorker(identity string, available bool, attrs map[string]any, queues ...string) string {
	b, err := json.Marshal(attrs)
	if err != nil {
		panic(fmt.Sprintf("twiliotest: worker attributes: %v", err))
	}
	if attrs == nil {
		b = []byte("{}")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.workerByName(identity) != nil {
		panic("twiliotest: duplicate worker " + identity)
	}
	act := f.activityNamed("Offline")
	if available {
		act = f.activityNamed("Available")
	}
	return f.insertWorker(identity, string(b), act, queues).SID
}

// Workers returns every worker, oldest first.
func (f *Fake) Workers() []Worker {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Worker, 0, len(f.workerOrder))
	for _, sid := range f.workerOrder {
		out = append(out, f.workers[sid].snapshot())
	}
	return out
}

// Worker returns a worker by SID or by friendly name (ignoring case).
func (f *Fake) Worker(key string) (Worker, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.workers[key]
	if w == nil {
		w = f.workerByName(key)
	}
	if w == nil {
		return Worker{}, false
	}
	return w.snapshot(), true
}

// SetWorkerAvailable moves a worker (by friendly name) to the "Available"
// or "Offline" activity, as the worker would in the Frontline app. When
// the activity changes and the workspace has an event callback
// (SetEventCallback), it posts the signed worker.activity.update event
// and returns once it is answered. It reports whether the worker exists.
func (f *Fake) SetWorkerAvailable(identity string, available bool) bool {
	f.mu.Lock()
	w := f.workerByName(identity)
	if w == nil {
		f.mu.Unlock()
		return false
	}
	act := f.activityNamed("Offline")
	if available {
		act = f.activityNamed("Available")
	}
	now := time.Now()
	prev := w.snapshot()
	f.setActivity(w, act, now)
	w.bump(now)
	var event url.Values
	if prev.ActivitySID != act.sid {
		event = f.workerEvent("worker.activity.update", prev, w, now)
	}
	f.mu.Unlock()
	if event != nil {
		f.postEvent(event)
	}
	return true
}

// TargetEvents is the TaskRouter workspace event callback's delivery
// target.
const TargetEvents = "events"

// DefaultEventTimeout is how long TaskRouter waits for the event callback
// to answer (https://www.twilio.com/docs/taskrouter/api/event/reference).
const DefaultEventTimeout = 15 * time.Second

// SetEventCallback sets the workspace's EventCallbackUrl (empty: none)
// and its EventsFilter (none: every event), as the Console or
// POST /v1/Workspaces/{sid} would.
func (f *Fake) SetEventCallback(rawURL string, filter ...string) {
	f.SetWorkspaceEventCallback(rawURL, strings.Join(filter, ","))
}

// postEvent posts a TaskRouter event to the workspace's event callback,
// if it has one and its EventsFilter lets the event through, signed with
// the account's auth token, and returns once it is answered.
func (f *Fake) postEvent(event url.Values) {
	f.mu.Lock()
	cb, filter := f.workspace.eventCallbackURL, f.workspace.eventsFilter
	f.mu.Unlock()
	typ := event.Get("EventType")
	if cb == "" || filter != "" && !slices.ContainsFunc(strings.Split(filter, ","), func(f string) bool { return strings.TrimSpace(f) == typ }) {
		return
	}
	f.deliver(context.Background(), TargetEvents, typ, cb, event, event.Get("Sid"), DefaultEventTimeout, false)
}

// eventBase returns the fields every TaskRouter event has, as its event
// reference lists them (https://www.twilio.com/docs/taskrouter/api/event/reference),
// with Sid and TimestampMs as real payloads carry them: an event typ
// about the resourceType resourceSID, at now. Callers hold f.mu.
func (f *Fake) eventBase(typ, description, resourceType, resourceSID string, now time.Time) url.Values {
	return url.Values{
		"Sid":              {f.newSID("EV")},
		"EventType":        {typ},
		"AccountSid":       {f.cfg.AccountSID},
		"WorkspaceSid":     {f.cfg.WorkspaceSID},
		"WorkspaceName":    {f.workspace.friendlyName},
		"EventDescription": {description},
		"ResourceType":     {resourceType},
		"ResourceSid":      {resourceSID},
		"Timestamp":        {strconv.FormatInt(now.Unix(), 10)},
		"TimestampMs":      {strconv.FormatInt(now.UnixMilli(), 10)},
	}
}

// workerEvent returns the form of a worker event, field for field as
// TaskRouter's event reference lists them (and Sid, seen in real
// payloads). Callers hold f.mu.
func (f *Fake) workerEvent(typ string, prev Worker, w *workerState, now time.Time) url.Values {
	v := f.eventBase(typ, "Worker "+w.FriendlyName+" updated to "+w.ActivityName+" Activity", "Worker", w.SID, now)
	v.Set("WorkerSid", w.SID)
	v.Set("WorkerName", w.FriendlyName)
	v.Set("WorkerAttributes", w.Attributes)
	v.Set("WorkerActivitySid", w.ActivitySID)
	v.Set("WorkerActivityName", w.ActivityName)
	v.Set("WorkerVersion", strconv.Itoa(w.version))
	v.Set("WorkerPreviousActivitySid", prev.ActivitySID)
	v.Set("WorkerPreviousActivityName", prev.ActivityName)
	v.Set("WorkerTimeInPreviousActivity", strconv.FormatInt(int64(now.Sub(prev.DateStatusChanged).Seconds()), 10))
	v.Set("WorkerTimeInPreviousActivityMs", strconv.FormatInt(now.Sub(prev.DateStatusChanged).Milliseconds(), 10))
	return v
}

// SetWorkerAttributes replaces a worker's attributes behind the client's
// back, e.g. to make its next If-Match fail. It reports whether the worker
// exists.
func (f *Fake) SetWorkerAttributes(identity string, attrs map[string]any) bool {
	b, err := json.Marshal(attrs)
	if err != nil {
		panic(fmt.Sprintf("twiliotest: worker attributes: %v", err))
	}
	return f.changeWorker(identity, func(w *workerState) {
		w.Attributes = string(b)
		w.bump(time.Now())
	})
}

// changeWorker applies change to the worker identity (a friendly name,
// ignoring case) under f.mu, and reports whether the worker exists.
func (f *Fake) changeWorker(identity string, change func(*workerState)) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.workerByName(identity)
	if w == nil {
		return false
	}
	change(w)
	return true
}

// Callers of the helpers below hold f.mu.

func (f *Fake) activityNamed(name string) *activity {
	for i := range f.activities {
		if strings.EqualFold(f.activities[i].name, name) {
			return &f.activities[i]
		}
	}
	return nil
}

// workerByName compares without case: TaskRouter friendly names are
// case-insensitive and unique in a workspace.
func (f *Fake) workerByName(name string) *workerState {
	for _, sid := range f.workerOrder {
		if w := f.workers[sid]; strings.EqualFold(w.FriendlyName, name) {
			return w
		}
	}
	return nil
}

func (f *Fake) insertWorker(name, attrs string, act *activity, queues []string) *workerState {
	now := time.Now()
	w := &workerState{Worker: Worker{
		SID:          f.newSID("WK"),
		FriendlyName: name,
		Attributes:   attrs,
		Queues:       slices.Clone(queues),
		DateCreated:  now,
		UserSID:      f.newSID("US"),
		UserState:    userActive,
	}}
	f.setActivity(w, act, now)
	w.bump(now)
	f.workers[w.SID] = w
	f.workerOrder = append(f.workerOrder, w.SID)
	return w
}

func (f *Fake) setActivity(w *workerState, act *activity, now time.Time) {
	if w.ActivitySID != act.sid {
		w.DateStatusChanged = now
	}
	w.ActivitySID = act.sid
	w.ActivityName = act.name
	w.Available = act.available
}

// JSON shape, field for field as twilio_taskrouter_v1.yaml.
type workerJSON struct {
	AccountSID        string            `json:"account_sid"`
	ActivityName      string            `json:"activity_name"`
	ActivitySID       string            `json:"activity_sid"`
	Attributes        *string           `json:"attributes"`
	Available         bool              `json:"available"`
	DateCreated       *string           `json:"date_created"`
	DateStatusChanged *string           `json:"date_status_changed"`
	DateUpdated       *string           `json:"date_updated"`
	FriendlyName      string            `json:"friendly_name"`
	SID               string            `json:"sid"`
	WorkspaceSID      string            `json:"workspace_sid"`
	URL               string            `json:"url"`
	Links             map[string]string `json:"links"`
}

func (f *Fake) workerJSON(w *workerState, withAttributes bool) workerJSON {
	ws := "https://" + taskrouterHost + "/v1/Workspaces/" + f.cfg.WorkspaceSID
	u := ws + "/Workers/" + w.SID
	out := workerJSON{
		AccountSID:        f.cfg.AccountSID,
		ActivityName:      w.ActivityName,
		ActivitySID:       w.ActivitySID,
		Available:         w.Available,
		DateCreated:       timeJSON(w.DateCreated),
		DateStatusChanged: timeJSON(w.DateStatusChanged),
		DateUpdated:       timeJSON(w.DateUpdated),
		FriendlyName:      w.FriendlyName,
		SID:               w.SID,
		WorkspaceSID:      f.cfg.WorkspaceSID,
		URL:               u,
		Links: map[string]string{
			"channels":          u + "/Channels",
			"activity":          ws + "/Activities/" + w.ActivitySID,
			"workspace":         ws,
			"reservations":      u + "/Reservations",
			"worker_channels":   u + "/Channels",
			"worker_statistics": u + "/Statistics",
		},
	}
	if withAttributes {
		a := w.Attributes
		out.Attributes = &a
	}
	return out
}

// workspaceOK answers 404 for a workspace other than the fake's.
func (f *Fake) workspaceOK(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("ws") != f.cfg.WorkspaceSID {
		writeAPIError(w, errNotFound(r.URL.Path))
		return false
	}
	return true
}

// isAvailableFilter follows TaskRouter: "true", "1" and "yes" ask for
// available workers, anything else for unavailable ones.
func isAvailableFilter(v string) bool {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true
	}
	return false
}

func (f *Fake) listWorkers(w http.ResponseWriter, r *http.Request) {
	if !f.workspaceOK(w, r) {
		return
	}
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	var matched []*workerState
	for _, sid := range f.workerOrder {
		wk := f.workers[sid]
		switch {
		case q.Has("Available") && wk.Available != isAvailableFilter(q.Get("Available")):
		case q.Has("TaskQueueSid") && !slices.Contains(wk.Queues, q.Get("TaskQueueSid")):
		case q.Has("FriendlyName") && !strings.EqualFold(wk.FriendlyName, q.Get("FriendlyName")):
		default:
			matched = append(matched, wk)
		}
	}
	// The page's ETag is made of its workers'.
	h := sha1.New()
	out, e := page(r, list{taskrouterHost, "workers", maxTaskRouterPageSize}, matched,
		func(wk *workerState) string { return wk.SID }, func(wk *workerState) workerJSON {
			h.Write([]byte(wk.ETag))
			return f.workerJSON(wk, !f.cfg.NullListAttributes)
		})
	if e == nil {
		w.Header().Set("ETag", `"`+hex.EncodeToString(h.Sum(nil)[:10])+`"`)
	}
	answer(w, http.StatusOK, out, e)
}

// workerFor finds the worker of the path and checks If-Match. Callers
// hold f.mu.
func (f *Fake) workerFor(w http.ResponseWriter, r *http.Request) *workerState {
	if !f.workspaceOK(w, r) {
		return nil
	}
	wk := f.workers[r.PathValue("sid")]
	if wk == nil {
		writeAPIError(w, errNotFound(r.URL.Path))
		return nil
	}
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != wk.ETag {
		writeError(w, http.StatusPreconditionFailed, codePrecondition, "Precondition failed")
		return nil
	}
	return wk
}

func (f *Fake) fetchWorker(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	wk := f.workerFor(w, r)
	if wk == nil {
		return
	}
	w.Header().Set("ETag", wk.ETag)
	writeJSON(w, http.StatusOK, f.workerJSON(wk, true))
}

func (f *Fake) updateWorker(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	f.mu.Lock()
	defer f.mu.Unlock()
	wk := f.workerFor(w, r)
	if wk == nil {
		return
	}
	if form.Has("Attributes") {
		if e := validJSON(form.Get("Attributes"), 4<<10); e != nil {
			writeAPIError(w, e)
			return
		}
		wk.Attributes = form.Get("Attributes")
	}
	wk.bump(time.Now())
	w.Header().Set("ETag", wk.ETag)
	writeJSON(w, http.StatusOK, f.workerJSON(wk, true))
}

func (f *Fake) deleteWorker(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	wk := f.workerFor(w, r)
	if wk == nil {
		return
	}
	delete(f.workers, wk.SID)
	f.workerOrder = slices.DeleteFunc(f.workerOrder, func(s string) bool { return s == wk.SID })
	w.WriteHeader(http.StatusNoContent)
}

// RemoveWorker deletes a worker by SID, as an administrator would. It
// reports whether the worker existed.
func (f *Fake) RemoveWorker(sid string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.workers[sid] == nil {
		return false
	}
	delete(f.workers, sid)
	f.workerOrder = slices.DeleteFunc(f.workerOrder, func(s string) bool { return s == sid })
	return true
}
