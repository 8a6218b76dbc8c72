package main

import (
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/crm"
)

// TestSyncAllowEmpty: every template deleted in Strapi while the webhooks
// were missed. `experthub sync` keeps the cached templates and says so,
// with the way out; `experthub sync --allow-empty` empties the cache.
func TestSyncAllowEmpty(t *testing.T) {
	h := apptest.New(t, apptest.Options{Store: apptest.Firestore, StrapiVersion: 5, StrapiCustomers: 2, LogLevel: "info"})
	for i, content := range []string{"Hello", "Bonjour"} {
		h.Strapi.AddTemplate(crm.Template{Category: "Openers", Content: content, Order: i})
	}
	cached := func() int {
		ts, err := h.App.Templates.Templates(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return len(ts)
	}
	var out strings.Builder
	if err := runSync(t.Context(), h.App, false, &out); err != nil || cached() != 2 {
		t.Fatalf("first sync: %v, %d templates cached\n%s", err, cached(), out.String())
	}
	for _, tp := range h.Strapi.Templates() {
		if err := h.Strapi.DeleteTemplate(tp.ID); err != nil {
			t.Fatal(err)
		}
	}

	out.Reset()
	if err := runSync(t.Context(), h.App, false, &out); err != nil {
		t.Fatal(err)
	}
	if cached() != 2 || !strings.Contains(out.String(), "templates: none in Strapi; kept 2 cached (guard); run experthub sync --allow-empty") {
		t.Errorf("sync without records: %d templates cached; output:\n%s", cached(), out.String())
	}
	if strings.Contains(out.String(), "customers: none") {
		t.Errorf("customers reported kept while Strapi has them:\n%s", out.String())
	}
	if n := len(h.Logs.Lines("empty-CRM guard")); n != 1 {
		t.Errorf("%d guard warnings logged, want 1:\n%s", n, h.Logs.String())
	}

	out.Reset()
	if err := runSync(t.Context(), h.App, true, &out); err != nil {
		t.Fatal(err)
	}
	if cached() != 0 || !strings.Contains(out.String(), "templates: 0 synced, 2 deleted") {
		t.Errorf("sync --allow-empty: %d templates cached; output:\n%s", cached(), out.String())
	}
	st, err := h.App.Templates.TemplateSyncState(t.Context())
	if err != nil || st.Kept != 0 || !st.Done {
		t.Errorf("template checkpoint after --allow-empty = %+v, %v", st, err)
	}
}
