package fsstore

import (
	"testing"
	"time"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/handoff"
)

// TestOpen: the stores Open returns share one database, which another
// instance's Open reaches too, the customers in the collection asked
// for; after Close they are unusable.
func TestOpen(t *testing.T) {
	ctx := t.Context()
	project := firestoretest.Project(t)
	a, err := Open(ctx, project, "", "clients")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, project, "", "clients")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Store.Upsert(ctx, crm.Customer{ID: "7", DisplayName: "Seven"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := a.Handoffs.Bind(ctx, handoff.Binding{ID: "h1", Customer: "7", Address: "+33679500007", At: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Ledger.Begin(ctx, "turn-1", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if c, err := b.Store.Get(ctx, "7"); err != nil || c.DisplayName != "Seven" {
		t.Errorf("the other instance's Get(7) = %+v, %v", c, err)
	}
	if h, err := b.Handoffs.Binding(ctx, "h1"); err != nil || h.Customer != "7" {
		t.Errorf("the other instance's Binding(h1) = %+v, %v", h, err)
	}
	if snap, err := b.client.Collection("clients").Doc("7").Get(ctx); err != nil || snap.Data()["customer_id"] != "7" {
		t.Errorf("customer 7 is not in the collection asked for: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.Get(ctx, "7"); err == nil {
		t.Error("Get after Close succeeded")
	}
}
