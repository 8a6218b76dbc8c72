package fsstore

import (
	"context"

	"cloud.google.com/go/firestore"
)

// Stores are the stores of one Expert Hub instance, in one Firestore
// database: Open makes them, Close releases their client.
type Stores struct {
	Store       *Store
	Templates   *TemplateStore
	Ledger      *Ledger
	Assignments *Assignments
	Line        *Line
	// Handoffs keeps the contact center's handoff bindings and notes.
	Handoffs *Handoffs

	client *firestore.Client
}

// Open returns the stores in project's database (see NewClient), the
// customers in collection (see NewStore). It makes no network call: the
// client connects on first use.
func Open(ctx context.Context, project, database, collection string) (*Stores, error) {
	c, err := NewClient(ctx, project, database)
	if err != nil {
		return nil, err
	}
	return &Stores{
		Store:       NewStore(c, collection),
		Templates:   NewTemplateStore(c, collection),
		Ledger:      NewLedger(c),
		Assignments: NewAssignments(c),
		Line:        NewLine(c),
		Handoffs:    NewHandoffs(c),
		client:      c,
	}, nil
}

// Close releases the client; the stores may not be used after.
func (s *Stores) Close() error { return s.client.Close() }
