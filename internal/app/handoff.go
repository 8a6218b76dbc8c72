package app

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/frontline"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/handoff"
	"github.com/experthub/experthub/internal/httpjson"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/webhook"
)

// handoffStore keeps the contact center's handoff bindings and notes.
type handoffStore interface {
	handoff.Bindings
	handoff.Notes
	handoff.OpenHandoffs
}

// WrapBindings makes the handoff function bind handoff ids in
// wrap(bindings) instead of the store's.
func WrapBindings(wrap func(handoff.Bindings) handoff.Bindings) Option {
	return func(o *options) { o.bindings = wrap }
}

// handoffGate lets two kinds of caller reach the handoff function and
// nobody else: a Twilio-hosted caller of the Flex account (a Studio flow,
// a Twilio Function), whose X-Twilio-Signature is made with the Flex
// account's auth token over the function's public URL; and a Flex
// plugin's backend sending Authorization: Bearer <HANDOFF_SECRET>,
// compared in constant time. Without a contact center both are empty and
// every caller is refused.
func handoffGate(secret, flexToken, publicURL string, log *slog.Logger, next http.Handler) http.Handler {
	log = log.With(logging.FunctionKey, string(function.Handoff))
	// Without a contact center no signature is valid; the verifier would
	// warn about a missing Twilio token, which is not a fault here.
	var signed http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.WarnContext(r.Context(), "handoff refused: no contact center is configured (FLEX_AUTH_TOKEN)", "remote", r.RemoteAddr)
		httpjson.Error(w, http.StatusForbidden, "invalid X-Twilio-Signature")
	})
	if flexToken != "" {
		signed = webhook.NewVerifier(flexToken, log, publicURL).Wrap(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A body over the bound is refused before it is read: a signed
		// one would otherwise be read whole (up to webhook.MaxBody) to
		// check its signature. One of unknown length is cut where it
		// passes the bound (413 from the handler).
		if r.ContentLength > MaxHandoffBody {
			log.WarnContext(r.Context(), "handoff refused: body too large", "bytes", r.ContentLength, "remote", r.RemoteAddr)
			httpjson.Error(w, http.StatusRequestEntityTooLarge, errHandoffTooLarge.Error())
			return
		}
		auth := r.Header.Get("Authorization")
		if auth == "" {
			if r.Header.Get("X-Twilio-Signature") == "" {
				log.WarnContext(r.Context(), "handoff refused: no credentials", "remote", r.RemoteAddr)
				w.Header().Set("WWW-Authenticate", `Bearer realm="handoff"`)
				httpjson.Error(w, http.StatusUnauthorized, "send Authorization: Bearer <HANDOFF_SECRET> or a Flex-signed X-Twilio-Signature")
				return
			}
			signed.ServeHTTP(w, r)
			return
		}
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || secret == "" || subtle.ConstantTimeCompare([]byte(token), []byte(secret)) != 1 {
			log.WarnContext(r.Context(), "handoff refused: wrong bearer secret", "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="handoff", error="invalid_token"`)
			httpjson.Error(w, http.StatusUnauthorized, "invalid credentials")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxHandoffBody)
		next.ServeHTTP(w, r)
	})
}

// whatsAppOpener returns the opener of a handoff outside WhatsApp's
// 24-hour window (conversation.ContactCenter.Opener): the first template
// marked whatsAppApproved, in the templates' order, its placeholders
// filled for the customer as the templates callback fills them, without
// a worker (staff identities never reach a customer).
func whatsAppOpener(ts crm.TemplateStore) func(context.Context, crm.Customer) (string, bool, error) {
	return func(ctx context.Context, c crm.Customer) (string, bool, error) {
		all, err := ts.Templates(ctx)
		if err != nil {
			return "", false, err
		}
		for _, t := range all {
			if t.WhatsAppApproved && strings.TrimSpace(t.Content) != "" {
				return frontline.Render(t.Content, frontline.Values(c, "")), true, nil
			}
		}
		return "", false, nil
	}
}
