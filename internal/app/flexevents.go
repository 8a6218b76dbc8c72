package app

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"

	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/httpjson"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilioflow"
	"github.com/experthub/experthub/internal/webhook"
)

// flexEvents registers the flex-events function: the Flex workspace's
// TaskRouter event callback, whose requests are signed with the Flex
// account's auth token over the function's public URL. Without a
// contact center no signature is valid and every caller is refused.
func (a *App) flexEvents(flow *conversation.Flow) {
	const name = function.FlexEvents
	log := a.log.With(logging.FunctionKey, string(name))
	a.handlers[name] = a.named(name, a.flexSigned(name, log, withDeadline(a.Config.HandlerTimeout, flexEventsHandler(flow, a.log))))
}

// flexSigned lets through to next the requests signed with the Flex
// account's auth token over the function's public URL. Without a
// contact center no signature is valid: every request is refused (the
// verifier would warn about a missing token, which is not a fault here).
func (a *App) flexSigned(name function.Name, log *slog.Logger, next http.Handler) http.Handler {
	if !a.Config.HasFlex() {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			log.WarnContext(r.Context(), string(name)+" refused: no contact center is configured (FLEX_AUTH_TOKEN)", "remote", r.RemoteAddr)
			httpjson.Error(w, http.StatusForbidden, "invalid X-Twilio-Signature")
		})
	}
	return webhook.NewVerifier(a.Config.FlexAuthToken, log, a.Config.PublicURL(name)).Wrap(next)
}

// flexEventsHandler answers a Flex TaskRouter event 204 at once: an event
// about the task of a conversation the bot handed to Flex queues its
// settling (conversation.Flow.OnFlexEvent). Other events and other tasks
// are answered 204 and ignored; a malformed one 400.
func flexEventsHandler(flow *conversation.Flow, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := form(r)
		typ := get(p, "EventType")
		if typ == "" {
			log.WarnContext(r.Context(), "Flex TaskRouter event without an EventType")
			httpjson.Error(w, http.StatusBadRequest, "EventType is required")
			return
		}
		if slices.Contains(function.FlexTaskEvents, typ) {
			e, err := flexEvent(typ, p)
			if err != nil {
				log.WarnContext(r.Context(), "malformed Flex task event", "event", typ, "err", err)
				httpjson.Error(w, http.StatusBadRequest, err.Error())
				return
			}
			flow.OnFlexEvent(r.Context(), e)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// flexEvent reads a task event's form; a task that is not Expert Hub's
// has no Conversation.
func flexEvent(typ string, p url.Values) (conversation.FlexEvent, error) {
	e := conversation.FlexEvent{Type: typ, Task: get(p, "TaskSid"), Status: get(p, "TaskAssignmentStatus"), Trigger: get(p, "Sid")}
	if !twilio.IsSID(e.Task, "WT") {
		return e, errors.New("TaskSid must be a task SID (WT…)")
	}
	conv, err := twilioflow.TaskConversation(get(p, "TaskAttributes"))
	if err != nil {
		return e, errors.New("TaskAttributes must be a JSON object")
	}
	if conv != "" && !twilio.IsSID(conv, "CH") {
		return e, errors.New("the task's frontline_conversation_sid must be a conversation SID (CH…)")
	}
	e.Conversation = conv
	if !twilio.IsSID(e.Trigger, "EV") {
		// The event's Sid names one event: without one, the task and
		// the event type do.
		e.Trigger = "ev-" + e.Task + "-" + typ
	}
	return e, nil
}
