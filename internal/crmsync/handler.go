package crmsync

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/gcpauth"
	"github.com/experthub/experthub/internal/httpjson"
)

// maxBody bounds a webhook body. A customer entry is a few KB; Strapi's
// media and relation payloads stay well below this.
const maxBody = 1 << 20

// WebhookDecoder reads a CRM's webhook calls: each CRM package
// authenticates and decodes its own.
type WebhookDecoder interface {
	// WebhookEvent returns the event a request announces in its headers,
	// or "" when the request is not a webhook call.
	WebhookEvent(h http.Header) string
	// Authenticate checks a request's credentials, those the CRM's
	// webhook calls carry, which also start a manual full sync. The error
	// says what was wrong, never the credential.
	Authenticate(h http.Header) error
	// DecodeWebhook returns the changes to customers a webhook call
	// reports, in order. An error means the call is malformed.
	DecodeWebhook(h http.Header, body []byte) ([]crm.Change[crm.Customer], error)
}

// TemplateWebhookDecoder reads the CRM's webhook calls about message
// templates.
type TemplateWebhookDecoder interface {
	// IsTemplateWebhook reports whether a webhook body is about templates.
	IsTemplateWebhook(body []byte) bool
	// DecodeTemplateWebhook returns the changes to templates it reports.
	DecodeTemplateWebhook(h http.Header, body []byte) ([]crm.Change[crm.Template], error)
}

// HandlerConfig configures the sync function's handler.
type HandlerConfig struct {
	// Templates, with TemplateHooks, syncs the CRM's message templates
	// too: a full sync runs after the customers' one, and webhooks about
	// templates go to it. Nil: customers only.
	Templates     *Syncer[crm.Template]
	TemplateHooks TemplateWebhookDecoder
	// Scheduler is the service account whose OIDC ID token may start a
	// full sync (Cloud Scheduler's); its zero value lets no token in.
	Scheduler gcpauth.Caller
	Logger    *slog.Logger
}

// NewHandler returns the sync function. A POST that hooks announces as a
// webhook call (Strapi: with an X-Strapi-Event header) is authenticated,
// decoded by hooks and applied incrementally. Any other POST starts a
// full sync, authenticated by Cloud Scheduler's OIDC token or the
// webhook calls' credentials (hooks.Authenticate). With nil hooks (a CRM
// without webhooks) every POST is a full sync, for the scheduler only.
//
// The full sync runs within the request and stops if the caller hangs up,
// so the function timeout and the scheduler's attempt deadline should
// cover a whole run; a run cut short resumes on the next call.
//
// With a nil Syncer (no CRM configured) callers are authenticated all the
// same, and an authenticated call answers 200 with nothing synced: a
// deployment without a CRM still has the scheduler's job, which must not
// fail every night, and a caller who is not authenticated learns nothing
// of the configuration.
func NewHandler(s *Syncer[crm.Customer], hooks WebhookDecoder, cfg HandlerConfig) http.Handler {
	h := &handler{sync: s, hooks: hooks, cfg: cfg, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

type handler struct {
	sync  *Syncer[crm.Customer]
	hooks WebhookDecoder
	cfg   HandlerConfig
	log   *slog.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, r, http.StatusMethodNotAllowed, "method not allowed", "method", r.Method)
		return
	}
	if h.hooks != nil {
		if event := h.hooks.WebhookEvent(r.Header); event != "" {
			h.webhook(w, r, event)
			return
		}
	}
	h.full(w, r)
}

func (h *handler) webhook(w http.ResponseWriter, r *http.Request, event string) {
	if err := h.hooks.Authenticate(r.Header); err != nil {
		h.refuse(w, r, http.StatusUnauthorized, "event", event, "reason", err)
		return
	}
	if h.sync == nil {
		h.noCRM(w, r, "event", event)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.fail(w, r, http.StatusUnsupportedMediaType, "content type must be application/json", "event", event)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.fail(w, r, http.StatusRequestEntityTooLarge, "body too large", "event", event)
			return
		}
		h.fail(w, r, http.StatusBadRequest, "cannot read body", "event", event, "err", err)
		return
	}
	if h.cfg.Templates != nil && h.cfg.TemplateHooks != nil && h.cfg.TemplateHooks.IsTemplateWebhook(body) {
		h.templateWebhook(w, r, event, body)
		return
	}
	changes, err := h.hooks.DecodeWebhook(r.Header, body)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "bad webhook payload", "event", event, "err", err)
		return
	}
	answers := make([]answer, 0, len(changes))
	for _, ch := range changes {
		a, err := h.sync.Apply(r.Context(), ch)
		if err != nil {
			h.log.ErrorContext(r.Context(), "sync webhook failed", "event", event, "customer_id", ch.ID, "err", err)
			httpjson.Write(w, http.StatusInternalServerError, map[string]string{"error": "webhook not applied"})
			return
		}
		h.log.InfoContext(r.Context(), "sync webhook", "event", a.Event, "customer_id", a.ID, "action", a.Action, "reason", a.Reason)
		answers = append(answers, answer{Event: a.Event, ID: a.ID, Action: a.Action, Reason: a.Reason, Replaced: a.Replaced})
	}
	writeAnswers(w, answers)
}

// templateWebhook applies a webhook call about templates.
func (h *handler) templateWebhook(w http.ResponseWriter, r *http.Request, event string, body []byte) {
	changes, err := h.cfg.TemplateHooks.DecodeTemplateWebhook(r.Header, body)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "bad webhook payload", "event", event, "err", err)
		return
	}
	answers := make([]answer, 0, len(changes))
	for _, ch := range changes {
		a, err := h.cfg.Templates.Apply(r.Context(), ch)
		if err != nil {
			h.log.ErrorContext(r.Context(), "sync webhook failed", "event", event, "template_id", ch.ID, "err", err)
			httpjson.Write(w, http.StatusInternalServerError, map[string]string{"error": "webhook not applied"})
			return
		}
		h.log.InfoContext(r.Context(), "sync webhook", "event", a.Event, "template_id", a.ID, "action", a.Action, "reason", a.Reason)
		answers = append(answers, answer{Event: a.Event, TemplateID: a.ID, Action: a.Action, Reason: a.Reason})
	}
	writeAnswers(w, answers)
}

func writeAnswers(w http.ResponseWriter, answers []answer) {
	if len(answers) == 1 {
		// Strapi's case: one entry a call.
		httpjson.Write(w, http.StatusOK, answers[0])
		return
	}
	httpjson.Write(w, http.StatusOK, answers)
}

// answer is Applied as the webhook call's answer shows it.
type answer struct {
	Event      string   `json:"applied"`
	ID         string   `json:"customer_id,omitempty"`
	TemplateID string   `json:"template_id,omitempty"`
	Action     Action   `json:"action"`
	Reason     string   `json:"reason,omitempty"`
	Replaced   []string `json:"replaced,omitempty"`
}

func (h *handler) full(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	caller := "webhook credentials"
	if h.hooks == nil || h.hooks.Authenticate(r.Header) != nil {
		id, err := h.cfg.Scheduler.Check(r)
		if err != nil {
			h.refuse(w, r, gcpauth.Status(err), "err", err)
			return
		}
		caller = id.Email
	}
	// A scheduler body carries nothing we need; drain a bounded amount so
	// the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
	if h.sync == nil {
		h.noCRM(w, r, "by", caller)
		return
	}

	h.log.InfoContext(ctx, "full sync started", "by", caller)
	p, err := h.sync.Full(ctx)
	if errors.Is(err, ErrRunning) {
		h.fail(w, r, http.StatusConflict, "a full sync is already running")
		return
	}
	if err != nil {
		h.log.ErrorContext(ctx, "full sync failed", "synced", p.Synced, "resumed", p.Resumed, "err", err)
		// A 5xx makes Cloud Scheduler retry, which resumes the run.
		httpjson.Write(w, http.StatusInternalServerError, map[string]any{"error": "full sync failed", "synced": p.Synced})
		return
	}
	h.log.InfoContext(ctx, "full sync done", "synced", p.Synced, "deleted", p.Deleted, "resumed", p.Resumed,
		"elapsed", p.Elapsed.String(), "rate", fmt.Sprintf("%.0f/s", p.Rate))
	out := map[string]any{"synced": p.Synced, "deleted": p.Deleted, "resumed": p.Resumed}
	if h.cfg.Templates != nil {
		tp, err := h.cfg.Templates.Full(ctx)
		switch {
		case errors.Is(err, crm.ErrNotFound):
			// A CRM without a template collection: the callback answers
			// with its embedded templates, and nightly syncs must not fail.
			h.log.WarnContext(ctx, "no template collection in the CRM; the templates callback answers its defaults", "err", err)
			out["templates"] = map[string]any{"skipped": "no template collection"}
		case errors.Is(err, ErrRunning):
			out["templates"] = map[string]any{"skipped": "already running"}
		case err != nil:
			h.log.ErrorContext(ctx, "template full sync failed", "synced", tp.Synced, "err", err)
			httpjson.Write(w, http.StatusInternalServerError, map[string]any{"error": "template full sync failed", "synced": p.Synced})
			return
		default:
			h.log.InfoContext(ctx, "template full sync done", "synced", tp.Synced, "deleted", tp.Deleted)
			out["templates"] = map[string]any{"synced": tp.Synced, "deleted": tp.Deleted}
		}
	}
	httpjson.Write(w, http.StatusOK, out)
}

// noCRM answers an authenticated call when no CRM is configured: nothing
// to sync is not a failure (see NewHandler).
func (h *handler) noCRM(w http.ResponseWriter, r *http.Request, attrs ...any) {
	h.log.InfoContext(r.Context(), "sync skipped: no CRM is configured", attrs...)
	httpjson.Write(w, http.StatusOK, map[string]any{"synced": 0, "deleted": 0, "skipped": "no CRM is configured"})
}

// refuse answers a caller who is not authenticated (401) or not
// allowed (403).
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, status int, attrs ...any) {
	msg := "forbidden"
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
		msg = "unauthorized"
	}
	h.fail(w, r, status, msg, attrs...)
}

// fail logs a refused request and answers with a JSON error.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string, attrs ...any) {
	h.log.WarnContext(r.Context(), "sync request refused", append([]any{"status", status, "error", msg}, attrs...)...)
	httpjson.Write(w, status, map[string]string{"error": msg})
}
