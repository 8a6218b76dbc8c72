// Package twiliotest is an in-process, stateful fake of the parts of Twilio
// Expert Hub talks to: the Conversations v1, TaskRouter v1, Frontline
// v1 (users), Content v1 (WhatsApp approvals) and IAM v1 (Flex tokens'
// validation) REST endpoints internal/twilio calls (real JSON shapes, pagination, errors,
// Basic auth, ETag and If-Match), and Twilio's side of the webhooks — a
// customer or a worker texting, with signed pre/post-event and Frontline
// routing callbacks. Any other endpoint or parameter is answered 400 with
// an error naming it, so a client that starts using one fails clearly.
//
// Point a client at it by rewriting https://<product>.twilio.com to the
// server's URL, keeping the path (internal/twilio does this with its
// BaseURL). Next-page and resource URLs in responses name the real Twilio
// hosts, as Twilio's do.
//
// Test controls: SetLatency, FailNext, HangNext, HoldNext, the request log
// (Requests, SequentialRoundTrips), state accessors and seeding helpers.
package twiliotest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/experthub/experthub/internal/twilio"
)

// Defaults of Config. Credentials are alphanumeric, as twilio-go requires.
const (
	DefaultAccountSID = "ACf00000000000000000000000000000aa"
	DefaultAuthToken  = "fa4e0000000000000000000000000a07"
	DefaultWorkspace  = "WSf00000000000000000000000000000aa"
	DefaultQueue      = "WQf00000000000000000000000000000aa"
	DefaultChat       = "ISf00000000000000000000000000000aa"
	DefaultMessaging  = "MGf00000000000000000000000000000aa"
	DefaultWorkflow   = "WWf00000000000000000000000000000aa"

	// DefaultWebhookTimeout is how long Conversations waits for a
	// pre-event answer before publishing unmodified (https://www.twilio.com/docs/conversations/conversations-webhooks).
	DefaultWebhookTimeout = 5 * time.Second
	// DefaultRoutingTimeout bounds the Frontline routing callback, whose
	// limit Twilio does not document.
	DefaultRoutingTimeout = 10 * time.Second
)

// Config configures a Fake. Zero fields take the defaults above.
type Config struct {
	AccountSID string
	AuthToken  string
	// APIKey and APISecret, when set, are accepted as Basic auth too.
	APIKey    string
	APISecret string

	WorkspaceSID        string
	WorkflowSID         string // the workspace's one workflow
	QueueSID            string // the default TaskQueue
	ChatServiceSID      string
	MessagingServiceSID string

	// NullListAttributes makes worker lists return "attributes": null, which
	// the TaskRouter spec allows for anything but a fetch (https://www.twilio.com/docs/taskrouter/api/worker).
	NullListAttributes bool

	WebhookTimeout time.Duration
	RoutingTimeout time.Duration
	// HTTPClient delivers webhooks; nil means a plain http.Client.
	HTTPClient *http.Client
}

// Fake is the fake Twilio. It is an http.Handler; NewServer also listens.
// It is safe for concurrent use.
type Fake struct {
	cfg       Config
	mux       *http.ServeMux
	done      chan struct{}
	closeOnce sync.Once

	mu          sync.Mutex
	seq         uint64
	convs       map[string]*conversationState
	convOrder   []string
	workers     map[string]*workerState
	workerOrder []string
	activities  []activity
	latency     time.Duration
	faults      []*fault
	outage      int // status every REST request gets; 0: none
	requests    []Request
	hooks       Webhooks
	workspace   workspaceState
	deliveries  []Delivery
	rejections  []Rejection
	tasks       []*Task
	// accounts are the other accounts served on the same URL, by
	// account SID and API key (AddAccount).
	accounts map[string]*Fake
	// flexTokens are the Flex user tokens the account issued (flextokens.go).
	flexTokens map[string]flexToken
	// contents are the account's Content API templates (content.go).
	contents map[string]contentState
}

// New returns a Fake with cfg's defaults filled in and no listener.
func New(cfg Config) *Fake {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.AccountSID, DefaultAccountSID)
	def(&cfg.AuthToken, DefaultAuthToken)
	def(&cfg.WorkspaceSID, DefaultWorkspace)
	def(&cfg.QueueSID, DefaultQueue)
	def(&cfg.WorkflowSID, DefaultWorkflow)
	def(&cfg.ChatServiceSID, DefaultChat)
	def(&cfg.MessagingServiceSID, DefaultMessaging)
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = DefaultWebhookTimeout
	}
	if cfg.RoutingTimeout <= 0 {
		cfg.RoutingTimeout = DefaultRoutingTimeout
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	f := &Fake{
		cfg:     cfg,
		done:    make(chan struct{}),
		convs:   map[string]*conversationState{},
		workers: map[string]*workerState{},
	}
	f.activities = []activity{
		{sid: f.newSID("WA"), name: "Offline"},
		{sid: f.newSID("WA"), name: "Available", available: true},
		{sid: f.newSID("WA"), name: "Unavailable"},
	}
	now := time.Now()
	f.workspace = workspaceState{friendlyName: "Frontline Workspace", dateCreated: now, dateUpdated: now}
	f.hooks = Webhooks{Method: http.MethodPost, Target: "webhook"}
	f.mux = f.routes()
	return f
}

// Close releases hung requests. It does not stop a listener; Server.Close
// does.
func (f *Fake) Close() {
	f.closeOnce.Do(func() { close(f.done) })
}

// AccountSID returns the account SID clients must authenticate with.
func (f *Fake) AccountSID() string { return f.cfg.AccountSID }

// AuthToken returns the auth token; it also signs webhooks.
func (f *Fake) AuthToken() string { return f.cfg.AuthToken }

// WorkspaceSID returns the TaskRouter workspace.
func (f *Fake) WorkspaceSID() string { return f.cfg.WorkspaceSID }

// WorkflowSID returns the workspace's workflow.
func (f *Fake) WorkflowSID() string { return f.cfg.WorkflowSID }

// MessagingServiceSID returns the messaging service conversations are
// created in.
func (f *Fake) MessagingServiceSID() string { return f.cfg.MessagingServiceSID }

// QueueSID returns the default TaskQueue.
func (f *Fake) QueueSID() string { return f.cfg.QueueSID }

// Server is a Fake listening on a local port.
type Server struct {
	*Fake
	URL string
	srv *httptest.Server
}

// NewServer starts a Fake on a local port. Close it when done.
func NewServer(cfg Config) *Server {
	f := New(cfg)
	srv := httptest.NewServer(f)
	return &Server{Fake: f, URL: srv.URL, srv: srv}
}

// Close stops the server after releasing hung requests.
func (s *Server) Close() {
	s.Fake.Close()
	s.srv.Close()
}

// ClientConfig returns the configuration of an internal/twilio client
// that talks to this server.
func (s *Server) ClientConfig() twilio.Config {
	return twilio.Config{
		AccountSID: s.cfg.AccountSID,
		AuthToken:  s.cfg.AuthToken,
		BaseURL:    s.URL,
	}
}

// Request is one REST request the fake received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Form   url.Values // the form-encoded body of a POST
	Header http.Header
	// Status is the answer's status code; 0 when the fake never answered
	// (a hang, or the client gave up during latency). A held request
	// (HoldNext) has the status of its answer, read or not.
	Status int
	// Start is when the request arrived, End when the answer began to be
	// written (or the fake gave up on it).
	Start, End time.Time
}

// Requests returns the REST requests the fake is done with, in the order
// it finished them. A hung request is logged once its client gave up (or
// the fake closed), so it may show up shortly after the client returned.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// ClearRequests empties the request log, e.g. after seeding.
func (f *Fake) ClearRequests() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

// SequentialRoundTrips counts the round trips of reqs that happened one
// after another: the longest chain of requests each started once the one
// before had ended. Requests sent at once count once; a request sent when
// an earlier one ended counts again, even while others of the earlier
// round are still in flight. It is the latency cost of an operation in
// units of one Twilio round trip.
func SequentialRoundTrips(reqs []Request) int {
	sorted := slices.Clone(reqs)
	slices.SortFunc(sorted, func(a, b Request) int { return a.Start.Compare(b.Start) })
	chain := make([]int, len(sorted)) // the longest chain ending with sorted[i]
	longest := 0
	for i, r := range sorted {
		chain[i] = 1
		for j := range i {
			if !r.Start.Before(sorted[j].End) {
				chain[i] = max(chain[i], chain[j]+1)
			}
		}
		longest = max(longest, chain[i])
	}
	return longest
}

// SetLatency delays every REST answer by d, for benchmarks.
func (f *Fake) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

type fault struct {
	method, prefix string
	status         int
	retryAfter     time.Duration
	hang           bool
	hold           time.Duration // > 0: performed after this long, client or not
}

func (ft *fault) matches(r *http.Request) bool {
	return (ft.method == "" || ft.method == r.Method) && strings.HasPrefix(r.URL.Path, ft.prefix)
}

// FailNext makes the next request whose method is method (any when empty)
// and whose path starts with pathPrefix fail with status and a Twilio
// error body (code 20000+status, e.g. 20429). A positive retryAfter is
// sent as Retry-After in whole seconds, rounded up. Faults queue: two
// calls fail the next two matching requests.
func (f *Fake) FailNext(method, pathPrefix string, status int, retryAfter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &fault{method: method, prefix: pathPrefix, status: status, retryAfter: retryAfter})
}

// HangNext makes the next matching request go unanswered until the client
// gives up or the fake is closed: a timeout.
func (f *Fake) HangNext(method, pathPrefix string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &fault{method: method, prefix: pathPrefix, hang: true})
}

// HoldNext makes the next matching request wait d and then be carried
// out and answered, even if its client gave up meanwhile: Twilio acts on
// a request it received whether or not anyone still waits for the
// answer. A client whose timeout is shorter than d sees a timeout for a
// request that did take effect, d after it was sent.
func (f *Fake) HoldNext(method, pathPrefix string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &fault{method: method, prefix: pathPrefix, hold: d})
}

// SetOutage makes every REST request fail with status (and a Twilio error
// body) until SetOutage(0): Twilio's API down, as in an incident.
func (f *Fake) SetOutage(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outage = status
}

func (f *Fake) takeFault(r *http.Request) *fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.outage != 0 {
		return &fault{status: f.outage}
	}
	for i, ft := range f.faults {
		if ft.matches(r) {
			f.faults = slices.Delete(f.faults, i, i+1)
			return ft
		}
	}
	return nil
}

// ServeHTTP serves the REST API.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if acc := f.accountFor(r); acc != nil {
		acc.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	// Parse the body before anything answers, so the log has it.
	_ = r.ParseForm()
	sw := &statusWriter{ResponseWriter: w}
	f.serve(sw, r)
	req := Request{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Form:   r.PostForm,
		Header: r.Header.Clone(),
		Status: sw.status,
		Start:  start,
		End:    sw.answered,
	}
	if req.End.IsZero() {
		req.End = time.Now()
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	latency := f.latency
	f.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-f.done:
			return
		}
	}
	ft := f.takeFault(r)
	if ft != nil && ft.hold > 0 {
		t := time.NewTimer(ft.hold)
		defer t.Stop()
		select {
		case <-t.C:
		case <-f.done:
			return
		}
		ft = nil // carried out as usual, whoever still listens
	}
	if ft != nil {
		if ft.hang {
			select {
			case <-r.Context().Done():
			case <-f.done:
			}
			return
		}
		if ft.retryAfter > 0 {
			secs := (ft.retryAfter + time.Second - 1) / time.Second
			w.Header().Set("Retry-After", strconv.Itoa(int(secs)))
		}
		writeError(w, ft.status, 20000+ft.status, http.StatusText(ft.status))
		return
	}
	if !f.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if _, ok := r.Header["X-Twilio-Webhook-Enabled"]; ok {
		// Our REST actions must not fire our own webhooks (https://www.twilio.com/docs/conversations/conversations-webhooks).
		writeAPIError(w, errInvalid("twiliotest does not support X-Twilio-Webhook-Enabled"))
		return
	}
	f.mux.ServeHTTP(w, r)
}

func (f *Fake) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	if user == f.cfg.AccountSID && pass == f.cfg.AuthToken {
		return true
	}
	return f.cfg.APIKey != "" && user == f.cfg.APIKey && pass == f.cfg.APISecret
}

// statusWriter records the status and when the answer began: the client
// may have the whole answer before the handler returns, and be on its
// next request.
type statusWriter struct {
	http.ResponseWriter
	status   int
	answered time.Time
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status, w.answered = code, time.Now()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status, w.answered = http.StatusOK, time.Now()
	}
	return w.ResponseWriter.Write(b)
}

// routes serves the endpoints internal/twilio calls, and what tests do by
// hand (closing a conversation, deleting a worker). Each accepts the query
// (GET) or form (POST) parameters listed, the ones its handler reads.
func (f *Fake) routes() *http.ServeMux {
	m := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc, params ...string) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			for k := range r.Form {
				if !slices.Contains(params, k) {
					writeAPIError(w, errInvalid("twiliotest does not support the parameter "+k+" of "+pattern))
					return
				}
			}
			h(w, r)
		})
	}
	paging := []string{"PageSize", "Page", "PageToken"}
	handle("POST /v1/Conversations", f.createConversation, "FriendlyName", "UniqueName", "Attributes", "MessagingServiceSid", "State", "Timers.Inactive", "Timers.Closed")
	handle("GET /v1/Conversations/{conv}", f.fetchConversation)
	handle("POST /v1/Conversations/{conv}", f.updateConversation, "FriendlyName", "Attributes", "State", "Timers.Inactive", "Timers.Closed")
	handle("GET /v1/ParticipantConversations", f.listParticipantConversations, append(paging, "Address", "Identity")...)
	handle("POST /v1/Workspaces/{ws}/Tasks", f.createTask, "Attributes", "WorkflowSid", "TaskChannel", "Timeout")
	handle("GET /v1/Workspaces/{ws}/Tasks", f.listTasks, append(paging, "EvaluateTaskAttributes")...)
	handle("GET /v1/Workspaces/{ws}/Tasks/{sid}", f.fetchTask)
	handle("POST /v1/Workspaces/{ws}/Tasks/{sid}", f.updateTask, "AssignmentStatus", "Reason")
	handle("DELETE /v1/Workspaces/{ws}/Tasks/{sid}", f.deleteTask)
	handle("GET /v1/Conversations/{conv}/Participants", f.listParticipants, paging...)
	handle("POST /v1/Conversations/{conv}/Participants", f.createParticipant, "Identity", "Attributes", "MessagingBinding.Address", "MessagingBinding.ProxyAddress")
	handle("GET /v1/Conversations/{conv}/Participants/{sid}", f.fetchParticipant)
	handle("POST /v1/Conversations/{conv}/Participants/{sid}", f.updateParticipant, "Attributes")
	handle("GET /v1/Conversations/{conv}/Messages", f.listMessages, append(paging, "Order")...)
	handle("POST /v1/Conversations/{conv}/Messages", f.createMessage, "Author", "Body", "Attributes", "ContentSid", "ContentVariables")
	handle("GET /v1/Configuration/Webhooks", f.fetchConfigurationWebhook)
	handle("POST /v1/Configuration/Webhooks", f.updateConfigurationWebhook, "Method", "Filters", "PreWebhookUrl", "PostWebhookUrl", "Target")
	handle("GET /v1/Workspaces/{ws}", f.fetchWorkspace)
	handle("POST /v1/Workspaces/{ws}", f.updateWorkspace, "EventCallbackUrl", "EventsFilter")
	handle("GET /v1/Workspaces/{ws}/TaskQueues/{sid}", f.fetchTaskQueue)
	handle("GET /v1/Workspaces/{ws}/Workflows/{sid}", f.fetchWorkflow)
	handle("GET /v1/Workspaces/{ws}/Workers", f.listWorkers, slices.Concat(paging, []string{"Available", "TaskQueueSid", "FriendlyName"})...)
	handle("GET /v1/Workspaces/{ws}/Workers/{sid}", f.fetchWorker)
	handle("POST /v1/Workspaces/{ws}/Workers/{sid}", f.updateWorker, "Attributes")
	handle("DELETE /v1/Workspaces/{ws}/Workers/{sid}", f.deleteWorker)
	// Frontline's host (users.go): the Conversations host's users are not served.
	handle("GET /v1/Users/{sid}", f.fetchUser)
	// Content's host (content.go).
	handle("GET /v1/Content/{sid}/ApprovalRequests", f.fetchContentApproval)
	// IAM's host (flextokens.go).
	handle("POST /v1/Accounts/{account}/Tokens/validate", f.validateFlexToken)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, errInvalid("twiliotest does not serve "+r.Method+" "+r.URL.Path+": internal/twilio does not call it"))
	})
	return m
}

// newSID returns a fresh SID with prefix. Callers hold f.mu or own f.
func (f *Fake) newSID(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s%032x", prefix, f.seq)
}

// apiError is a Twilio error answer.
type apiError struct {
	status, code int
	msg          string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %d: %s", e.status, e.code, e.msg) }

// Codes the fake answers with. Where Twilio's exact code for a case is not
// documented, the fake uses 20001 (invalid parameter).
const (
	codeInvalid           = 20001
	codeNotFound          = 20404
	codeParticipantExists = 50433
	codeBindingInUse      = 50416 // https://www.twilio.com/docs/api/errors/50416
	codeUniqueNameExists  = 50353
	codePrecondition      = 20412
	// codeConversationClosed: a closed conversation takes no change
	// (https://www.twilio.com/docs/api/errors/50377).
	codeConversationClosed = 50377
	// codeInvalidContentSID: a ContentSid that is not HX and 32 hex
	// digits (https://www.twilio.com/docs/api/errors/50526).
	codeInvalidContentSID = 50526
	// codeTimersWithoutState: timers set on create without State
	// (https://www.twilio.com/docs/api/errors/50382).
	codeTimersWithoutState = 50382
)

func errNotFound(what string) *apiError {
	return &apiError{http.StatusNotFound, codeNotFound, "The requested resource " + what + " was not found"}
}

func errInvalid(msg string) *apiError {
	return &apiError{http.StatusBadRequest, codeInvalid, msg}
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
		Status   int    `json:"status"`
	}{code, msg, fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), status})
}

func writeAPIError(w http.ResponseWriter, e *apiError) { writeError(w, e.status, e.code, e.msg) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// validJSON checks an attributes value: Twilio requires structurally valid
// JSON and caps its size.
func validJSON(s string, limit int) *apiError {
	if !json.Valid([]byte(s)) {
		return errInvalid("Attributes must be valid JSON")
	}
	if len(s) > limit {
		return errInvalid("Attributes exceed " + strconv.Itoa(limit) + " bytes")
	}
	return nil
}

func timeJSON(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
