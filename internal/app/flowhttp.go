package app

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/httpjson"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/twilio"
)

// The conversation flow's HTTP edge: each webhook decoded into the typed
// input of a conversation.Flow method, and its outcome into the answer
// Twilio (or the contact center, or the scheduler) gets. The callers are
// checked before these handlers run (webhook.Verifier, the OIDC gates,
// handoffGate).

// form returns the webhook's parameters: webhook.Verifier has decoded
// them into r.PostForm.
func form(r *http.Request) url.Values {
	if r.PostForm == nil {
		_ = r.ParseForm()
	}
	return r.PostForm
}

func get(form url.Values, key string) string { return strings.TrimSpace(form.Get(key)) }

// ok answers 200 with an empty JSON object: Twilio leaves the action as it
// is, and Frontline expects JSON.
func ok(w http.ResponseWriter) { httpjson.Write(w, http.StatusOK, struct{}{}) }

// answerWork answers a webhook that started conversation work: 200 when
// the work is done or safely queued; 404 when Twilio can never complete
// it (the conversation is gone); 500 only when it neither ran nor could
// be queued: Twilio never redelivers, so that work is lost.
func answerWork(w http.ResponseWriter, o taskqueue.Outcome) {
	switch o {
	case taskqueue.Done, taskqueue.Queued:
		ok(w)
	case taskqueue.Gone:
		httpjson.Error(w, http.StatusNotFound, "not found")
	default:
		httpjson.Error(w, http.StatusInternalServerError, "conversation work failed")
	}
}

// routingHandler is Frontline's custom routing callback for a new inbound
// conversation: the welcome, and the routing policy.
func routingHandler(flow *conversation.Flow, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := form(r)
		conv := get(p, "ConversationSid")
		if !twilio.IsSID(conv, "CH") {
			log.WarnContext(r.Context(), "routing callback without a valid ConversationSid", "conversation", conv)
			httpjson.Error(w, http.StatusBadRequest, "ConversationSid is required")
			return
		}
		answerWork(w, flow.Welcome(r.Context(), conv, get(p, "MessagingBinding.Address")))
	})
}

// postEventHandler is the Conversations post-event webhook. Twilio
// ignores the answer; the status still tells logs and retries what
// happened.
func postEventHandler(flow *conversation.Flow, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := form(r)
		ctx := r.Context()
		event := get(p, "EventType")
		e, known := postEvents[event]
		if !known {
			log.DebugContext(ctx, "post-event ignored", "event", event)
			ok(w)
			return
		}
		want := []sid{{"ConversationSid", "CH"}}
		if e.id.key != "" {
			want = append(want, e.id)
		}
		ids, valid := sids(w, r, log, event, want...)
		if !valid {
			return
		}
		ids = append(ids, "")
		answerWork(w, e.work(ctx, flow, p, ids[0], ids[1]))
	})
}

// postEvents are the post-events that start conversation work: the SID
// each names beside its ConversationSid (none: a zero sid), and the work,
// given both.
var postEvents = map[string]struct {
	id   sid
	work func(ctx context.Context, flow *conversation.Flow, p url.Values, conv, id string) taskqueue.Outcome
}{
	"onMessageAdded": {sid{"MessageSid", "IM"}, func(ctx context.Context, flow *conversation.Flow, p url.Values, conv, msg string) taskqueue.Outcome {
		return flow.MessageAdded(ctx, conversation.Inbound{
			Conversation: conv, Message: msg, Author: get(p, "Author"), Body: get(p, "Body"),
			Source: get(p, "Source"), ClientIdentity: get(p, "ClientIdentity"),
		})
	}},
	"onConversationStateUpdated": {sid{}, func(ctx context.Context, flow *conversation.Flow, p url.Values, conv, _ string) taskqueue.Outcome {
		return flow.StateUpdated(ctx, conversation.StateChange{
			Conversation: conv, From: get(p, "StateFrom"), To: get(p, "StateTo"), Reason: get(p, "Reason"),
		})
	}},
	"onParticipantRemoved": {sid{"ParticipantSid", "MB"}, func(ctx context.Context, flow *conversation.Flow, p url.Values, conv, part string) taskqueue.Outcome {
		return flow.ParticipantRemoved(ctx, conversation.Left{Conversation: conv, Participant: part, Identity: get(p, "Identity")})
	}},
	"onParticipantAdded": {sid{"ParticipantSid", "MB"}, func(ctx context.Context, flow *conversation.Flow, p url.Values, conv, part string) taskqueue.Outcome {
		return flow.ParticipantAdded(ctx, conversation.Joined{
			Conversation: conv, Participant: part, Identity: get(p, "Identity"), Address: get(p, "MessagingBinding.Address"),
			Described: !twilio.EmptyAttributes(get(p, "Attributes")),
		})
	}},
}

// sid names a parameter that must be a Twilio SID with prefix.
type sid struct{ key, prefix string }

// sids returns the event's parameters named by want, or answers 400 and
// reports false when one is not a valid SID.
func sids(w http.ResponseWriter, r *http.Request, log *slog.Logger, event string, want ...sid) ([]string, bool) {
	p := form(r)
	var got, keys []string
	valid := true
	for _, s := range want {
		v := get(p, s.key)
		got, keys = append(got, v), append(keys, s.key)
		valid = valid && twilio.IsSID(v, s.prefix)
	}
	if !valid {
		log.WarnContext(r.Context(), event+" without a valid "+strings.Join(keys, " and "), "sids", got)
		httpjson.Error(w, http.StatusBadRequest, strings.Join(keys, " and ")+" are required")
	}
	return got, valid
}

// conversationChanges is an onConversationAdd answer: the fields Twilio
// sets on the conversation it is about to create.
type conversationChanges struct {
	FriendlyName string `json:"friendly_name,omitempty"`
	// Attributes is a JSON string, as Twilio wants it.
	Attributes string `json:"attributes,omitempty"`
}

// preEventHandler is the Conversations pre-event webhook. Every path
// answers 200, panics included: a 4xx or 5xx would make Twilio drop the
// conversation or the message. It does nothing that can fail:
// onConversationAdd names the conversation from one cache read,
// onMessageAdd is let through at once (the bot answers the post-event
// onMessageAdded, once the message is published).
func preEventHandler(flow *conversation.Flow, log *slog.Logger) http.Handler {
	var announce sync.Once
	return httpjson.OKOnPanic(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := form(r)
		switch event := get(p, "EventType"); event {
		case "onConversationAdd":
			n := flow.NameConversation(r.Context(), get(p, "MessagingBinding.Address"))
			httpjson.Write(w, http.StatusOK, changes(r.Context(), log, n, get(p, "Attributes")))
		case "onMessageAdd":
			announce.Do(func() {
				log.InfoContext(r.Context(), "onMessageAdd is let through untouched: the bot answers on the post-event onMessageAdded; "+
					"the pre-event filter needs only onConversationAdd")
			})
			ok(w)
		default:
			log.DebugContext(r.Context(), "pre-event ignored", "event", event)
			ok(w)
		}
	}))
}

// changes is the answer naming a new conversation n, whose attributes are
// attributes: the name cut to Twilio's limit (a longer one would drop the
// conversation), the avatar added unless it does not fit.
func changes(ctx context.Context, log *slog.Logger, n conversation.Naming, attributes string) conversationChanges {
	out := conversationChanges{FriendlyName: twilio.Truncate(n.Name, twilio.MaxFriendlyName)}
	if n.Avatar == "" {
		return out
	}
	m, err := twilio.ParseAttributes(attributes)
	if err != nil {
		log.WarnContext(ctx, "conversation attributes are not a JSON object; leaving them", "err", err)
		return out
	}
	s, dropped, err := twilio.MergeAttributes(m, map[string]string{"avatar": n.Avatar}, []string{"avatar"}, twilio.MaxConversationAttributes)
	if len(dropped) > 0 || err != nil {
		log.WarnContext(ctx, "customer avatar too long for the conversation's attributes; left out", "err", err)
	}
	out.Attributes = s
	return out
}

// eventsHandler is the TaskRouter workspace event callback
// (EventCallbackUrl): a worker event queues a drain of the waiting line
// and is answered 204 at once, well within the 15 s TaskRouter waits
// (https://www.twilio.com/docs/taskrouter/api/event/reference). Other
// events are answered 204 and ignored.
func eventsHandler(flow *conversation.Flow, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := form(r)
		typ := get(p, "EventType")
		if typ == "" {
			log.WarnContext(r.Context(), "TaskRouter event without an EventType")
			httpjson.Error(w, http.StatusBadRequest, "EventType is required")
			return
		}
		if strings.HasPrefix(typ, "worker.") {
			// The event's Sid (EV…) names one event: a redelivery queues
			// nothing more. Without one, the worker and the time do.
			trigger := get(p, "Sid")
			if !twilio.IsSID(trigger, "EV") {
				trigger = "ev-" + get(p, "WorkerSid") + "-" + get(p, "TimestampMs") + get(p, "Timestamp")
			}
			flow.OnWorkerEvent(r.Context(), conversation.WorkerEvent{
				Trigger: trigger, Type: typ, WorkerSID: get(p, "WorkerSid"), Activity: get(p, "WorkerActivityName"),
			})
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNoContent)
	})
}

// sweepHandler drains the waiting line now and settles the handoffs to
// Flex whose task ended: the scheduler calls it every minute, in case an
// event was missed or a workspace's event callback is another system's.
func sweepHandler(flow *conversation.Flow, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), taskqueue.DeliveryTimeout)
		defer cancel()
		err := flow.Drain(ctx)
		if err != nil {
			log.WarnContext(ctx, "sweeping the waiting line failed; the next sweep tries again", "err", err)
		}
		if ferr := flow.ReconcileFlex(ctx); ferr != nil {
			log.WarnContext(ctx, "settling the handoffs to Flex failed; the next sweep tries again", "err", ferr)
			err = errors.Join(err, ferr)
		}
		if err != nil {
			httpjson.Error(w, http.StatusServiceUnavailable, "sweep failed")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// MaxHandoffBody bounds a handoff request's body: a request is a few
// short fields and a summary of at most 1,600 characters.
const MaxHandoffBody = 64 << 10

// Bounds of a handoff request: Twilio's own limits where they apply.
const (
	maxHandoffID = 128
	// maxCopied bounds the Flex messages copied into the context.
	maxCopied = 20
	// defaultCopied is how many are copied when the caller names a Flex
	// conversation without a count.
	defaultCopied = 5
	maxSummary    = twilio.MaxMessageBody
	maxField      = 256
)

var handoffIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)

// errBadRequest is returned when a handoff request is malformed; its
// message is the answer's.
var errBadRequest = errors.New("bad handoff request")

// errHandoffTooLarge says a handoff request's body is over
// MaxHandoffBody: the answer's message, with status 413.
var errHandoffTooLarge = fmt.Errorf("the body is larger than %d bytes", MaxHandoffBody)

// errTooLarge is errHandoffTooLarge as readHandoff returns it.
var errTooLarge = fmt.Errorf("%w: %w", errBadRequest, errHandoffTooLarge)

// handoffAnswer is the handoff function's answer.
type handoffAnswer struct {
	HandoffID    string `json:"handoff_id"`
	Conversation string `json:"conversation_sid"`
	// Status is "done" when the expert and the context are in, "queued"
	// when the queue finishes the job.
	Status string `json:"status"`
	// Expert is the expert the customer was promised, when the handoff
	// is done and one was.
	Expert *expertJSON `json:"expert,omitempty"`
}

// expertJSON names an expert to the contact center: their Frontline
// identity and display name (the identity when they have none).
type expertJSON struct {
	Identity string `json:"identity"`
	Name     string `json:"name"`
}

// handoffHandler is the handoff function: a Flex contact center hands a
// customer to an onsite expert. Its caller must be authenticated
// (handoffGate). region is DEFAULT_REGION.
func handoffHandler(flow *conversation.Flow, region string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !onlyMethod(w, r, http.MethodPost) {
			return
		}
		req, err := readHandoff(r, region)
		if err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, errTooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			log.WarnContext(ctx, "handoff refused: bad request", "status", status, "err", err)
			httpjson.Error(w, status, strings.TrimPrefix(err.Error(), errBadRequest.Error()+": "))
			return
		}
		agent, byAgent := agentOf(ctx)
		if byAgent {
			req.Agent = agent.Name()
		}
		conv, o, err := flow.HandOver(ctx, req)
		if err != nil {
			status := refusalStatus(err)
			log.WarnContext(ctx, "handoff refused", "handoff_id", req.ID, "agent", req.Agent, "status", status, "err", err)
			httpjson.Error(w, status, err.Error())
			return
		}
		ans := handoffAnswer{HandoffID: req.ID, Conversation: conv, Status: "done"}
		switch o {
		case taskqueue.Done:
			if id := flow.HandoffExpert(ctx, conv, req.ID); id != "" {
				ans.Expert = &expertJSON{Identity: id, Name: cmp.Or(flow.ExpertName(ctx, id), id)}
			}
		case taskqueue.Queued:
			ans.Status = "queued"
		default:
			httpjson.Error(w, o.HTTPStatus(), "the handoff could not be done nor queued; retry with the same handoff_id")
			return
		}
		log.InfoContext(ctx, "handoff from the contact center", "handoff_id", req.ID, "agent", req.Agent, "conversation", conv, "status", ans.Status)
		httpjson.Write(w, o.HTTPStatus(), ans)
	})
}

// expertsAnswer is the experts function's answer.
type expertsAnswer struct {
	Areas   []string         `json:"areas"`
	Experts []expertAnswered `json:"experts"`
}

type expertAnswered struct {
	expertJSON
	Areas []string `json:"areas"`
}

// expertsHandler is the experts function: the expertise areas and the
// available experts the contact center's panel offers. Its caller must
// be authenticated (expertsGate).
func expertsHandler(flow *conversation.Flow, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !onlyMethod(w, r, http.MethodGet) {
			return
		}
		ex, err := flow.Experts(ctx)
		if err != nil {
			log.WarnContext(ctx, "experts: reading the pool failed", "err", err)
			httpjson.Error(w, http.StatusServiceUnavailable, "the experts could not be read; retry")
			return
		}
		ans := expertsAnswer{Areas: ex.Areas, Experts: make([]expertAnswered, 0, len(ex.Experts))}
		for _, e := range ex.Experts {
			ans.Experts = append(ans.Experts, expertAnswered{expertJSON{e.Identity, cmp.Or(e.Name, e.Identity)}, e.Areas})
		}
		agent, _ := agentOf(ctx)
		log.DebugContext(ctx, "experts listed", "agent", agent.Name(), "experts", len(ans.Experts))
		w.Header().Set("Cache-Control", "no-store")
		httpjson.Write(w, http.StatusOK, ans)
	})
}

// refusalStatus is the status answering a refused handoff.
func refusalStatus(err error) int {
	switch {
	case errors.Is(err, conversation.ErrUnknownCustomer):
		return http.StatusNotFound
	case errors.Is(err, conversation.ErrNotTheirs), errors.Is(err, conversation.ErrOutsideWindow):
		return http.StatusUnprocessableEntity
	case errors.Is(err, conversation.ErrHandoffTaken):
		return http.StatusConflict
	}
	return http.StatusServiceUnavailable
}

// readHandoff reads the request: a form (signed by Twilio, or sent with
// the bearer secret) or a JSON object with the same keys.
func readHandoff(r *http.Request, region string) (conversation.HandoffRequest, error) {
	var values url.Values
	switch ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); {
	case ct == "application/json":
		v, err := readJSON(r)
		if err != nil {
			return conversation.HandoffRequest{}, err
		}
		values = v
	case ct == "application/x-www-form-urlencoded" && r.PostForm != nil:
		values = r.PostForm // a signed form, read by webhook.Verifier
	case ct == "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			if tooLarge(err) {
				return conversation.HandoffRequest{}, errTooLarge
			}
			return conversation.HandoffRequest{}, fmt.Errorf("%w: malformed form body: %s", errBadRequest, twilio.Truncate(err.Error(), maxField))
		}
		values = r.PostForm
	default:
		return conversation.HandoffRequest{}, fmt.Errorf("%w: send application/x-www-form-urlencoded or application/json", errBadRequest)
	}
	return parseHandoff(values, region)
}

// readJSON reads a JSON object of strings and numbers.
func readJSON(r *http.Request) (url.Values, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxHandoffBody+1))
	switch {
	case tooLarge(err) || len(b) > MaxHandoffBody:
		return nil, errTooLarge
	case err != nil:
		return nil, fmt.Errorf("%w: unreadable body", errBadRequest)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("%w: the body must be a JSON object", errBadRequest)
		}
		return nil, fmt.Errorf("%w: the body is not valid JSON: %s", errBadRequest, twilio.Truncate(err.Error(), maxField))
	}
	values := url.Values{}
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			values.Set(k, v)
		case float64:
			values.Set(k, strconv.FormatFloat(v, 'f', -1, 64))
		case nil:
		default:
			return nil, fmt.Errorf("%w: %s must be a string or a number", errBadRequest, twilio.Truncate(k, 64))
		}
	}
	return values, nil
}

// tooLarge reports whether err is http.MaxBytesReader's: the body is
// over the bound the gate set.
func tooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

// parseHandoff validates a handoff's parameters.
func parseHandoff(v url.Values, region string) (conversation.HandoffRequest, error) {
	req := conversation.HandoffRequest{
		ID:       get(v, "handoff_id"),
		Customer: get(v, "customer_id"),
		Address:  get(v, "address"),
		Worker:   strings.ToLower(get(v, "worker")),
		Area:     strings.ToLower(get(v, "area")),
		Summary:  get(v, "summary"),
		FlexConv: get(v, "flex_conversation_sid"),
	}
	var problems []string
	switch {
	case req.ID == "":
		problems = append(problems, "handoff_id is required (an id you choose; a retry with the same id does nothing twice)")
	case len(req.ID) > maxHandoffID || !handoffIDPattern.MatchString(req.ID):
		problems = append(problems, fmt.Sprintf("handoff_id must be 1 to %d letters, digits, '.', '_', ':' or '-'", maxHandoffID))
	}
	if req.Customer == "" && req.Address == "" {
		problems = append(problems, "customer_id or address is required")
	}
	for name, s := range map[string]string{"customer_id": req.Customer, "address": req.Address, "worker": req.Worker, "area": req.Area} {
		if len(s) > maxField {
			problems = append(problems, fmt.Sprintf("%s has more than %d characters", name, maxField))
		}
	}
	if req.Address != "" && len(req.Address) <= maxField {
		a, ok := crm.ChannelAddress(req.Address, region)
		if !ok {
			problems = append(problems, "address must be an SMS number (E.164, e.g. +447700900123) or whatsapp:<number>")
		}
		req.Address = a
	}
	if twilio.Chars(req.Summary) > maxSummary {
		problems = append(problems, fmt.Sprintf("summary has more than %d characters", maxSummary))
	}
	if req.FlexConv != "" && !twilio.IsSID(req.FlexConv, "CH") {
		problems = append(problems, "flex_conversation_sid must be a conversation SID (CH…)")
	}
	if s := get(v, "message_count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxCopied {
			problems = append(problems, fmt.Sprintf("message_count must be 0 to %d", maxCopied))
		}
		req.Copy = n
	} else if req.FlexConv != "" {
		req.Copy = defaultCopied
	}
	if len(problems) > 0 {
		return req, fmt.Errorf("%w: %s", errBadRequest, strings.Join(problems, "; "))
	}
	return req, nil
}

// onlyMethod refuses a request with another method than method (405),
// and reports whether r has it.
func onlyMethod(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	httpjson.Error(w, http.StatusMethodNotAllowed, "method not allowed: "+method)
	return false
}
