package frontline

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/httpjson"
)

// Templates is the read side of the template cache.
type Templates interface {
	Templates(ctx context.Context) ([]crm.Template, error)
}

// Category is one heading of the templates callback's answer, in
// Frontline's shape (https://www.twilio.com/docs/frontline/templated-messages).
type Category struct {
	DisplayName string     `json:"display_name"`
	Templates   []Template `json:"templates"`
}

// Template is one template as Frontline reads it: final text, and
// whatsAppApproved (that spelling) on the ones WhatsApp approved.
type Template struct {
	Content          string `json:"content"`
	WhatsAppApproved bool   `json:"whatsAppApproved,omitempty"`
}

// TemplatesHandler serves the Frontline templates callback
// (Location=GetTemplatesByCustomerId, with CustomerId, Worker and
// ConversationSid). It expects a request whose signature has been checked
// and whose form is in r.PostForm.
//
// It answers the CRM's templates (bot.DefaultTemplates when there are
// none) with their placeholders filled in for the customer and the worker
// (Render). Every template is listed, and the ones the CRM marks
// WhatsApp-approved carry whatsAppApproved: Frontline shows only those in
// a WhatsApp conversation outside WhatsApp's 24-hour window, and all of
// them inside it, where any text may be sent.
func TemplatesHandler(customers Customers, templates Templates, log *slog.Logger) http.Handler {
	return &templatesHandler{customers: customers, templates: templates, log: orDiscard(log)}
}

type templatesHandler struct {
	customers Customers
	templates Templates
	log       *slog.Logger
}

func (h *templatesHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if location := r.PostForm.Get("Location"); location != "GetTemplatesByCustomerId" {
		unknownLocation(w, r, h.log, "templates", location)
		return
	}
	if tooLong(w, r, h.log, "CustomerId", "Worker", "ConversationSid") {
		return
	}
	id, ok := customerID(w, r, h.log, "templates")
	if !ok {
		return
	}
	c, ok := lookup(w, r, h.customers, h.log, "templates", id)
	if !ok {
		return
	}
	ts, err := h.templates.Templates(ctx)
	if err != nil {
		h.log.ErrorContext(ctx, "templates callback: templates unavailable", "err", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "templates unavailable")
		return
	}
	source := "crm"
	if len(ts) == 0 {
		ts, source = defaultTemplates(), "defaults"
	}
	worker := strings.TrimSpace(r.PostForm.Get("Worker"))
	vals := Values(c, worker)
	out := Categories(ts, vals)
	h.log.InfoContext(ctx, "templates callback", "customer_id", id, "source", source, "categories", len(out),
		"whatsapp_customer", isWhatsAppCustomer(c), "conversation_sid", clip(r.PostForm.Get("ConversationSid")))
	httpjson.Write(w, http.StatusOK, out)
}

func defaultTemplates() []crm.Template {
	out := make([]crm.Template, len(bot.DefaultTemplates))
	for i, d := range bot.DefaultTemplates {
		out[i] = crm.Template{ID: strconv.Itoa(i), Category: d.Category, Content: d.Content, Order: i}
	}
	return out
}

// isWhatsAppCustomer reports whether the customer can be reached on
// WhatsApp, for the log line: it is then that the approved flag matters.
func isWhatsAppCustomer(c crm.Customer) bool {
	for _, ch := range c.Channels {
		if strings.EqualFold(ch.Type, "whatsapp") || crm.IsWhatsApp(ch.Value) {
			return true
		}
	}
	return false
}

// Categories renders templates (sorted by crm.SortTemplates) into
// Frontline's categories, in order of first appearance. Templates whose
// text is empty once rendered are left out, and so are categories left
// empty.
func Categories(ts []crm.Template, vals map[string]string) []Category {
	out := []Category{}
	index := map[string]int{}
	for _, t := range ts {
		content := strings.TrimSpace(Render(t.Content, vals))
		if content == "" {
			continue
		}
		name := strings.TrimSpace(t.Category)
		if name == "" {
			name = bot.UncategorisedTemplates
		}
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, Category{DisplayName: name})
		}
		out[i].Templates = append(out[i].Templates, Template{Content: content, WhatsAppApproved: t.WhatsAppApproved})
	}
	return out
}

// maxValue bounds, in characters, what one placeholder inserts.
const maxValue = 256

// Values returns the placeholder values for a customer and a worker
// identity:
//
//	{{customer.display_name}}  the customer's display name
//	{{customer.first_name}}    its first word
//	{{customer.id}}            the customer's id
//	{{worker.identity}}        the worker's Frontline identity
//	{{worker.name}}            the same: Frontline sends only the identity
//
// Values are cleaned (control characters dropped, length bounded); a
// missing one is "".
func Values(c crm.Customer, worker string) map[string]string {
	name := clean(c.DisplayName)
	first, _, _ := strings.Cut(name, " ")
	w := clean(worker)
	return map[string]string{
		"customer.display_name": name,
		"customer.first_name":   first,
		"customer.id":           clean(c.ID),
		"worker.identity":       w,
		"worker.name":           w,
	}
}

// clean drops control characters and bounds the length of a value.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxValue {
		s = string([]rune(s)[:maxValue])
	}
	return s
}

// maxPlaceholder bounds the name between braces: longer is not one.
const maxPlaceholder = 64

// Render fills the {{name}} placeholders of a template's content from
// vals in one pass, left to right: inserted values are never read again,
// so a customer named "{{worker.identity}}" is shown as written and
// cannot pull in anything else. A known name without a value renders as
// ""; an unknown name ({{typo}}) stays as written, so the worker sees it
// before sending. Spaces inside the braces are allowed. The answer is
// JSON-encoded, which escapes whatever the values hold.
func Render(content string, vals map[string]string) string {
	var b strings.Builder
	b.Grow(len(content))
	rest := content
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(rest[:i])
		rest = rest[i:]
		end := strings.Index(rest[2:], "}}")
		if end < 0 || end > maxPlaceholder {
			// Not a placeholder: keep the braces and go on after them.
			b.WriteString("{{")
			rest = rest[2:]
			continue
		}
		name := strings.ToLower(strings.TrimSpace(rest[2 : 2+end]))
		v, known := vals[name]
		if _, placeholder := placeholders[name]; !known && !placeholder {
			b.WriteString(rest[:2+end+2])
		} else {
			b.WriteString(v)
		}
		rest = rest[2+end+2:]
	}
}

// placeholders are the names Render replaces even without a value.
var placeholders = map[string]bool{
	"customer.display_name": true, "customer.first_name": true, "customer.id": true,
	"worker.identity": true, "worker.name": true,
}
