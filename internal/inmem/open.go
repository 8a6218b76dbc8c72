package inmem

// Stores are the in-memory stores of one Expert Hub instance, as
// fsstore.Open returns Firestore's: nothing outlives the process, and
// nothing is shared with another instance.
type Stores struct {
	Store       *Store
	Templates   *Templates
	Ledger      *Ledger
	Assignments *Assignments
	Line        *Line
	// Handoffs keeps the contact center's handoff bindings and notes.
	Handoffs *Handoffs
}

// Open returns empty stores.
func Open() *Stores {
	return &Stores{
		Store:       NewStore(),
		Templates:   NewTemplates(),
		Ledger:      NewLedger(),
		Assignments: NewAssignments(),
		Line:        NewLine(),
		Handoffs:    NewHandoffs(),
	}
}
