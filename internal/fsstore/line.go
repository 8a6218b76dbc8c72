package fsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/experthub/experthub/internal/waitline"
)

// LineCollection holds the waiting line, one document per conversation
// (id = ConversationSid). Its expire_at has a TTL policy (indexes.json):
// Firestore deletes an entry waitline.Retention after it joined.
const LineCollection = "experthub_line"

// Line is the waiting line (waitline.Line) in Firestore: it survives
// instance restarts and is shared by every instance. A change to one
// entry is a transaction on its document. Listing reads the whole
// collection in joined_at order (a single-field index, no composite one):
// a line is tens of customers, not thousands.
type Line struct {
	client *firestore.Client
	col    *firestore.CollectionRef
}

// NewLine returns the line in client's database.
func NewLine(client *firestore.Client) *Line {
	return &Line{client: client, col: client.Collection(LineCollection)}
}

type lineDoc struct {
	Worker   string    `firestore:"worker"`
	Area     string    `firestore:"area"`
	Message  string    `firestore:"message"`
	JoinedAt time.Time `firestore:"joined_at"`
	Told     bool      `firestore:"told"`
	ExpireAt time.Time `firestore:"expire_at"`
}

func (d lineDoc) entry(conv string) waitline.Entry {
	return waitline.Entry{
		Conversation: conv,
		Target:       waitline.Target{Worker: d.Worker, Area: d.Area},
		Message:      d.Message,
		JoinedAt:     d.JoinedAt,
		Told:         d.Told,
	}
}

func docOf(e waitline.Entry) lineDoc {
	return lineDoc{
		Worker: e.Target.Worker, Area: e.Target.Area, Message: e.Message,
		JoinedAt: e.JoinedAt, Told: e.Told, ExpireAt: e.JoinedAt.Add(waitline.Retention),
	}
}

func readEntry(snap *firestore.DocumentSnapshot, err error, conv string) (waitline.Entry, bool, error) {
	if status.Code(err) == codes.NotFound {
		return waitline.Entry{}, false, nil
	}
	if err != nil {
		return waitline.Entry{}, false, err
	}
	var d lineDoc
	if err := snap.DataTo(&d); err != nil {
		return waitline.Entry{}, false, fmt.Errorf("line entry %s: %w", conv, err)
	}
	return d.entry(conv), true, nil
}

// update applies fn to the conversation's entry: fn returns the entry to
// write (nil: write nothing) or asks to delete it. The write is guarded
// by a precondition (document still missing, or unchanged since read)
// and retried when another writer changed it first: Firestore
// transactions would serialise writers on a lock, which the emulator
// and a burst of writes handle badly.
func (l *Line) update(ctx context.Context, conv string, fn func(cur waitline.Entry, ok bool) (write *waitline.Entry, del bool)) error {
	ref, err := docRef(l.col, conv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, lineTimeout)
	defer cancel()
	return retryLostRace(ctx, 1, func() (bool, error) {
		snap, err := ref.Get(ctx)
		cur, ok, err := readEntry(snap, err, conv)
		if err != nil {
			return true, err
		}
		write, del := fn(cur, ok)
		switch {
		case del && ok:
			_, err = ref.Delete(ctx, firestore.LastUpdateTime(snap.UpdateTime))
		case write != nil && ok:
			d := docOf(*write)
			_, err = ref.Update(ctx, []firestore.Update{
				{Path: "worker", Value: d.Worker}, {Path: "area", Value: d.Area},
				{Path: "message", Value: d.Message}, {Path: "joined_at", Value: d.JoinedAt},
				{Path: "told", Value: d.Told}, {Path: "expire_at", Value: d.ExpireAt},
			}, firestore.LastUpdateTime(snap.UpdateTime))
		case write != nil:
			_, err = ref.Create(ctx, docOf(*write))
		default:
			return true, nil
		}
		return false, err
	})
}

// Join puts e in line (see waitline.Line).
func (l *Line) Join(ctx context.Context, e waitline.Entry) (waitline.Entry, error) {
	// Firestore keeps microseconds: what Join returns is what a later
	// read returns, so Take and MarkTold compare equal.
	e.JoinedAt = e.JoinedAt.Truncate(time.Microsecond)
	var out waitline.Entry
	err := l.update(ctx, e.Conversation, func(cur waitline.Entry, ok bool) (*waitline.Entry, bool) {
		next, write := waitline.Apply(e, cur, ok)
		out = next
		if write {
			return &next, false
		}
		return nil, false
	})
	if err != nil {
		return waitline.Entry{}, fmt.Errorf("line join %s: %w", e.Conversation, err)
	}
	return out, nil
}

// Position returns the conversation's place (see waitline.Line).
func (l *Line) Position(ctx context.Context, conversation string) (waitline.Entry, int, error) {
	ref, err := docRef(l.col, conversation)
	if err != nil {
		return waitline.Entry{}, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, lineTimeout)
	defer cancel()
	snap, err := ref.Get(ctx)
	e, ok, err := readEntry(snap, err, conversation)
	if err != nil {
		return waitline.Entry{}, 0, fmt.Errorf("line position %s: %w", conversation, err)
	}
	if !ok {
		return waitline.Entry{}, 0, waitline.ErrNotFound
	}
	// Only the entries ahead matter: those that joined no later.
	ahead, err := l.list(ctx, l.col.Where("joined_at", "<=", e.JoinedAt).OrderBy("joined_at", firestore.Asc), 0)
	if err != nil {
		return waitline.Entry{}, 0, fmt.Errorf("line position %s: %w", conversation, err)
	}
	return e, waitline.Position(e, ahead), nil
}

// Waiting returns the line in arrival order.
func (l *Line) Waiting(ctx context.Context, limit int) ([]waitline.Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, lineTimeout)
	defer cancel()
	out, err := l.list(ctx, l.col.OrderBy("joined_at", firestore.Asc), limit)
	if err != nil {
		return nil, fmt.Errorf("line: %w", err)
	}
	return out, nil
}

// Next returns the first entry waiting for target.
func (l *Line) Next(ctx context.Context, target waitline.Target) (waitline.Entry, error) {
	all, err := l.Waiting(ctx, 0)
	if err != nil {
		return waitline.Entry{}, err
	}
	for _, e := range all {
		if e.Target.Key() == target.Key() {
			return e, nil
		}
	}
	return waitline.Entry{}, waitline.ErrNotFound
}

// Take removes e's place if it still stands.
func (l *Line) Take(ctx context.Context, e waitline.Entry) (bool, error) {
	took := false
	err := l.update(ctx, e.Conversation, func(cur waitline.Entry, ok bool) (*waitline.Entry, bool) {
		took = ok && waitline.Same(cur, e)
		return nil, took
	})
	if err != nil {
		return false, fmt.Errorf("line take %s: %w", e.Conversation, err)
	}
	return took, nil
}

// Remove takes the conversation out of the line.
func (l *Line) Remove(ctx context.Context, conversation string) error {
	ref, err := docRef(l.col, conversation)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, lineTimeout)
	defer cancel()
	if _, err := ref.Delete(ctx); err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("line remove %s: %w", conversation, err)
	}
	return nil
}

// Overdue returns the entries joined before before and not told yet.
func (l *Line) Overdue(ctx context.Context, before time.Time) ([]waitline.Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, lineTimeout)
	defer cancel()
	all, err := l.list(ctx, l.col.Where("joined_at", "<", before).OrderBy("joined_at", firestore.Asc), 0)
	if err != nil {
		return nil, fmt.Errorf("line overdue: %w", err)
	}
	var out []waitline.Entry
	for _, e := range all {
		if !e.Told {
			out = append(out, e)
		}
	}
	return out, nil
}

// MarkTold records the overdue notice of e's place.
func (l *Line) MarkTold(ctx context.Context, e waitline.Entry) error {
	err := l.update(ctx, e.Conversation, func(cur waitline.Entry, ok bool) (*waitline.Entry, bool) {
		if !ok || !waitline.Same(cur, e) || cur.Told {
			return nil, false
		}
		cur.Told = true
		return &cur, false
	})
	if err != nil {
		return fmt.Errorf("line told %s: %w", e.Conversation, err)
	}
	return nil
}

// list reads q's entries in arrival order, at most limit (0: all).
func (l *Line) list(ctx context.Context, q firestore.Query, limit int) ([]waitline.Entry, error) {
	it := q.Documents(ctx)
	defer it.Stop()
	var out []waitline.Entry
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, err
		}
		var d lineDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("line entry %s: %w", snap.Ref.ID, err)
		}
		out = append(out, d.entry(snap.Ref.ID))
	}
	// joined_at ties go by conversation, as in every store.
	waitline.Order(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// lineTimeout bounds one line operation. A turn's own deadline is
// shorter and still bounds it there; the drain, run by the queue, can
// afford to wait for a busy database.
const lineTimeout = 5 * time.Second
