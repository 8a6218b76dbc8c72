package flexauth

import (
	"net/http"
	"strconv"
	"strings"
)

// The Flex UI calls handoff and experts from the browser, from another
// origin (https://flex.twilio.com): the browser sends them only when the
// function's answers allow that origin (CORS). Only those two functions
// do; the others send no CORS header, so a browser never reads them.

// What a preflight allows: the methods and headers the Flex plugin sends,
// for preflightMaxAge seconds.
const (
	allowMethods    = "GET, POST, OPTIONS"
	allowHeaders    = "Authorization, Content-Type, X-Flex-JWE"
	preflightMaxAge = 600
)

// Origins are the browser origins allowed to call (FLEX_UI_ORIGINS):
// each "scheme://host[:port]", or "scheme://host:*" for any port of host
// (a local harness's).
type Origins []string

// Allows reports whether origin, as a browser sends it, is listed.
func (o Origins) Allows(origin string) bool {
	if origin == "" || origin == "null" {
		return false
	}
	origin = strings.ToLower(origin)
	for _, a := range o {
		a = strings.ToLower(a)
		if a == origin {
			return true
		}
		if base, ok := strings.CutSuffix(a, ":*"); ok {
			port, ok := strings.CutPrefix(origin, base+":")
			if _, err := strconv.Atoi(port); ok && err == nil {
				return true
			}
		}
	}
	return false
}

// CORS wraps h, a function the Flex UI calls: a preflight (OPTIONS) from
// an allowed origin is answered 204 with what it may send, from another
// 403; any other request from an allowed origin gets its answer with
// Access-Control-Allow-Origin, and from another origin no CORS header (the
// browser then keeps the answer from the page).
func (o Origins) CORS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		allowed := o.Allows(origin)
		if r.Method == http.MethodOptions {
			if !allowed {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			hd := w.Header()
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Set("Access-Control-Allow-Methods", allowMethods)
			hd.Set("Access-Control-Allow-Headers", allowHeaders)
			hd.Set("Access-Control-Max-Age", strconv.Itoa(preflightMaxAge))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
		}
		h.ServeHTTP(w, r)
	})
}
