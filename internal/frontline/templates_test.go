package frontline

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crm/crmtest"
	"github.com/experthub/experthub/internal/inmem"
)

func TestRender(t *testing.T) {
	vals := Values(crm.Customer{ID: "7", DisplayName: "  Élodie   Durand "}, "ann@example.com")
	tests := []struct {
		name, in, want string
	}{
		{"no placeholder", "Hello there", "Hello there"},
		{"display name", "Dear {{customer.display_name}},", "Dear Élodie Durand,"},
		{"first name, spaces and case", "Hi {{ Customer.First_Name }}!", "Hi Élodie!"},
		{"worker", "I am {{worker.name}} ({{worker.identity}})", "I am ann@example.com (ann@example.com)"},
		{"unknown stays", "Hi {{customer.nickname}}", "Hi {{customer.nickname}}"},
		{"unclosed", "Hi {{customer.display_name", "Hi {{customer.display_name"},
		{"triple braces", "{{{customer.id}}}", "{{{customer.id}}}"},
		{"adjacent", "{{customer.id}}{{customer.id}}", "77"},
		{"empty braces", "{{}}", "{{}}"},
		{"long braces", "{{" + strings.Repeat("x", 100) + "}} {{customer.id}}", "{{" + strings.Repeat("x", 100) + "}} 7"},
	}
	for _, tt := range tests {
		if got := Render(tt.in, vals); got != tt.want {
			t.Errorf("%s: Render(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
	// A missing value renders empty.
	if got := Render("Hi {{customer.first_name}}.", Values(crm.Customer{ID: "1"}, "")); got != "Hi ." {
		t.Errorf("missing value: %q", got)
	}
}

// TestRenderSinglePass: customer data that looks like a placeholder is
// shown as written, never expanded.
func TestRenderSinglePass(t *testing.T) {
	vals := Values(crm.Customer{ID: "{{worker.identity}}", DisplayName: "{{customer.id}} <script>\"x\"</script>\n{{"}, "ann@example.com")
	got := Render("{{customer.display_name}}|{{customer.id}}", vals)
	want := `{{customer.id}} <script>"x"</script> {{|{{worker.identity}}`
	if got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	b, _ := json.Marshal([]Category{{DisplayName: "x", Templates: []Template{{Content: got}}}})
	if strings.Contains(string(b), "<script>") {
		t.Errorf("the answer carries raw HTML: %s", b)
	}
}

func FuzzRender(f *testing.F) {
	f.Add("Hello {{customer.first_name}}", "Jo Anne", "ann@example.com")
	f.Add("{{{{}}}}{{customer.display_name}}}}", "{{worker.name}}", "{{customer.id}}")
	f.Add("{{ worker.identity ", "\x00\x1b[31m", "\xff")
	f.Fuzz(func(t *testing.T, content, name, worker string) {
		vals := Values(crm.Customer{ID: "1", DisplayName: name}, worker)
		for k, v := range vals {
			if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) || utf8.RuneCountInString(v) > maxValue {
				t.Fatalf("value %s = %q not cleaned", k, v)
			}
		}
		got := Render(content, vals)
		// Without placeholders the text comes back as it is.
		if !strings.Contains(content, "{{") && got != content {
			t.Fatalf("Render(%q) = %q", content, got)
		}
		// The output is never longer than the content plus one value per
		// placeholder: values are not expanded again.
		if n := strings.Count(content, "{{"); len(got) > len(content)+n*4*maxValue {
			t.Fatalf("Render grew %d → %d bytes", len(content), len(got))
		}
		// Rendering the value alone gives the value: nothing in customer
		// data is interpreted.
		if Render("{{customer.display_name}}", vals) != vals["customer.display_name"] {
			t.Fatalf("display name %q was interpreted", name)
		}
		if _, err := json.Marshal(Categories([]crm.Template{{ID: "1", Content: content}}, vals)); err != nil {
			t.Fatal(err)
		}
	})
}

type brokenTemplates struct{}

func (brokenTemplates) Templates(context.Context) ([]crm.Template, error) {
	return nil, errors.New("firestore down")
}

func postTemplates(t *testing.T, h http.Handler, form url.Values) (int, []Category, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.PostForm, r.Form = form, form
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	var cats []Category
	if rec.Code == 200 {
		if err := json.Unmarshal(rec.Body.Bytes(), &cats); err != nil {
			t.Fatalf("answer is not an array of categories: %s", rec.Body)
		}
	}
	return rec.Code, cats, rec.Body.String()
}

func TestTemplatesHandler(t *testing.T) {
	store := inmem.NewTemplates()
	if err := store.PutTemplates(t.Context(), crmtest.SampleTemplates()...); err != nil {
		t.Fatal(err)
	}
	h := TemplatesHandler(sampleService(t), store, nil)
	form := func(loc, id string) url.Values {
		return url.Values{"Location": {loc}, "CustomerId": {id}, "Worker": {"ann@example.com"}, "ConversationSid": {"CH123"}}
	}
	code, cats, body := postTemplates(t, h, form("GetTemplatesByCustomerId", "3"))
	want := []Category{
		{DisplayName: "Openers", Templates: []Template{
			{Content: "Hello Susan, this is ann@example.com from the boutique.", WhatsAppApproved: true},
			{Content: "Dear Susan Smith, your order is ready."},
		}},
		{DisplayName: "Follow-up", Templates: []Template{{Content: "Thank you for your visit!", WhatsAppApproved: true}}},
	}
	if code != 200 || !reflect.DeepEqual(cats, want) {
		t.Errorf("= %d %+v, want %+v", code, cats, want)
	}
	if !strings.Contains(body, `"whatsAppApproved":true`) || strings.Contains(body, `"whatsAppApproved":false`) {
		t.Errorf("flag spelling: %s", body)
	}
	for _, tt := range []struct {
		name string
		form url.Values
		want int
	}{
		{"unknown location", form("GetCustomersList", "3"), 422},
		{"no location", form("", "3"), 422},
		{"unknown customer", form("GetTemplatesByCustomerId", "404"), 404},
		{"no customer", form("GetTemplatesByCustomerId", " "), 400},
		{"long worker", url.Values{"Location": {"GetTemplatesByCustomerId"}, "CustomerId": {"1"}, "Worker": {strings.Repeat("w", MaxField+1)}}, 400},
	} {
		if code, _, body := postTemplates(t, h, tt.form); code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, code, body, tt.want)
		}
	}
	if code, _, _ := postTemplates(t, TemplatesHandler(sampleService(t), brokenTemplates{}, nil), form("GetTemplatesByCustomerId", "1")); code != 503 {
		t.Errorf("store down: %d, want 503", code)
	}
}

func TestTemplatesHandlerDefaults(t *testing.T) {
	h := TemplatesHandler(sampleService(t), inmem.NewTemplates(), nil)
	code, cats, _ := postTemplates(t, h, url.Values{"Location": {"GetTemplatesByCustomerId"}, "CustomerId": {"1"}, "Worker": {"ann@example.com"}})
	n := 0
	for _, c := range cats {
		for _, tp := range c.Templates {
			n++
			if tp.WhatsAppApproved || strings.Contains(tp.Content, "{{") {
				t.Errorf("default template %+v", tp)
			}
		}
	}
	if code != 200 || n != len(bot.DefaultTemplates) || !strings.Contains(cats[0].Templates[0].Content, "Maria") {
		t.Errorf("= %d %+v", code, cats)
	}
}
