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
	"unicode/utf8"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/handoff"
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
	// MaxField bounds, in characters, every id, name and search text the
	// callbacks take. Real ones are far shorter; a longer one is refused
	// with a 400 before it reaches the CRM: Strapi answers 414 to a URL
	// that long and Firestore refuses index values over 1,500 bytes
	// (https://firebase.google.com/docs/firestore/quotas#indexes), and
	// 256 characters are 1,024 bytes at most.
	MaxField = 256
	// logClip is how much of a refused value a log line quotes.
	logClip = 64
)

// Notes are the contact center's notes on customers (handoff.Notes).
type Notes interface {
	Notes(ctx context.Context, customer string) ([]handoff.Note, error)
}

// CRMHandler serves the Frontline CRM callback. It expects a request whose
// signature has been checked and whose form is in r.PostForm.
//
// GetCustomersList shows the calling worker the customers they own plus
// every customer with no owner, so a CRM without an owner field shows
// everyone to everyone. GetCustomerDetailsByCustomerId adds the contact
// center's notes (nil: none) to the CRM's details.
func CRMHandler(customers Customers, notes Notes, log *slog.Logger) http.Handler {
	return &crmHandler{customers: customers, notes: notes, log: orDiscard(log)}
}

type crmHandler struct {
	customers Customers
	notes     Notes
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
		unknownLocation(w, r, h.log, "crm", location)
	}
}

func (h *crmHandler) details(w http.ResponseWriter, r *http.Request) {
	if tooLong(w, r, h.log, "CustomerId") {
		return
	}
	id, ok := customerID(w, r, h.log, "crm")
	if !ok {
		return
	}
	// The notes are read beside the customer, not after: one round trip.
	notes := h.readNotes(r.Context(), id)
	c, ok := lookup(w, r, h.customers, h.log, "crm", id)
	if !ok {
		return
	}
	c.Details = withNotes(c.Details, <-notes)
	httpjson.Write(w, http.StatusOK, map[string]any{"objects": map[string]any{"customer": c}})
}

// readNotes reads the contact center's notes on the customer; the
// channel gets them, or none when there is no notes store or it fails
// (the expert still sees what the CRM has).
func (h *crmHandler) readNotes(ctx context.Context, customer string) <-chan []handoff.Note {
	out := make(chan []handoff.Note, 1)
	if h.notes == nil {
		out <- nil
		return out
	}
	go func() {
		notes, err := h.notes.Notes(ctx, customer)
		if err != nil && ctx.Err() == nil { // not a request already answered
			h.log.WarnContext(ctx, "crm callback: the contact center's notes could not be read; showing the CRM's details only", "customer_id", clip(customer), "err", err)
		}
		out <- notes
	}()
	return out
}

// withNotes returns the customer's details with the contact center's
// notes: the CRM's content first (the customer as the CRM describes
// them), then the notes, latest first. Without a CRM title the card is
// titled handoff.Title.
func withNotes(d *crm.Details, notes []handoff.Note) *crm.Details {
	if len(notes) == 0 {
		return d
	}
	out := crm.Details{Title: handoff.Title, Content: handoff.Render(notes)}
	if d != nil {
		if d.Title != "" {
			out.Title = d.Title
		}
		if d.Content != "" {
			out.Content = d.Content + "\n\n" + out.Content
		}
	}
	return &out
}

func (h *crmHandler) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if tooLong(w, r, h.log, "Worker", "Query", "Anchor") {
		return
	}
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
			h.log.WarnContext(ctx, "crm callback: invalid page token", "characters", len(token), "err", err)
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
	// Our own tokens carry a stored name key, which Firestore indexed, so
	// at most 1,500 bytes; anything longer was not made here.
	if !ok || id == "" || len(name) > 1500 || utf8.RuneCountInString(id) > MaxField {
		return crm.Cursor{}, errors.New("malformed page token")
	}
	return crm.Cursor{NameKey: name, ID: id}, nil
}
