package crmtest

import (
	"slices"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/conformance"
	"github.com/experthub/experthub/internal/crm"
)

// SampleTemplates returns templates in two categories, one approved for
// WhatsApp and one using every placeholder.
func SampleTemplates() []crm.Template {
	return []crm.Template{
		{ID: "t1", Category: "Openers", Content: "Hello {{customer.first_name}}, this is {{worker.name}} from the boutique.", WhatsAppApproved: true, Order: 1},
		{ID: "t2", Category: "Openers", Content: "Dear {{customer.display_name}}, your order is ready.", Order: 2},
		{ID: "t3", Category: "Follow-up", Content: "Thank you for your visit!", WhatsAppApproved: true, Order: 3},
	}
}

// TestTemplateStore runs the conformance suite against the template
// stores newStore returns; each subtest gets an empty store.
func TestTemplateStore(t *testing.T, newStore func(t *testing.T) crm.TemplateStore) {
	conformance.Run(t, newStore, map[string]func(*testing.T, crm.TemplateStore){
		"RoundTrip":          testTemplateRoundTrip,
		"Replace":            testTemplateReplace,
		"Delete":             testTemplateDelete,
		"DeleteSyncedBefore": testTemplateSweep,
		"SyncState":          testTemplateSyncState,
		"InvalidID":          testTemplateInvalidID,
	})
}

func putTemplates(t *testing.T, s crm.TemplateStore, ts ...crm.Template) {
	t.Helper()
	if err := s.PutTemplates(t.Context(), ts...); err != nil {
		t.Fatalf("PutTemplates: %v", err)
	}
}

func templateIDs(t *testing.T, s crm.TemplateStore) []string {
	t.Helper()
	ts, err := s.Templates(t.Context())
	if err != nil {
		t.Fatalf("Templates: %v", err)
	}
	out := make([]string, len(ts))
	for i, tp := range ts {
		out[i] = tp.ID
	}
	return out
}

func testTemplateRoundTrip(t *testing.T, s crm.TemplateStore) {
	if got := templateIDs(t, s); len(got) != 0 {
		t.Fatalf("empty store holds %q", got)
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 123456000, time.UTC)
	in := SampleTemplates()
	// Stored out of order, with an id Firestore must escape.
	in = append(in, crm.Template{ID: "a/b", Category: "Openers", Content: "Élan {{x}}", Order: 0})
	slices.Reverse(in)
	for i := range in {
		in[i].SyncedAt = at
	}
	putTemplates(t, s, in...)
	got, err := s.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(in)
	crm.SortTemplates(want)
	if len(got) != len(want) {
		t.Fatalf("got %d templates, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Category != w.Category || g.Content != w.Content || g.WhatsAppApproved != w.WhatsAppApproved || g.Order != w.Order || !g.SyncedAt.Equal(w.SyncedAt) {
			t.Errorf("template %d = %+v, want %+v", i, g, w)
		}
	}
}

func testTemplateReplace(t *testing.T, s crm.TemplateStore) {
	putTemplates(t, s, SampleTemplates()...)
	changed := SampleTemplates()[0]
	changed.Content, changed.WhatsAppApproved = "Hi", false
	putTemplates(t, s, changed)
	ts, err := s.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 || ts[0].ID != "t1" || ts[0].Content != "Hi" || ts[0].WhatsAppApproved {
		t.Errorf("after replace: %+v", ts)
	}
}

func testTemplateDelete(t *testing.T, s crm.TemplateStore) {
	putTemplates(t, s, SampleTemplates()...)
	if err := s.DeleteTemplates(t.Context(), "t2", "unknown", "", "t2"); err != nil {
		t.Fatalf("DeleteTemplates: %v", err)
	}
	if got := templateIDs(t, s); !slices.Equal(got, []string{"t1", "t3"}) {
		t.Errorf("ids after delete = %q, want [t1 t3]", got)
	}
}

func testTemplateSweep(t *testing.T, s crm.TemplateStore) {
	t0 := time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)
	ts := SampleTemplates()
	ts[0].SyncedAt = t0.Add(-time.Microsecond)
	ts[1].SyncedAt = t0
	ts[2].SyncedAt = time.Time{}
	putTemplates(t, s, ts...)
	n, err := s.DeleteTemplatesSyncedBefore(t.Context(), t0)
	if err != nil || n != 2 {
		t.Fatalf("DeleteTemplatesSyncedBefore = %d, %v; want 2", n, err)
	}
	if got := templateIDs(t, s); !slices.Equal(got, []string{"t2"}) {
		t.Errorf("ids left = %q, want [t2]", got)
	}
}

func testTemplateSyncState(t *testing.T, s crm.TemplateStore) {
	ctx := t.Context()
	if st, err := s.TemplateSyncState(ctx); err != nil || st.After != "" || st.Done || !st.RunStart.IsZero() {
		t.Fatalf("TemplateSyncState of an empty store = %+v, %v", st, err)
	}
	want := crm.SyncState{RunStart: time.Date(2026, 12, 1, 6, 0, 0, 123456000, time.UTC), After: "id:7", Done: true, Kept: 3}
	if err := s.PutTemplateSyncState(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.TemplateSyncState(ctx); err != nil || !got.RunStart.Equal(want.RunStart) || got.After != want.After || !got.Done || got.Kept != want.Kept {
		t.Errorf("TemplateSyncState = %+v, %v; want %+v", got, err, want)
	}
	if got := templateIDs(t, s); len(got) != 0 {
		t.Errorf("the checkpoint shows as templates %q", got)
	}
}

func testTemplateInvalidID(t *testing.T, s crm.TemplateStore) {
	if err := s.PutTemplates(t.Context(), crm.Template{ID: "ok"}, crm.Template{ID: ""}); err == nil {
		t.Error("PutTemplates with an empty id: no error")
	}
	if got := templateIDs(t, s); len(got) != 0 {
		t.Errorf("a refused batch stored %q", got)
	}
}
