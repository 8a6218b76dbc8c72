package app

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/flexauth"
	"github.com/experthub/experthub/internal/frontline"
	"github.com/experthub/experthub/internal/handoff"
	"github.com/experthub/experthub/internal/httpjson"
	"github.com/experthub/experthub/internal/twilio"
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

// handoffGate lets three kinds of caller reach the handoff function and
// nobody else: a Flex user (the Flex plugin, in the browser) with their
// Flex token (flexUser); a Twilio-hosted caller of the Flex account (a
// Studio flow, a Twilio Function), whose X-Twilio-Signature is made with
// the Flex account's auth token over the function's public URL; and a
// Flex plugin's backend sending Authorization: Bearer <HANDOFF_SECRET>,
// compared in constant time. signed is next behind the Flex account's
// signature check (App.flexSigned). Without a contact center all are
// refused.
func handoffGate(secret string, users *flexauth.Checker, log *slog.Logger, signed, next http.Handler) http.Handler {
	bounded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxHandoffBody)
		next.ServeHTTP(w, r)
	})
	tooLarge := func(w http.ResponseWriter, r *http.Request, args ...any) {
		log.WarnContext(r.Context(), "handoff refused: body too large", append(args, "remote", r.RemoteAddr)...)
		httpjson.Error(w, http.StatusRequestEntityTooLarge, errHandoffTooLarge.Error())
	}
	unauthenticated := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("X-Twilio-Signature") != "":
			signed.ServeHTTP(w, r)
		case users != nil:
			// The Flex plugin may send its token in the body, as
			// Twilio's own validator expects it (Token).
			token, err := bodyToken(r)
			switch {
			case errors.Is(err, errTooLarge):
				tooLarge(w, r)
			case token == "":
				refuseAnonymous(w, r, log)
			default:
				flexUser(users, token, log, bounded).ServeHTTP(w, r)
			}
		default:
			refuseAnonymous(w, r, log)
		}
	})
	gate := authenticated(secret, users, log, bounded, unauthenticated)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A body over the bound is refused before it is read: a signed
		// one would otherwise be read whole (up to webhook.MaxBody) to
		// check its signature. One of unknown length is cut where it
		// passes the bound (413 from the handler).
		if r.ContentLength > MaxHandoffBody {
			tooLarge(w, r, "bytes", r.ContentLength)
			return
		}
		gate.ServeHTTP(w, r)
	})
}

// expertsGate lets a Flex user with their Flex token, or a server sending
// Authorization: Bearer <HANDOFF_SECRET>, read the experts function.
func expertsGate(secret string, users *flexauth.Checker, log *slog.Logger, next http.Handler) http.Handler {
	return authenticated(secret, users, log, next, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuseAnonymous(w, r, log)
	}))
}

// authenticated passes to next a request whose headers carry
// HANDOFF_SECRET or a Flex user's valid token, refuses one with another
// bearer, and passes any other to other.
func authenticated(secret string, users *flexauth.Checker, log *slog.Logger, next, other http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch c := credentialOf(r, secret, users != nil); {
		case c.server:
			next.ServeHTTP(w, r)
		case c.token != "":
			flexUser(users, c.token, log, next).ServeHTTP(w, r)
		case c.bearer:
			refuseBearer(w, r, log)
		default:
			other.ServeHTTP(w, r)
		}
	})
}

// credential is what a request's headers authenticate it with.
type credential struct {
	// server: the bearer is HANDOFF_SECRET.
	server bool
	// token is a Flex user's token (X-Flex-JWE, or a bearer that is not
	// the secret), when Flex users are accepted.
	token string
	// bearer: an Authorization header that is neither.
	bearer bool
}

// maxFlexToken bounds a Flex token: a JWE of a few hundred bytes.
const maxFlexToken = 8 << 10

// credentialOf reads r's credential headers. A bearer is taken for a
// Flex token only if it has a token's shape (dot-separated parts): a
// mistyped secret is not sent to Twilio.
func credentialOf(r *http.Request, secret string, flexUsers bool) credential {
	if t := r.Header.Get("X-Flex-JWE"); t != "" && flexUsers {
		if len(t) > maxFlexToken {
			return credential{bearer: true}
		}
		return credential{token: t}
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return credential{}
	}
	token, ok := strings.CutPrefix(auth, "Bearer ")
	switch {
	case !ok:
		return credential{bearer: true}
	case secret != "" && subtle.ConstantTimeCompare([]byte(token), []byte(secret)) == 1:
		return credential{server: true}
	case flexUsers && strings.Count(token, ".") >= 2 && len(token) <= maxFlexToken:
		return credential{token: token}
	}
	return credential{bearer: true}
}

func refuseBearer(w http.ResponseWriter, r *http.Request, log *slog.Logger) {
	log.WarnContext(r.Context(), "refused: wrong bearer secret", "remote", r.RemoteAddr)
	w.Header().Set("WWW-Authenticate", `Bearer realm="handoff", error="invalid_token"`)
	httpjson.Error(w, http.StatusUnauthorized, "invalid credentials")
}

func refuseAnonymous(w http.ResponseWriter, r *http.Request, log *slog.Logger) {
	log.WarnContext(r.Context(), "refused: no credentials", "remote", r.RemoteAddr)
	w.Header().Set("WWW-Authenticate", `Bearer realm="handoff"`)
	httpjson.Error(w, http.StatusUnauthorized, "send the Flex user's token (Token, Authorization: Bearer or X-Flex-JWE), Authorization: Bearer <HANDOFF_SECRET> or a Flex-signed X-Twilio-Signature")
}

// bodyToken returns the Token field of r's body (JSON or form), and
// leaves the body to be read again.
func bodyToken(r *http.Request) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxHandoffBody+1))
	if len(b) > MaxHandoffBody {
		return "", errTooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return "", nil // the handler answers the unreadable body
	}
	var token string
	switch ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct {
	case "application/json":
		var v struct {
			Token any `json:"Token"`
		}
		if json.Unmarshal(b, &v) == nil {
			token, _ = v.Token.(string)
		}
	case "application/x-www-form-urlencoded":
		if v, err := url.ParseQuery(string(b)); err == nil {
			token = v.Get("Token")
		}
	}
	if len(token) > maxFlexToken {
		return "", nil
	}
	return token, nil
}

// agentKey is the context key of the Flex user a request is made by.
type agentKey struct{}

// agentOf returns the Flex user who made the request; ok false for a
// server caller.
func agentOf(ctx context.Context) (flexauth.User, bool) {
	u, ok := ctx.Value(agentKey{}).(flexauth.User)
	return u, ok
}

// flexUser serves next as the Flex user of token, checked with Twilio
// (cached): an invalid or expired token is 401, a user without an agent's
// role 403, and Twilio not answering 503.
func flexUser(users *flexauth.Checker, token string, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := users.Check(ctx, token)
		switch {
		case errors.Is(err, flexauth.ErrInvalid):
			log.WarnContext(ctx, "refused: invalid or expired Flex token", "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="handoff", error="invalid_token"`)
			httpjson.Error(w, http.StatusUnauthorized, "invalid or expired Flex token: sign in to Flex again")
			return
		case errors.Is(err, flexauth.ErrNotAgent):
			log.WarnContext(ctx, "refused: the Flex user is not an agent", "agent", u.Name(), "roles", u.Roles)
			httpjson.Error(w, http.StatusForbidden, "only a Flex agent, supervisor or admin may do this")
			return
		case errors.Is(err, twilio.ErrUnauthorized):
			// Every agent is refused until the settings are fixed.
			log.ErrorContext(ctx, "the Flex account refused its credentials (FLEX_ACCOUNT_SID, FLEX_AUTH_TOKEN or FLEX_API_KEY/SECRET): no Flex token can be checked", "err", err)
			httpjson.Error(w, http.StatusServiceUnavailable, "the Flex token could not be checked; retry")
			return
		case err != nil:
			log.WarnContext(ctx, "checking the Flex token failed; refused for now", "err", err)
			httpjson.Error(w, http.StatusServiceUnavailable, "the Flex token could not be checked; retry")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, agentKey{}, u)))
	})
}

// whatsAppOpener returns the opener of a handoff outside WhatsApp's
// 24-hour window (conversation.ContactCenter.Opener): the Content API
// template HANDOFF_WHATSAPP_CONTENT_SID names, its variables filled for
// the customer; else the first CRM template marked whatsAppApproved, in
// the templates' order, as text. Placeholders are filled as the
// templates callback fills them, without a worker (staff identities
// never reach a customer).
//
// content is the Content API template with its variables unfilled; zero:
// none.
func whatsAppOpener(content conversation.Content, ts crm.TemplateStore, log *slog.Logger) func(context.Context, crm.Customer) (conversation.Opener, bool, error) {
	// config checked the variables: a JSON object of strings.
	var vars map[string]string
	_ = json.Unmarshal([]byte(content.Variables), &vars)
	return func(ctx context.Context, c crm.Customer) (conversation.Opener, bool, error) {
		if content.SID != "" {
			filled, err := contentVariables(vars, frontline.Values(c, ""))
			return conversation.Opener{Content: conversation.Content{SID: content.SID, Variables: filled}}, err == nil, err
		}
		all, err := ts.Templates(ctx)
		if err != nil {
			return conversation.Opener{}, false, err
		}
		for _, t := range all {
			if t.WhatsAppApproved && strings.TrimSpace(t.Content) != "" {
				// https://www.twilio.com/docs/api/errors/63016
				log.WarnContext(ctx, "handoff outside the WhatsApp window: the approved template goes as text, which WhatsApp refuses "+
					"since April 2025 (63016); set HANDOFF_WHATSAPP_CONTENT_SID", "template", t.ID)
				return conversation.Opener{Text: frontline.Render(t.Content, frontline.Values(c, ""))}, true, nil
			}
		}
		return conversation.Opener{}, false, nil
	}
}

// contentVariables fills the placeholders of the variables
// (HANDOFF_WHATSAPP_CONTENT_VARIABLES) with values, and returns them as
// JSON; "" when there are none.
func contentVariables(vars, values map[string]string) (string, error) {
	if len(vars) == 0 {
		return "", nil
	}
	filled := make(map[string]string, len(vars))
	for k, v := range vars {
		filled[k] = frontline.Render(v, values)
	}
	b, err := json.Marshal(filled)
	return string(b), err
}
