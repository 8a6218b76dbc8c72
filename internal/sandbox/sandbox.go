// Package sandbox runs Expert Hub against the in-process fake Twilio, so a
// person can try the whole flow — bot, routing, CRM-named conversations —
// without a Twilio account, and chat with it from a terminal.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/httpjson"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// Workers are the sample Frontline workers, all available in the pool.
var Workers = []string{"ann@example.com", "bob@example.com", "chloe@example.com", "dora@example.com"}

// displayNames are the sample workers' Frontline display names, which the
// bot calls them by.
var displayNames = map[string]string{
	"ann@example.com":   "Ann Lee",
	"bob@example.com":   "Bob Stone",
	"chloe@example.com": "Chloe Dubois",
	"dora@example.com":  "Dora Park",
}

// expertise are the sample workers' areas (their TaskRouter attributes'
// "expertise"): dora has none.
var expertise = map[string][]string{
	"ann@example.com":   {"watches"},
	"bob@example.com":   {"bridal"},
	"chloe@example.com": {"watches", "jewellery"},
}

// Defaults are the settings the sandbox shows off when they are not set:
// advisor routing (the sample customer Olivia Martin's advisor is ann) and
// the expertise menu. Their one home: Env hands them to every process
// configured for the sandbox (`go run ./cmd/experthub`, the local
// cluster's instances).
//
// FLEX_UI_ORIGINS adds any port of localhost to the Flex UI's origin, so
// a page served locally (the Flex plugin's test harness) may call handoff
// and experts: never a deployment's default.
var Defaults = map[string]string{
	"ROUTING_POLICY":  "advisor,last,bot",
	"EXPERTISE_AREAS": "watches=Watches|montre|watch;bridal=Bridal|wedding|mariage;jewellery=Jewellery|jewelry|ring",
	"FLEX_UI_ORIGINS": config.DefaultFlexUIOrigins + "," + strings.Join(localOrigins, ","),
}

// localOrigins are the origins of pages served on this machine.
var localOrigins = []string{"http://localhost:*", "http://127.0.0.1:*"}

// CompanyNumber is the Frontline number customers text in the sandbox.
const CompanyNumber = "+447828500000"

// FlexAgent is the one agent of the sandbox's Flex contact center: the
// Flex user whose token the sandbox hands out (/sandbox/flex-token).
const FlexAgent = "agent@sandbox.example"

// flexTokenTTL is how long the agent's token is valid: longer than a
// sandbox session, as Flex renews its users' tokens.
const flexTokenTTL = 24 * time.Hour

// Sandbox is a running fake Twilio with a control API for the chat. Its
// fake holds two accounts: the Frontline one and a Flex contact center
// (Flex) with one agent.
type Sandbox struct {
	Fake *twiliotest.Fake
	Flex *twiliotest.Fake
	URL  string
	srv  *http.Server

	handoffURL    string
	handoffSecret string
	agentToken    string // FlexAgent's Flex token
	setProxy      bool   // FRONTLINE_PROXY_NUMBER is not configured: Env sets it
}

// Start starts the sandbox (see New) for the process it runs in: it sets
// the process environment so the application built afterwards talks to
// the fake, and says on log how to chat with it.
func Start(ctx context.Context, cfg *config.Config, log io.Writer) (*Sandbox, error) {
	sb, err := New(cfg)
	if err != nil {
		return nil, err
	}
	for k, v := range sb.Env() {
		if err := os.Setenv(k, v); err != nil {
			sb.Close()
			return nil, err
		}
	}
	fmt.Fprintf(log, "experthub: no Twilio credentials: sandbox Twilio on %s with workers %v\n", sb.URL, Workers)
	fmt.Fprintf(log, "experthub: try it: go run ./cmd/experthub chat --from +33679500001 --sandbox %s\n", sb.URL)
	fmt.Fprintf(log, "experthub: the Flex agent %s's token: GET %s/sandbox/flex-token (for %s and %s)\n",
		FlexAgent, sb.URL, cfg.PublicURL(function.Experts), cfg.PublicURL(function.Handoff))
	return sb, nil
}

// New listens on 127.0.0.1 (SANDBOX_PORT, default PORT+1) and points the
// fake's webhooks at the functions' public URLs. Env says how to point
// Expert Hub processes at it: the one it runs in, or others.
func New(cfg *config.Config) (*Sandbox, error) {
	port := cfg.SandboxPort
	if port == "" {
		p, err := strconv.Atoi(cfg.Port)
		if err != nil {
			return nil, fmt.Errorf("sandbox port: PORT %q is not a number", cfg.Port)
		}
		port = strconv.Itoa(p + 1)
	}
	desc, err := deployment.Load()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	token, err := randomHex(16)
	if err != nil {
		return nil, err
	}
	fake := twiliotest.New(twiliotest.Config{AuthToken: token})
	flexSID, err := randomHex(16)
	if err != nil {
		return nil, err
	}
	flexToken, err := randomHex(16)
	if err != nil {
		return nil, err
	}
	secret, err := randomHex(24)
	if err != nil {
		return nil, err
	}
	flex := fake.AddAccount(twiliotest.AccountConfig{AccountSID: "AC" + flexSID, AuthToken: flexToken})
	flex.AddWorker(FlexAgent, true, nil, flex.QueueSID())
	for i, w := range Workers {
		// Distinct idle times, so "agent" picks a predictable worker.
		attrs := map[string]any{"lastAcceptedTaskTime": 1_700_000_000_000 + i}
		if areas := expertise[w]; areas != nil {
			attrs["expertise"] = areas
		}
		fake.AddWorker(w, true, attrs, fake.QueueSID())
		fake.SetDisplayName(w, displayNames[w])
	}
	// The webhooks' filters are the events the deployment description
	// subscribes the pre- and post-event functions to.
	fake.SetWebhooks(twiliotest.Webhooks{
		PreWebhookURL:  cfg.PublicURL(function.PreEvent),
		PostWebhookURL: cfg.PublicURL(function.PostEvent),
		Filters:        slices.Concat(desc.PreEventFilters, desc.PostEventFilters),
		RoutingURL:     cfg.PublicURL(function.Routing),
	})
	// A worker coming back (/back in the chat) serves the waiting line at
	// once, as TaskRouter's event callback does.
	fake.SetEventCallback(cfg.PublicURL(function.TaskRouterEvents))
	// The Flex agent ending a task settles the customer's conversation
	// (flex-events), as the Flex workspace's event callback does.
	flex.SetEventCallback(cfg.PublicURL(function.FlexEvents))
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		fake.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	sb := &Sandbox{Fake: fake, Flex: flex, URL: "http://" + l.Addr().String(),
		handoffURL: cfg.PublicURL(function.Handoff), handoffSecret: secret, setProxy: cfg.ProxyNumber == "",
		agentToken: flex.MintFlexToken(FlexAgent, []string{"agent"}, flexTokenTTL)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sandbox/handoff", sb.handoff)
	mux.HandleFunc("GET /sandbox/flex-tasks", sb.flexTasks)
	mux.HandleFunc("GET /sandbox/flex-token", sb.flexToken)
	mux.HandleFunc("POST /sandbox/flex-tasks/end", sb.endTask)
	mux.HandleFunc("POST /sandbox/texts", sb.customerTexts)
	mux.HandleFunc("POST /sandbox/worker-texts", sb.workerTexts)
	mux.HandleFunc("POST /sandbox/availability", sb.availability)
	mux.HandleFunc("POST /sandbox/close", sb.close)
	mux.HandleFunc("POST /sandbox/leave", sb.leave)
	mux.HandleFunc("GET /sandbox/conversations/{sid}", sb.conversation)
	mux.Handle("/", fake)
	sb.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = sb.srv.Serve(l) }()
	return sb, nil
}

// Env returns the variables that make an Expert Hub process talk to the
// sandbox as its Twilio account, and the Defaults this process's
// environment does not set.
func (sb *Sandbox) Env() map[string]string {
	env := map[string]string{
		"TWILIO_ACCOUNT_SID":           sb.Fake.AccountSID(),
		"TWILIO_AUTH_TOKEN":            sb.Fake.AuthToken(),
		"TWILIO_API_BASE_URL":          sb.URL,
		"FRONTLINE_WORKSPACE":          sb.Fake.WorkspaceSID(),
		"FRONTLINE_DEFAULT_POOL_QUEUE": sb.Fake.QueueSID(),
		"FRONTLINE_MESSAGING_SERVICE":  sb.Fake.MessagingServiceSID(),
		"FLEX_ACCOUNT_SID":             sb.Flex.AccountSID(),
		"FLEX_AUTH_TOKEN":              sb.Flex.AuthToken(),
		"FLEX_WORKSPACE":               sb.Flex.WorkspaceSID(),
		"FLEX_WORKFLOW":                sb.Flex.WorkflowSID(),
		"HANDOFF_SECRET":               sb.handoffSecret,
	}
	if sb.setProxy {
		// Conversations the contact center hands over are sent from it.
		env["FRONTLINE_PROXY_NUMBER"] = CompanyNumber
	}
	for k, v := range Defaults {
		if os.Getenv(k) == "" {
			env[k] = v
		}
	}
	return env
}

// Close stops the sandbox.
func (sb *Sandbox) Close() {
	_ = sb.srv.Close()
	sb.Fake.Close()
}

type textRequest struct {
	From         string `json:"from"`
	To           string `json:"to"`
	Conversation string `json:"conversation"`
	Identity     string `json:"identity"`
	Body         string `json:"body"`
}

type availabilityRequest struct {
	Identity  string `json:"identity"`
	Available bool   `json:"available"`
}

// availability moves a sample worker to Available or Offline, as the
// worker would in the Frontline app.
func (sb *Sandbox) availability(w http.ResponseWriter, r *http.Request) {
	var req availabilityRequest
	if !decode(w, r, &req) {
		return
	}
	if !sb.Fake.SetWorkerAvailable(req.Identity, req.Available) {
		http.Error(w, "no such worker", http.StatusNotFound)
		return
	}
	httpjson.Write(w, http.StatusOK, req)
}

// close closes a conversation, as its timer or a Frontline user does:
// Twilio sends onConversationStateUpdated.
func (sb *Sandbox) close(w http.ResponseWriter, r *http.Request) {
	act(w, r, func(ctx context.Context, req textRequest) error {
		return sb.Fake.CloseConversation(ctx, req.Conversation)
	})
}

// leave has a worker leave a conversation, as from the Frontline app:
// Twilio sends onParticipantRemoved.
func (sb *Sandbox) leave(w http.ResponseWriter, r *http.Request) {
	act(w, r, func(ctx context.Context, req textRequest) error {
		return sb.Fake.RemoveParticipant(ctx, req.Conversation, req.Identity)
	})
}

// act does what a request asks of a conversation and answers with the
// request, or 404 with the fake's error.
func act(w http.ResponseWriter, r *http.Request, do func(context.Context, textRequest) error) {
	var req textRequest
	if !decode(w, r, &req) {
		return
	}
	if err := do(r.Context(), req); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	httpjson.Write(w, http.StatusOK, req)
}

func (sb *Sandbox) customerTexts(w http.ResponseWriter, r *http.Request) {
	var req textRequest
	if !decode(w, r, &req) {
		return
	}
	if req.From == "" || req.Body == "" {
		http.Error(w, "from and body are required", http.StatusBadRequest)
		return
	}
	if req.To == "" {
		req.To = CompanyNumber
	}
	res, err := sb.Fake.CustomerTexts(r.Context(), req.From, req.To, req.Body)
	reply(w, res, err)
}

func (sb *Sandbox) workerTexts(w http.ResponseWriter, r *http.Request) {
	var req textRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Conversation == "" || req.Identity == "" || req.Body == "" {
		http.Error(w, "conversation, identity and body are required", http.StatusBadRequest)
		return
	}
	res, err := sb.Fake.WorkerTexts(r.Context(), req.Conversation, req.Identity, req.Body)
	reply(w, res, err)
}

// State is a conversation as the Frontline app shows it.
type State struct {
	FriendlyName string        `json:"friendly_name"`
	Attributes   string        `json:"attributes"`
	Participants []Participant `json:"participants"`
	Messages     []Message     `json:"messages"`
}

// Participant is a conversation member.
type Participant struct {
	Identity   string `json:"identity,omitempty"`
	Address    string `json:"address,omitempty"`
	Attributes string `json:"attributes"`
}

// Message is a published message.
type Message struct {
	Index  int    `json:"index"`
	Author string `json:"author"`
	Body   string `json:"body"`
}

func (sb *Sandbox) conversation(w http.ResponseWriter, r *http.Request) {
	sid := r.PathValue("sid")
	c, ok := sb.Fake.Conversation(sid)
	if !ok {
		http.Error(w, "no such conversation", http.StatusNotFound)
		return
	}
	st := State{FriendlyName: c.FriendlyName, Attributes: c.Attributes}
	for _, p := range sb.Fake.Participants(sid) {
		sp := Participant{Identity: p.Identity, Attributes: p.Attributes}
		if p.Binding != nil {
			sp.Address = p.Binding.Address
		}
		st.Participants = append(st.Participants, sp)
	}
	for _, m := range sb.Fake.Messages(sid) {
		st.Messages = append(st.Messages, Message{Index: m.Index, Author: m.Author, Body: m.Body})
	}
	httpjson.Write(w, http.StatusOK, st)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(v); err != nil {
		http.Error(w, "want a JSON body", http.StatusBadRequest)
		return false
	}
	return true
}

// textResult is what the chat needs of a text.
type textResult struct {
	Conversation string `json:"conversation"`
	Rejected     bool   `json:"rejected"`
}

func reply(w http.ResponseWriter, res twiliotest.TextResult, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	httpjson.Write(w, http.StatusOK, textResult{Conversation: res.ConversationSID, Rejected: res.Rejected})
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("sandbox token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
