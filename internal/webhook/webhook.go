// Package webhook is the front door of every Twilio-facing function: body
// size limit, X-Twilio-Signature check against the URL Twilio called, and
// form decoding.
package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
)

// MaxBody bounds a webhook body. Twilio's largest payloads (conversation
// attributes up to 16 KB, a 1600-character body, media JSON) stay far below.
const MaxBody = 1 << 20

// Verifier checks Twilio's signature for one function.
type Verifier struct {
	key []byte
	// urls are the public URLs Twilio may have been configured with for
	// this function; the request path cannot be trusted because Cloud
	// Functions strips the function name from it behind its front end.
	urls []string
	log  *slog.Logger
	// readGET: a signed GET's query is its form (AllowGET).
	readGET bool
	// warnedGET: a signed GET has been logged as a WARN already.
	warnedGET atomic.Bool
}

// NewVerifier returns a Verifier for a function reachable at publicURLs.
// With an empty authToken it rejects every request: an HMAC keyed by
// nothing is one anybody can compute.
func NewVerifier(authToken string, log *slog.Logger, publicURLs ...string) *Verifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{key: []byte(authToken), log: log}
	if authToken == "" {
		log.Warn("no Twilio auth token: every webhook will be rejected")
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

// AllowGET makes the verifier read a signed GET's query string as its form,
// for a webhook that must handle every delivery (pre-event: any answer but
// 2xx drops the customer's message). Without it a signed GET gets 405,
// since the handlers read POST forms. Call it before Wrap.
func (v *Verifier) AllowGET() *Verifier {
	v.readGET = true
	return v
}

// Wrap returns next behind the signature check. On success r.PostForm holds
// the decoded parameters and r.Body can be read again.
func (v *Verifier) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, status, err := v.verify(r)
		if err != nil {
			if status == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", v.allowed())
			}
			if errors.Is(err, errGET) {
				v.warnGET(r, "signed GET refused")
			} else {
				v.log.WarnContext(r.Context(), "webhook rejected", "status", status, "reason", err.Error(),
					"path", r.URL.Path, "user_agent", r.UserAgent())
			}
			http.Error(w, err.Error(), status)
			return
		}
		if r.Method == http.MethodGet {
			v.warnGET(r, "signed GET read as a form")
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func (v *Verifier) allowed() string {
	if v.readGET {
		return "POST, GET"
	}
	return "POST"
}

// warnGET logs a signed GET: a WARN the first time, which is what the
// operator needs to fix the configuration, then DEBUG lines, as every
// delivery of a misconfigured webhook is one.
func (v *Verifier) warnGET(r *http.Request, msg string) {
	level := slog.LevelDebug
	if v.warnedGET.CompareAndSwap(false, true) {
		level = slog.LevelWarn
	}
	v.log.Log(r.Context(), level, "webhook "+msg+": configure the webhook with method POST",
		"path", r.URL.Path, "user_agent", r.UserAgent())
}

// Reasons a delivery is rejected. Their text is the body of the answer,
// read by whoever configured the webhook, hence no package prefix.
var (
	errMissingSignature = errors.New("missing X-Twilio-Signature")
	errBadSignature     = errors.New("invalid X-Twilio-Signature")
	errRepeatedParam    = errors.New("repeated parameter: not covered by X-Twilio-Signature")
	errGET              = errors.New("method GET not allowed: configure the webhook with method POST")
)

// verify checks r before reading anything it need not: the method and the
// signature's presence cost nothing, a body costs up to MaxBody.
func (v *Verifier) verify(r *http.Request) ([]byte, int, error) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, http.StatusMethodNotAllowed, errors.New("method not allowed")
	}
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" {
		return nil, http.StatusForbidden, errMissingSignature
	}
	if len(v.urls) == 0 {
		return nil, http.StatusForbidden, errBadSignature // no auth token
	}
	if r.Method == http.MethodGet {
		status, err := v.verifyGET(r, sig)
		return nil, status, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isForm := ct == "application/x-www-form-urlencoded"
	bodyHash := r.URL.Query().Get("bodySHA256")
	if !isForm && !strings.Contains(r.URL.RawQuery, "bodySHA256=") {
		// Only JSON bodies signed through bodySHA256 are valid besides forms.
		return nil, http.StatusUnsupportedMediaType, errors.New("want application/x-www-form-urlencoded")
	}
	body, status, err := readBody(r)
	if err != nil {
		return nil, status, err
	}
	var form url.Values
	var formErr error
	if isForm {
		form, formErr = url.ParseQuery(string(body))
	}
	if bodyHash == "" {
		// Twilio signs forms it can encode; a malformed one is not.
		if formErr != nil || !v.valid(r, sig, form) {
			return nil, http.StatusForbidden, errBadSignature
		}
		// The signature covers the first value of each key, and Twilio
		// sends one: a second value is an unsigned addition.
		for _, vs := range form {
			if len(vs) > 1 {
				return nil, http.StatusForbidden, errRepeatedParam
			}
		}
	} else {
		sum := sha256.Sum256(body)
		if !v.valid(r, sig, nil) || subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(bodyHash)) != 1 {
			return nil, http.StatusForbidden, errBadSignature
		}
	}
	if formErr != nil {
		return nil, http.StatusBadRequest, errors.New("malformed form body")
	}
	if form == nil {
		form = url.Values{}
	}
	r.PostForm, r.Form = form, form
	return body, 0, nil
}

// verifyGET checks a GET, whose parameters are in its signed URL.
func (v *Verifier) verifyGET(r *http.Request, sig string) (int, error) {
	if !v.valid(r, sig, nil) {
		return http.StatusForbidden, errBadSignature
	}
	if !v.readGET {
		return http.StatusMethodNotAllowed, errGET
	}
	// The whole query is signed, so a repeated key is too; a malformed
	// pair is skipped, as net/http does.
	form, _ := url.ParseQuery(r.URL.RawQuery)
	r.PostForm, r.Form = form, form
	return 0, nil
}

// readBody reads r's body into one buffer sized from Content-Length, never
// growing it beyond MaxBody+1 bytes.
func readBody(r *http.Request) ([]byte, int, error) {
	tooLarge := errors.New("body too large")
	if r.ContentLength > MaxBody {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	size := int(r.ContentLength) + 1 // +1: the end is seen without growing
	if r.ContentLength < 0 {
		size = 4 << 10
	}
	b := make([]byte, 0, size)
	lr := io.LimitReader(r.Body, MaxBody+1)
	for len(b) <= MaxBody {
		if len(b) == cap(b) {
			// Doubling, but straight to MaxBody+1 rather than to MaxBody
			// and then one byte more.
			size := 2 * cap(b)
			if size >= MaxBody {
				size = MaxBody + 1
			}
			grown := make([]byte, len(b), size)
			copy(grown, b)
			b = grown
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, http.StatusBadRequest, errors.New("unreadable body")
		}
	}
	if len(b) > MaxBody {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	return b, 0, nil
}

// valid reports whether sig is Twilio's signature of the URL r was sent to,
// with params: base64 of HMAC-SHA1, keyed by the auth token, over the URL
// followed by each parameter's name and first value in name order
// (https://www.twilio.com/docs/usage/security#validating-requests). The
// URL is tried with and without its default port, as Twilio signs either.
// It hashes as it goes: a 1 MiB form is not copied again.
func (v *Verifier) valid(r *http.Request, sig string, params url.Values) bool {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	mac := hmac.New(sha1.New, v.key)
	buf := make([]byte, 4<<10)
	for _, base := range v.urls {
		u := base
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		variants, ok := portVariants(u)
		if !ok && r.Method != http.MethodGet {
			continue // twilio-go refuses a POST to a URL it cannot parse
		}
		for _, variant := range variants {
			mac.Reset()
			writeString(mac, buf, variant)
			for _, k := range keys {
				writeString(mac, buf, k)
				writeString(mac, buf, params[k][0])
			}
			want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
			if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) == 1 {
				return true
			}
		}
	}
	return false
}

// portVariants returns u with its scheme's default port and without any
// port, as twilio-go's RequestValidator builds them, and whether u parses.
func portVariants(u string) ([2]string, bool) {
	parsed, err := url.Parse(u)
	if err != nil {
		return [2]string{u, u}, false
	}
	p := *parsed
	if parsed.Port() != "" {
		p.Host = strings.Split(parsed.Host, ":")[0]
		return [2]string{u, p.String()}, true
	}
	port := "80"
	if parsed.Scheme == "https" {
		port = "443"
	}
	p.Host = parsed.Host + ":" + port
	return [2]string{p.String(), u}, true
}

// writeString hashes s through buf, without converting all of s to bytes
// at once.
func writeString(h hash.Hash, buf []byte, s string) {
	for len(s) > 0 {
		n := copy(buf, s)
		h.Write(buf[:n])
		s = s[n:]
	}
}
