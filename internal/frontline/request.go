package frontline

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/httpjson"
)

// The checks every callback makes of its request. Each refusal is
// answered and logged under the callback's name ("crm", "templates",
// "outgoing"); a false result means the request has been answered.

// orDiscard is log, or a logger that drops everything when log is nil.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// unknownLocation answers 422 to a Location the callback does not serve.
func unknownLocation(w http.ResponseWriter, r *http.Request, log *slog.Logger, callback, location string) {
	log.WarnContext(r.Context(), callback+" callback: unknown location", "location", clip(location))
	httpjson.Error(w, http.StatusUnprocessableEntity, "unknown Location "+strconv.Quote(clip(location)))
}

// tooLong answers 400 and logs one short line when a parameter is longer
// than MaxField characters.
func tooLong(w http.ResponseWriter, r *http.Request, log *slog.Logger, names ...string) bool {
	for _, name := range names {
		v := r.PostForm.Get(name)
		if n := utf8.RuneCountInString(v); n > MaxField {
			log.WarnContext(r.Context(), "callback: parameter too long", "parameter", name, "characters", n, "start", clip(v))
			httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("%s is longer than %d characters", name, MaxField))
			return true
		}
	}
	return false
}

// customerID is the request's CustomerId; without one it answers 400.
func customerID(w http.ResponseWriter, r *http.Request, log *slog.Logger, callback string) (string, bool) {
	id := strings.TrimSpace(r.PostForm.Get("CustomerId"))
	if id == "" {
		log.WarnContext(r.Context(), callback+" callback: no CustomerId")
		httpjson.Error(w, http.StatusBadRequest, "CustomerId is required")
		return "", false
	}
	return id, true
}

// lookup reads the customer id names: an unknown one is answered 404, a
// CRM that fails 503.
func lookup(w http.ResponseWriter, r *http.Request, customers Customers, log *slog.Logger, callback, id string) (crm.Customer, bool) {
	ctx := r.Context()
	c, err := customers.Customer(ctx, id)
	switch {
	case errors.Is(err, crm.ErrNotFound):
		log.InfoContext(ctx, callback+" callback: unknown customer", "customer_id", id)
		httpjson.Error(w, http.StatusNotFound, "customer not found")
		return crm.Customer{}, false
	case err != nil:
		log.ErrorContext(ctx, callback+" callback: customer lookup failed", "customer_id", id, "err", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "customer data unavailable")
		return crm.Customer{}, false
	}
	return c, true
}

// clip shortens a value a caller sent for a log line or an answer.
func clip(s string) string {
	if len(s) <= logClip {
		return s
	}
	i := logClip
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
