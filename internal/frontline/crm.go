// Package frontline answers the Frontline app's callbacks: the CRM
// callback (My Customers, Customer Details) and the outgoing-conversation
// callback (which number to text from).
package frontline

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/httpjson"
)

// Customers is the read side of the CRM the callbacks need.
type Customers interface {
	Customer(ctx context.Context, id string) (crm.Customer, error)
	List(ctx context.Context, q crm.ListQuery) (crm.Page, error)
}

const (
	defaultPageSize = 30
	maxPageSize     = 100
)

// CRMHandler serves the Frontline CRM callback. It expects a request whose
// signature has been checked and whose form is in r.PostForm.
//
// GetCustomersList shows the calling worker the customers they own plus
// every customer with no owner, so a CRM without an owner field shows
// everyone to everyone.
func CRMHandler(customers Customers, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &crmHandler{customers: customers, log: log}
}

type crmHandler struct {
	customers Customers
	log       *slog.Logger
}

func (h *crmHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	location := r.PostForm.Get("Location")
	switch location {
	case "GetCustomerDetailsByCustomerId":
		h.details(w, r)
	case "GetCustomersList":
		h.list(w, r)
	default:
		h.log.WarnContext(r.Context(), "crm callback: unknown location", "location", location)
		httpjson.Error(w, http.StatusUnprocessableEntity, "unknown Location "+strconv.Quote(location))
	}
}

func (h *crmHandler) details(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.PostForm.Get("CustomerId"))
	if id == "" {
		httpjson.Error(w, http.StatusBadRequest, "CustomerId is required")
		return
	}
	c, err := h.customers.Customer(r.Context(), id)
	switch {
	case errors.Is(err, crm.ErrNotFound):
		h.log.InfoContext(r.Context(), "crm callback: unknown customer", "customer_id", id)
		httpjson.Error(w, http.StatusNotFound, "customer not found")
		return
	case err != nil:
		h.log.ErrorContext(r.Context(), "crm callback: lookup failed", "customer_id", id, "err", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "customer data unavailable")
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"objects": map[string]any{"customer": c}})
}

func (h *crmHandler) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := crm.ListQuery{
		Worker: strings.ToLower(strings.TrimSpace(r.PostForm.Get("Worker"))),
		Prefix: crm.NameKey(r.PostForm.Get("Query")),
		Limit:  defaultPageSize,
	}
	if s := r.PostForm.Get("PageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			httpjson.Error(w, http.StatusBadRequest, "PageSize must be a positive number")
			return
		}
		q.Limit = min(n, maxPageSize)
	}
	switch token, anchor := r.PostForm.Get("NextPageToken"), r.PostForm.Get("Anchor"); {
	case token != "":
		c, err := decodeCursor(token)
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, "invalid NextPageToken")
			return
		}
		q.After = &c
	case anchor != "":
		// Frontline's Anchor is the customer_id of the last row shown; the
		// list is ordered by name, so find where that customer sits.
		c, err := h.customers.Customer(ctx, anchor)
		if errors.Is(err, crm.ErrNotFound) {
			httpjson.Error(w, http.StatusBadRequest, "unknown Anchor")
			return
		}
		if err != nil {
			h.log.ErrorContext(ctx, "crm callback: anchor lookup failed", "err", err)
			httpjson.Error(w, http.StatusServiceUnavailable, "customer data unavailable")
			return
		}
		q.After = &crm.Cursor{NameKey: c.NameKey(), ID: c.ID}
	}
	page, err := h.customers.List(ctx, q)
	if err != nil {
		h.log.ErrorContext(ctx, "crm callback: list failed", "err", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "customer data unavailable")
		return
	}
	list := make([]crm.Customer, len(page.Customers))
	for i, c := range page.Customers {
		list[i] = c.Summary()
	}
	objects := map[string]any{"customers": list, "searchable": true}
	if page.Next != nil {
		objects["next_page_token"] = encodeCursor(*page.Next)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"objects": objects})
}

// The page token is opaque to Frontline; it carries the sort position so
// the next page is one query with no lookup.
func encodeCursor(c crm.Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.NameKey + "\x00" + c.ID))
}

func decodeCursor(token string) (crm.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return crm.Cursor{}, err
	}
	name, id, ok := strings.Cut(string(b), "\x00")
	if !ok || id == "" {
		return crm.Cursor{}, errors.New("malformed page token")
	}
	return crm.Cursor{NameKey: name, ID: id}, nil
}
