package frontline

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/handoff"
	"github.com/experthub/experthub/internal/inmem"
)

type failingNotes struct{}

func (failingNotes) Notes(context.Context, string) ([]handoff.Note, error) {
	return nil, errors.New("firestore: unavailable")
}

// TestDetailsWithNotes: the contact center's notes follow the CRM's
// details, latest first; without CRM details they are the details; a
// notes store that fails leaves the CRM's details.
func TestDetailsWithNotes(t *testing.T) {
	ctx := context.Background()
	notes := inmem.NewHandoffs()
	at := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	for i, text := range []string{"older note", "newer note"} {
		n := handoff.Note{HandoffID: "h" + text, At: at.Add(time.Duration(i) * time.Hour), Text: text}
		for _, customer := range []string{"1", "5"} {
			if err := notes.AddNote(ctx, customer, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	withCRMDetails := crm.Customer{ID: "5", DisplayName: "Eve", Details: &crm.Details{Title: "Information", Content: "VIP"}}
	svc := sampleService(t, withCRMDetails)
	details := func(h http.Handler, id string) map[string]any {
		t.Helper()
		code, body := post(t, h, url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {id}})
		if code != 200 {
			t.Fatalf("CustomerId=%s: %d %v", id, code, body)
		}
		d, _ := body["objects"].(map[string]any)["customer"].(map[string]any)["details"].(map[string]any)
		return d
	}
	h := CRMHandler(svc, notes, nil)

	d := details(h, "5")
	content, _ := d["content"].(string)
	crmAt, newer, older := strings.Index(content, "VIP"), strings.Index(content, "newer note"), strings.Index(content, "older note")
	if d["title"] != "Information" || crmAt != 0 || newer < crmAt || older < newer {
		t.Errorf("details = %v, want the CRM's content, then the newer note, then the older", d)
	}
	if strings.Count(content, "From the contact center — ") != 2 {
		t.Errorf("details %q lack a header per note", content)
	}
	if d := details(h, "1"); d["title"] != handoff.Title || !strings.Contains(d["content"].(string), "newer note") {
		t.Errorf("details of a customer without CRM details = %v", d)
	}
	if d := details(h, "2"); d != nil {
		t.Errorf("details of a customer without notes or CRM details = %v", d)
	}
	failing := CRMHandler(svc, failingNotes{}, nil)
	if d := details(failing, "5"); d["content"] != "VIP" {
		t.Errorf("details with the notes store down = %v, want the CRM's", d)
	}
}
