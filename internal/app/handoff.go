package app

import (
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"

	"github.com/experthub/experthub/internal/httpjson"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/webhook"
)

// maxHandoffBody bounds a handoff request sent with the bearer secret;
// Twilio-signed ones are bounded by the webhook package.
const maxHandoffBody = 64 << 10

// handoffGate lets two kinds of caller reach the handoff function and
// nobody else: a Twilio-hosted caller of the Flex account (a Studio flow,
// a Twilio Function), whose X-Twilio-Signature is made with the Flex
// account's auth token over the function's public URL; and a Flex
// plugin's backend sending Authorization: Bearer <HANDOFF_SECRET>,
// compared in constant time. Without a contact center both are empty and
// every caller is refused.
func handoffGate(secret, flexToken, publicURL string, log *slog.Logger, next http.Handler) http.Handler {
	log = log.With(logging.FunctionKey, "handoff")
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
		r.Body = http.MaxBytesReader(w, r.Body, maxHandoffBody)
		next.ServeHTTP(w, r)
	})
}
