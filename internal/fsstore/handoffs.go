package fsstore

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/experthub/experthub/internal/handoff"
)

// The contact-center handoff's collections. Their expire_at has a TTL
// policy (indexes.json).
const (
	// HandoffsCollection binds each handoff id to its customer (id =
	// handoff_id): expire_at is handoff.BindingRetention after the bind.
	HandoffsCollection = "experthub_handoffs"
	// NotesCollection holds the contact center's notes on a customer (id
	// = customer_id): expire_at is handoff.NotesRetention after the
	// latest.
	NotesCollection = "experthub_notes"
)

// Handoffs keeps the handoff bindings and notes, and the conversations
// handed to Flex (handoff.Bindings, handoff.Notes, handoff.OpenHandoffs),
// in Firestore, shared by every instance. A bind is one create-if-absent;
// a note, or a change to a handoff to Flex, is a read-modify-write of one
// document guarded by a precondition, retried when another writer was
// first.
type Handoffs struct {
	bindings *firestore.CollectionRef
	notes    *firestore.CollectionRef
	toFlex   *firestore.CollectionRef
}

// NewHandoffs returns the handoff stores in client's database.
func NewHandoffs(client *firestore.Client) *Handoffs {
	return &Handoffs{bindings: client.Collection(HandoffsCollection), notes: client.Collection(NotesCollection),
		toFlex: client.Collection(ToFlexCollection)}
}

type bindingDoc struct {
	Customer string    `firestore:"customer_id"`
	Address  string    `firestore:"address"`
	Worker   string    `firestore:"worker"`
	Area     string    `firestore:"area"`
	At       time.Time `firestore:"at"`
	ExpireAt time.Time `firestore:"expire_at"`
}

func (d bindingDoc) binding(id string) handoff.Binding {
	return handoff.Binding{ID: id, Customer: d.Customer, Address: d.Address, Worker: d.Worker, Area: d.Area, At: d.At}
}

// handoffTimeout bounds one operation: the handoff's caller waits on it,
// and retries with the same id when it fails.
const handoffTimeout = 5 * time.Second

func docRef(col *firestore.CollectionRef, id string) (*firestore.DocumentRef, error) {
	doc, ok := DocID(id)
	if !ok {
		return nil, fmt.Errorf("firestore: %q cannot be a document id", id)
	}
	return col.Doc(doc), nil
}

// Binding returns the binding of id (see handoff.Bindings).
func (s *Handoffs) Binding(ctx context.Context, id string) (handoff.Binding, error) {
	ref, err := docRef(s.bindings, id)
	if err != nil {
		return handoff.Binding{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, handoffTimeout)
	defer cancel()
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return handoff.Binding{}, handoff.ErrNotFound
	}
	if err != nil {
		return handoff.Binding{}, fmt.Errorf("handoff binding %s: %w", id, err)
	}
	var d bindingDoc
	if err := snap.DataTo(&d); err != nil {
		return handoff.Binding{}, fmt.Errorf("handoff binding %s: %w", id, err)
	}
	return d.binding(id), nil
}

// Bind binds b.ID unless it is bound (see handoff.Bindings): Firestore
// creates a document only if none has its id, so of concurrent binds on
// any instances exactly one succeeds.
func (s *Handoffs) Bind(ctx context.Context, b handoff.Binding) (handoff.Binding, error) {
	ref, err := docRef(s.bindings, b.ID)
	if err != nil {
		return handoff.Binding{}, err
	}
	// Firestore keeps microseconds: what Bind returns is what a later
	// read returns.
	b.At = b.At.Truncate(time.Microsecond)
	cctx, cancel := context.WithTimeout(ctx, handoffTimeout)
	defer cancel()
	_, err = ref.Create(cctx, bindingDoc{
		Customer: b.Customer, Address: b.Address, Worker: b.Worker, Area: b.Area,
		At: b.At, ExpireAt: b.At.Add(handoff.BindingRetention),
	})
	switch {
	case err == nil:
		return b, nil
	case status.Code(err) == codes.AlreadyExists:
		return s.Binding(ctx, b.ID)
	}
	return handoff.Binding{}, fmt.Errorf("handoff bind %s: %w", b.ID, err)
}

type notesDoc struct {
	Customer string    `firestore:"customer_id"`
	Notes    []noteDoc `firestore:"notes"`
	ExpireAt time.Time `firestore:"expire_at"`
}

type noteDoc struct {
	HandoffID string    `firestore:"handoff_id"`
	At        time.Time `firestore:"at"`
	Text      string    `firestore:"text"`
}

func readNotes(snap *firestore.DocumentSnapshot) ([]handoff.Note, error) {
	var d notesDoc
	if err := snap.DataTo(&d); err != nil {
		return nil, fmt.Errorf("notes %s: %w", snap.Ref.ID, err)
	}
	out := make([]handoff.Note, len(d.Notes))
	for i, n := range d.Notes {
		out[i] = handoff.Note{HandoffID: n.HandoffID, At: n.At, Text: n.Text}
	}
	return out, nil
}

// Notes returns the customer's notes (see handoff.Notes).
func (s *Handoffs) Notes(ctx context.Context, customer string) ([]handoff.Note, error) {
	ref, err := docRef(s.notes, customer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, handoffTimeout)
	defer cancel()
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("notes of %s: %w", customer, err)
	}
	return readNotes(snap)
}

// AddNote adds n to the customer's notes (see handoff.Add).
func (s *Handoffs) AddNote(ctx context.Context, customer string, n handoff.Note) error {
	ref, err := docRef(s.notes, customer)
	if err != nil {
		return err
	}
	n.At = n.At.Truncate(time.Microsecond)
	ctx, cancel := context.WithTimeout(ctx, handoffTimeout)
	defer cancel()
	err = retryLostRace(ctx, 0, func() (bool, error) {
		return false, s.addNote(ctx, ref, customer, n)
	})
	if err != nil {
		return fmt.Errorf("note on %s: %w", customer, err)
	}
	return nil
}

// addNote is one read-modify-write of the customer's notes.
func (s *Handoffs) addNote(ctx context.Context, ref *firestore.DocumentRef, customer string, n handoff.Note) error {
	snap, err := ref.Get(ctx)
	exists := err == nil
	if err != nil && status.Code(err) != codes.NotFound {
		return err
	}
	var cur []handoff.Note
	if exists {
		if cur, err = readNotes(snap); err != nil {
			return err
		}
	}
	next, changed := handoff.Add(cur, n)
	if !changed {
		return nil
	}
	d := notesDoc{Customer: customer, ExpireAt: handoff.Expiry(next)}
	for _, o := range next {
		d.Notes = append(d.Notes, noteDoc{HandoffID: o.HandoffID, At: o.At, Text: o.Text})
	}
	if !exists {
		_, err = ref.Create(ctx, d)
		return err
	}
	_, err = ref.Update(ctx, []firestore.Update{
		{Path: "customer_id", Value: d.Customer}, {Path: "notes", Value: d.Notes}, {Path: "expire_at", Value: d.ExpireAt},
	}, firestore.LastUpdateTime(snap.UpdateTime))
	return err
}
