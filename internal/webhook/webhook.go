// Package webhook is the front door of every Twilio-facing function: body
// size limit, X-Twilio-Signature check against the URL Twilio called, and
// form decoding.
package webhook

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/twilio/twilio-go/client"
)

// MaxBody bounds a webhook body. Twilio's largest payloads (conversation
// attributes up to 16 KB, a 1600-character body, media JSON) stay far below.
const MaxBody = 1 << 20

// Verifier checks Twilio's signature for one function.
type Verifier struct {
	validator client.RequestValidator
	// urls are the public URLs Twilio may have been configured with for
	// this function; the request path cannot be trusted because Cloud
	// Functions strips the function name from it behind its front end.
	urls []string
	log  *slog.Logger
}

// NewVerifier returns a Verifier for a function reachable at publicURLs.
// With an empty authToken it rejects every request: an HMAC keyed by
// nothing is one anybody can compute.
func NewVerifier(authToken string, log *slog.Logger, publicURLs ...string) *Verifier {
	v := &Verifier{validator: client.NewRequestValidator(authToken), log: log}
	if authToken == "" {
		if log != nil {
			log.Warn("no Twilio auth token: every webhook will be rejected")
		}
		return v
	}
	for _, u := range publicURLs {
		// Twilio signs the URL it calls, whose query string the request
		// carries, and never a fragment; keep the rest of the configured URL.
		u, _, _ = strings.Cut(u, "#")
		u, _, _ = strings.Cut(u, "?")
		v.urls = append(v.urls, u)
	}
	return v
}

// Wrap returns next behind the signature check. On success r.PostForm holds
// the decoded parameters and r.Body can be read again.
func (v *Verifier) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, status, err := v.verify(r)
		if err != nil {
			v.log.WarnContext(r.Context(), "webhook rejected", "status", status, "reason", err.Error(),
				"path", r.URL.Path, "user_agent", r.UserAgent())
			http.Error(w, err.Error(), status)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// Reasons a delivery is rejected. Their text is the body of the 403,
// read by whoever configured the webhook, hence no package prefix.
var (
	errMissingSignature = errors.New("missing X-Twilio-Signature")
	errBadSignature     = errors.New("invalid X-Twilio-Signature")
	errRepeatedParam    = errors.New("repeated parameter: not covered by X-Twilio-Signature")
)

func (v *Verifier) verify(r *http.Request) ([]byte, int, error) {
	sig := r.Header.Get("X-Twilio-Signature")
	var body []byte
	switch r.Method {
	case http.MethodPost:
		b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge, errors.New("body too large")
		}
		if err != nil {
			return nil, http.StatusBadRequest, errors.New("unreadable body")
		}
		body = b
	case http.MethodGet:
	default:
		return nil, http.StatusMethodNotAllowed, errors.New("method not allowed")
	}
	if sig == "" {
		return nil, http.StatusForbidden, errMissingSignature
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isForm := ct == "application/x-www-form-urlencoded"
	if r.Method == http.MethodPost && !isForm && !strings.Contains(r.URL.RawQuery, "bodySHA256=") {
		// Only JSON bodies signed through bodySHA256 are valid besides forms.
		return nil, http.StatusUnsupportedMediaType, errors.New("want application/x-www-form-urlencoded")
	}
	if !v.valid(r, body, sig) {
		return nil, http.StatusForbidden, errBadSignature
	}
	if r.Method == http.MethodPost && isForm {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, http.StatusBadRequest, errors.New("malformed form body")
		}
		// Without bodySHA256, twilio-go checked only the first value of a
		// repeated key, and Twilio sends none: a second value is an
		// unsigned addition.
		if r.URL.Query().Get("bodySHA256") == "" {
			for _, vs := range form {
				if len(vs) > 1 {
					return nil, http.StatusForbidden, errRepeatedParam
				}
			}
		}
		r.PostForm = form
	} else {
		r.PostForm = url.Values{}
	}
	r.Form = r.PostForm
	return body, 0, nil
}

func (v *Verifier) valid(r *http.Request, body []byte, sig string) bool {
	for _, u := range v.urls {
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		if r.Method == http.MethodGet {
			if v.validator.Validate(u, map[string]string{}, sig) {
				return true
			}
			continue
		}
		if v.validator.ValidateBody(u, body, sig) {
			return true
		}
	}
	return false
}
